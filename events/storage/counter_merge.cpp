#include "events/storage/counter_merge.h"

#include <rocksdb/merge_operator.h>

#include "events/storage/key.h"

namespace caseline::storage {

namespace {

class be64_add final : public rocksdb::AssociativeMergeOperator {
 public:
  // A value or operand that is not 8 bytes fails the merge: the read or compaction that met it
  // returns Corruption, never a made-up sum.
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    std::uint64_t sum = 0;
    if (existing != nullptr) {
      const auto e = parse_be64_value(existing->ToStringView());
      if (!e) return false;
      sum = *e;
    }
    const auto v = parse_be64_value(value.ToStringView());
    if (!v) return false;
    // Unsigned addition wraps: the two's-complement sum of the signed values.
    *new_value = be64_value(sum + *v);
    return true;
  }
  const char* Name() const override { return "caseline.be64_add"; }
};

}  // namespace

const std::shared_ptr<rocksdb::MergeOperator>& be64_add_operator() {
  static const std::shared_ptr<rocksdb::MergeOperator> op = std::make_shared<be64_add>();
  return op;
}

std::string be64_delta(std::int64_t delta) { return be64_value(static_cast<std::uint64_t>(delta)); }

}  // namespace caseline::storage
