#include "events/storage/counter_merge.h"

#include <array>

#include <rocksdb/merge_operator.h>

#include "events/storage/big_endian.h"
#include "events/storage/key.h"

namespace caseline::storage {

namespace {

constexpr std::size_t cell_bytes = 9;  // u8 cell, be64 count

class counter_add final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    const std::string_view operand = value.ToStringView();
    if (operand.size() == 8) return add_counts(existing, operand, new_value);
    if (operand.size() % cell_bytes != 0) return false;
    if (existing != nullptr && existing->size() % cell_bytes != 0) return false;
    std::array<std::int64_t, max_counter_cells> sum{};
    if (existing != nullptr && !add_counter_cells(existing->ToStringView(), sum)) return false;
    if (!add_counter_cells(operand, sum)) return false;
    *new_value = counter_cells_value(sum);
    return true;
  }
  const char* Name() const override { return "caseline.counter_add"; }

 private:
  static bool add_counts(const rocksdb::Slice* existing, std::string_view operand,
                         std::string* new_value) {
    std::uint64_t sum = 0;
    if (existing != nullptr) {
      const auto e = parse_be64_value(existing->ToStringView());
      if (!e) return false;
      sum = *e;
    }
    const auto v = parse_be64_value(operand);
    if (!v) return false;
    // Unsigned addition wraps: the two's-complement sum of the signed values.
    *new_value = be64_value(sum + *v);
    return true;
  }
};

}  // namespace

const std::shared_ptr<rocksdb::MergeOperator>& counter_add_operator() {
  static const std::shared_ptr<rocksdb::MergeOperator> op = std::make_shared<counter_add>();
  return op;
}

std::string be64_delta(std::int64_t delta) { return be64_value(static_cast<std::uint64_t>(delta)); }

std::string counter_cells_value(std::span<const std::int64_t> cells) {
  std::string out;
  for (std::size_t i = 0; i < cells.size() && i < max_counter_cells; ++i) {
    if (cells[i] == 0) continue;
    out += static_cast<char>(i);
    put_be64(out, static_cast<std::uint64_t>(cells[i]));
  }
  return out;
}

bool add_counter_cells(std::string_view bytes, std::span<std::int64_t> into) {
  if (bytes.size() % cell_bytes != 0) return false;
  int previous = -1;
  for (std::size_t at = 0; at < bytes.size(); at += cell_bytes) {
    const int cell = static_cast<unsigned char>(bytes[at]);
    if (cell <= previous || static_cast<std::size_t>(cell) >= into.size()) return false;
    previous = cell;
    // Unsigned addition wraps: the two's-complement sum of the signed values.
    into[static_cast<std::size_t>(cell)] =
        static_cast<std::int64_t>(static_cast<std::uint64_t>(into[static_cast<std::size_t>(cell)]) +
                                  get_be64(bytes.substr(at + 1)));
  }
  return true;
}

counter_value classify_counter(std::string_view bytes) {
  const auto of = [](auto cells) {
    bool any = false;
    for (const std::int64_t n : cells) {
      if (n < 0) return counter_value::negative;
      any = any || n > 0;
    }
    return any ? counter_value::positive : counter_value::zero;
  };
  if (bytes.size() == 8) {
    const auto n = parse_be64_value(bytes);
    if (!n) return counter_value::malformed;
    return of(std::array<std::int64_t, 1>{static_cast<std::int64_t>(*n)});
  }
  std::array<std::int64_t, max_counter_cells> cells{};
  if (!add_counter_cells(bytes, cells)) return counter_value::malformed;
  return of(cells);
}

}  // namespace caseline::storage
