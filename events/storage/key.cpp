#include "events/storage/key.h"

#include "events/storage/big_endian.h"

namespace caseline::storage {

key_builder& key_builder::be32(std::uint32_t v) {
  put_be32(key_, v);
  return *this;
}

key_builder& key_builder::be64(std::uint64_t v) {
  put_be64(key_, v);
  return *this;
}

bool key_parser::literal(std::string_view s) {
  if (!rest_.starts_with(s)) return false;
  rest_.remove_prefix(s.size());
  return true;
}

std::optional<std::string_view> key_parser::field(char end) {
  const auto at = rest_.find(end);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view out = rest_.substr(0, at);
  rest_.remove_prefix(at + 1);
  return out;
}

std::optional<std::uint32_t> key_parser::be32() {
  if (rest_.size() < 4) return std::nullopt;
  const std::uint32_t v = get_be32(rest_);
  rest_.remove_prefix(4);
  return v;
}

std::optional<std::uint64_t> key_parser::be64() {
  if (rest_.size() < 8) return std::nullopt;
  const std::uint64_t v = get_be64(rest_);
  rest_.remove_prefix(8);
  return v;
}

std::string_view key_parser::rest() {
  const std::string_view out = rest_;
  rest_ = {};
  return out;
}

std::string be64_value(std::uint64_t v) {
  std::string out;
  put_be64(out, v);
  return out;
}

std::optional<std::uint64_t> parse_be64_value(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  return get_be64(bytes);
}

}  // namespace caseline::storage
