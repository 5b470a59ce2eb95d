#pragma once

// The memory the projection store's RocksDB may hold, and the options that bound it. Kept apart
// from store.h so that the RocksDB option headers stay out of the widely included store.h.

#include <cstddef>

#include "events/storage/memory_budget.h"

namespace rocksdb {
struct DBOptions;
struct ColumnFamilyOptions;
}  // namespace rocksdb

namespace caseline::projections {

// One budget for the whole store: a single LRU block cache that every column family shares (data
// blocks, index and filter blocks), with the memtables of every family charged to the same cache
// through one WriteBufferManager. So what RocksDB holds for the store is about `cache_bytes`
// whatever the number of families or the size of the store (the block cache is not strict: a
// read may pin a block over it for a moment); the table readers' own memory is small beside it,
// since index and filter blocks live in the cache.
struct store_memory {
  std::size_t cache_bytes;          // the shared block cache, memtables included
  std::size_t write_buffer_bytes;   // memtables of all families together, within cache_bytes
  std::size_t family_write_buffer;  // one family's memtable before it is flushed
};

// A server's store (store::open_mode::normal): 192 MiB, of which the memtables at most 64 MiB.
inline constexpr store_memory normal_store_memory{std::size_t{192} << 20, std::size_t{64} << 20,
                                                  std::size_t{32} << 20};
// A rebuild into a fresh store (store::open_mode::bulk): large memtables, so that a replay writes
// few, large files (and atomic checkpoints, store.h) — 768 MiB, of which the memtables 512 MiB.
inline constexpr store_memory bulk_store_memory{std::size_t{768} << 20, std::size_t{512} << 20,
                                                std::size_t{256} << 20};

// The options of the store's families by how they are read.
struct family_options_by_reads {
  rocksdb::ColumnFamilyOptions& scanned;
  // Read a key at a time: a Bloom filter of whole keys, so that a read of a row that is not
  // there (every new case, in a rebuild) costs no search of the store's files.
  rocksdb::ColumnFamilyOptions& point_reads;
  // Read a prefix at a time (its `prefix_extractor` set by the caller): a Bloom filter of the
  // prefixes, so that a scan of one searches only the files that hold it.
  rocksdb::ColumnFamilyOptions& prefix_reads;
};

// Sets the options of the store's database and of its families to share one cache and one write
// buffer manager sized by `m`.
void apply_store_memory(const store_memory& m, rocksdb::DBOptions& db,
                        const family_options_by_reads& families);
// The same within a budget shared with the process's other databases (a server's: serve.h,
// store_options::memory_mib): the store's families flush at `family_write_buffer` bytes.
void apply_store_memory(const storage::memory_budget& budget, std::size_t family_write_buffer,
                        rocksdb::DBOptions& db, const family_options_by_reads& families);

}  // namespace caseline::projections
