#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caseline::storage {

// Keys are built from parts, in order, and read back with the same parts in the same order. The
// layout comments beside each key codec use this notation:
//   "text"      literal bytes (a tag)
//   field\0     a text ended by a zero byte (or the separator written, e.g. field/), the text
//               holding none: keys then compare field by field, "a\0…" before "ab\0…"
//   be32, be64  big-endian unsigned integers: numeric order is byte order
//   rest        the bytes up to the end of the key
// A value type, no state beyond the bytes built so far.
class key_builder {
 public:
  key_builder() = default;

  key_builder& literal(std::string_view s) {
    key_ += s;
    return *this;
  }
  key_builder& field(std::string_view s, char end = '\0') {
    key_ += s;
    key_ += end;
    return *this;
  }
  key_builder& be32(std::uint32_t v);
  key_builder& be64(std::uint64_t v);

  const std::string& str() const& { return key_; }
  std::string str() && { return std::move(key_); }

 private:
  std::string key_;
};

// Reads a key part by part. Each read consumes what it returns; a key without that part fails
// (false or nullopt), and a parser that failed once is not used again. Views into the key: the
// key must outlive them.
class key_parser {
 public:
  explicit key_parser(std::string_view key) : rest_(key) {}

  // Consumes `s` when the key continues with it.
  bool literal(std::string_view s);
  // The text up to the next `end`, which is consumed too.
  std::optional<std::string_view> field(char end = '\0');
  std::optional<std::uint32_t> be32();
  std::optional<std::uint64_t> be64();
  // Everything left.
  std::string_view rest();
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// A counter stored as its value: be64, exactly 8 bytes.
std::string be64_value(std::uint64_t v);
std::optional<std::uint64_t> parse_be64_value(std::string_view bytes);

}  // namespace caseline::storage
