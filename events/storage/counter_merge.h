#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rocksdb {
class MergeOperator;
}  // namespace rocksdb

namespace caseline::storage {

// The merge operator of counters. A counter is stored in one of two shapes, told apart by length:
//   - a count: be64 two's complement, exactly 8 bytes (be64_value);
//   - cells: a sparse vector of counts, one (u8 cell, be64 count) pair of 9 bytes for each cell
//     that is not zero, in increasing cell order (counter_cells_value), so a length that is a
//     multiple of 9; several figures of one key (a day's figures of one center, domain and
//     category) are one key and one merge instead of one each.
// A merge operand has the shape of its counter and holds a difference; merging adds, cell by
// cell (associative and commutative), so a writer adds to a counter without reading it first.
// The stored value after any merges is the bytes of the sum, exactly as a Put of that sum would
// have written them (cells whose sum is zero left out). Shapes that differ, or bytes of neither
// shape, fail the merge: the read or compaction that meets them returns Corruption. Named
// "caseline.counter_add"; every open of a database that holds such counters (the projection
// store, its secondary instances) sets it. Stateless and thread-safe; one shared instance.
const std::shared_ptr<rocksdb::MergeOperator>& counter_add_operator();

// A count's merge operand: `delta` as be64 two's complement (the same bytes as be64_value).
std::string be64_delta(std::int64_t delta);

// The most cells a counter of cells may have: the cell is one byte.
inline constexpr std::size_t max_counter_cells = 256;

// Cells as stored: cell i holds cells[i]; cells that are zero are left out. An operand of
// differences has the same shape.
std::string counter_cells_value(std::span<const std::int64_t> cells);

// Adds stored cells to `into` (cell i to into[i]). False, and `into` unspecified, when the bytes
// are not cells in increasing order, or name a cell past into.size().
bool add_counter_cells(std::string_view bytes, std::span<std::int64_t> into);

// What a stored counter of either shape holds. A counter taken back to zero by merges of
// differences stays a key, its value the bytes of zero (no cells, or a count of 0): its readers
// treat it as no counter at all.
enum class counter_value {
  zero,
  positive,   // no cell below zero, one at least above
  negative,   // a cell below zero: taken from more than was ever added
  malformed,  // bytes of neither shape
};
counter_value classify_counter(std::string_view bytes);

}  // namespace caseline::storage
