#include "projections/store_memory.h"

#include <memory>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

namespace caseline::projections {

namespace {
rocksdb::BlockBasedTableOptions table_options(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  // Index and filter blocks count against the budget too, instead of growing with the store
  // beside it; those of level 0 (the files a read always looks at) stay pinned.
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  return t;
}
}  // namespace

void apply_store_memory(const store_memory& m, rocksdb::DBOptions& db,
                        rocksdb::ColumnFamilyOptions& scanned,
                        rocksdb::ColumnFamilyOptions& point_reads) {
  auto cache = rocksdb::NewLRUCache(m.cache_bytes);
  db.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(m.write_buffer_bytes, cache);
  db.db_write_buffer_size = 0;  // the manager's limit holds
  for (auto* f : {&scanned, &point_reads}) f->write_buffer_size = m.family_write_buffer;
  scanned.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options(cache)));
  auto filtered = table_options(cache);
  filtered.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  point_reads.table_factory.reset(rocksdb::NewBlockBasedTableFactory(filtered));
  // The memtables too: a read that misses would otherwise walk a skip list of up to
  // family_write_buffer bytes of keys before it looks at the files (2 % of it, in its arena).
  point_reads.memtable_prefix_bloom_size_ratio = 0.02;
  point_reads.memtable_whole_key_filtering = true;
}

}  // namespace caseline::projections
