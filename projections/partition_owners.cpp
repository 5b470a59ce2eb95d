#include "projections/partition_owners.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "events/errc.h"
#include "events/storage/scan.h"
#include "projections/row_keys.h"

namespace caseline::projections {

partition_owners::partition_owners(store& s) : store_(s) {
  auto loaded = storage::scan(
      store_.db(), store_.cf(family::counters),
      {std::string(keys::partition_owner::prefix), {}, {}}, "read partition owners",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        const auto k = keys::partition_owner::decode(key);
        if (!k) return make_error(events::errc::corrupt_record, "stored partition owner key");
        auto claim = events::decode_partition_claim(value);
        if (!claim) return claim.error();
        owners_.insert_or_assign(k->partition, std::move(claim).value());
        return storage::scan_step::next;
      });
  if (!loaded) load_error_ = loaded.error();
}

result<void> partition_owners::apply_claim(const events::partition_claim& claim,
                                           events::log_position position,
                                           rocksdb::WriteBatch& batch) {
  // Kept under the partition the claim is in: that is the partition it gives its member.
  batch.Put(store_.cf(family::counters), keys::partition_owner{position.partition()}.encode(),
            events::encode_partition_claim(claim));
  pending_.insert_or_assign(position.partition(), claim);
  return success();
}

void partition_owners::end_batch(bool committed) {
  if (committed && !pending_.empty()) {
    std::lock_guard lk(mu_);
    for (auto& [p, claim] : pending_) owners_.insert_or_assign(p, std::move(claim));
  }
  pending_.clear();
}

std::optional<events::partition_claim> partition_owners::owner(events::partition_id p) const {
  std::lock_guard lk(mu_);
  if (auto it = owners_.find(p()); it != owners_.end()) return it->second;
  return std::nullopt;
}

}  // namespace caseline::projections
