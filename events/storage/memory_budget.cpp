#include "events/storage/memory_budget.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

namespace caseline::storage {

memory_budget::memory_budget(std::size_t cache_bytes, std::size_t write_buffer_bytes)
    : cache_bytes_(cache_bytes),
      cache_(rocksdb::NewLRUCache(cache_bytes)),
      write_buffers_(std::make_shared<rocksdb::WriteBufferManager>(write_buffer_bytes, cache_)) {}

void memory_budget::apply(rocksdb::DBOptions& db) const {
  db.write_buffer_manager = write_buffers_;
  db.db_write_buffer_size = 0;  // the manager's limit holds
}

void memory_budget::apply(rocksdb::ColumnFamilyOptions& family, std::size_t write_buffer,
                          filter f) const {
  family.write_buffer_size = write_buffer;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache_;
  // Index and filter blocks count against the budget too, instead of growing with the database
  // beside it; those of level 0 (the files a read always looks at) stay pinned.
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  // Partitioned: a table's index and filter are cut into blocks of about `metadata_block_size`
  // under a small top-level index (pinned), so that a read loads the one partition it needs.
  // Whole, the index and filter of a compacted table of some 10^6 keys are a few MiB each: more
  // than a shard of the cache (64 shards of 3 MiB at 192 MiB), so never kept, and read from the
  // file and decompressed at every read that needs them (2 ms a queue page at 10^6 cases).
  t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  t.metadata_block_size = 4096;
  t.pin_top_level_index_and_filter = true;
  if (f != filter::none) {
    t.partition_filters = true;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Prefixes alone: no key of the family is read whole.
    t.whole_key_filtering = f == filter::whole_keys;
    // The memtables too: a read that misses would otherwise walk a skip list of up to
    // `write_buffer` bytes of keys before it looks at the files (2 % of it, in its arena).
    family.memtable_prefix_bloom_size_ratio = 0.02;
    family.memtable_whole_key_filtering = f == filter::whole_keys;
  }
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
}

}  // namespace caseline::storage
