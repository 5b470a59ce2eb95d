#pragma once

// Reordering a large WriteBatch by column family and key before it is written, so that each
// memtable receives its keys in ascending order.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "events/storage/fwd.h"

namespace rocksdb {
class WriteBatch;
}  // namespace rocksdb

namespace caseline::storage {

// A memtable is a skip list. When the keys of a write arrive in ascending order, each insert
// starts from where the last one was made (the list keeps that position), walking a few nodes.
// Scattered keys (a rebuild's batch of thousands of cases, report counters of many days and
// centers) make each insert search the list from its top instead, a cache miss per level: that
// search was the largest single cost of a rebuild. order() rewrites a batch with its entries sorted
// by column family and key. Entries of the same key keep their relative order, so the batch stores
// exactly what it stored before: RocksDB applies a batch's entries in order, and only the order of
// entries of the same key changes the result.
//
// Lifecycle: one per writer; its buffers are reused from one batch to the next. Not
// thread-safe.
class key_ordered_batch {
 public:
  key_ordered_batch();
  ~key_ordered_batch();
  key_ordered_batch(const key_ordered_batch&) = delete;
  key_ordered_batch& operator=(const key_ordered_batch&) = delete;

  // Reorders `batch` in place. `families` are the handles of every column family the batch may
  // name. Returns false, leaving `batch` as it was, when the batch holds an entry of a kind that
  // is not reordered (anything but Put, Delete and Merge: ranges, savepoints, logged data) or
  // names a family not in `families`.
  bool order(rocksdb::WriteBatch& batch, std::span<rocksdb::ColumnFamilyHandle* const> families);

  struct entry;  // one Put, Delete or Merge of the batch (ordered_batch.cpp)

 private:
  std::vector<entry> entries_;
  std::unique_ptr<rocksdb::WriteBatch> spare_;  // the previous batch's buffer, reused
};

}  // namespace caseline::storage
