#pragma once

// The read options of an iterator over a whole family. Kept apart from scan.h, which names no
// RocksDB header.

#include <rocksdb/options.h>

namespace caseline::storage {

// An iterator that walks its family in key order across all keys, also in a family with a
// prefix extractor (the projections' case_events), where an iterator in prefix mode (RocksDB's
// default there) may skip the tables whose prefix filter rules out the key it seeks and is
// defined only within that key's prefix.
inline rocksdb::ReadOptions in_key_order() {
  rocksdb::ReadOptions o;
  o.total_order_seek = true;
  return o;
}

}  // namespace caseline::storage
