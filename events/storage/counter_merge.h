#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace rocksdb {
class MergeOperator;
}  // namespace rocksdb

namespace caseline::storage {

// The merge operator of counters stored as be64 two's-complement integers (be64_value): a merge
// operand is a be64 difference, and merging adds (associative and commutative), so a writer adds
// to a counter without reading it first. The stored value after any merges is the bytes of the
// sum, exactly as a Put of that sum would have written it. Named "caseline.be64_add"; every open
// of a database that holds such counters (the projection store, its secondary instances) sets it.
// Stateless and thread-safe; one shared instance.
const std::shared_ptr<rocksdb::MergeOperator>& be64_add_operator();

// A merge operand: `delta` as be64 two's complement (the same bytes as be64_value).
std::string be64_delta(std::int64_t delta);

}  // namespace caseline::storage
