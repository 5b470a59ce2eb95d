#include "projections/store_memory.h"

#include <rocksdb/options.h>

namespace caseline::projections {

void apply_store_memory(const storage::memory_budget& budget, std::size_t family_write_buffer,
                        rocksdb::DBOptions& db, rocksdb::ColumnFamilyOptions& scanned,
                        rocksdb::ColumnFamilyOptions& point_reads) {
  budget.apply(db);
  budget.apply(scanned, family_write_buffer, false);
  budget.apply(point_reads, family_write_buffer, true);
}

void apply_store_memory(const store_memory& m, rocksdb::DBOptions& db,
                        rocksdb::ColumnFamilyOptions& scanned,
                        rocksdb::ColumnFamilyOptions& point_reads) {
  apply_store_memory(storage::memory_budget(m.cache_bytes, m.write_buffer_bytes),
                     m.family_write_buffer, db, scanned, point_reads);
}

}  // namespace caseline::projections
