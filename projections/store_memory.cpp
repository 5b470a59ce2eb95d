#include "projections/store_memory.h"

#include <rocksdb/options.h>

namespace caseline::projections {

void apply_store_memory(const storage::memory_budget& budget, std::size_t family_write_buffer,
                        rocksdb::DBOptions& db, const family_options_by_reads& families) {
  using filter = storage::memory_budget::filter;
  budget.apply(db);
  budget.apply(families.scanned, family_write_buffer, filter::none);
  budget.apply(families.point_reads, family_write_buffer, filter::whole_keys);
  budget.apply(families.prefix_reads, family_write_buffer, filter::prefixes);
}

void apply_store_memory(const store_memory& m, rocksdb::DBOptions& db,
                        const family_options_by_reads& families) {
  apply_store_memory(storage::memory_budget(m.cache_bytes, m.write_buffer_bytes),
                     m.family_write_buffer, db, families);
}

}  // namespace caseline::projections
