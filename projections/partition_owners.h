#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include "core/result.h"
#include "events/event_log.h"
#include "events/record.h"
#include "projections/projection.h"
#include "projections/store.h"

namespace caseline::projections {

// The owners view: which server of a Kafka group writes each partition of the log, as the
// partition's claim records say (events/record.h, partition_claim: a new owner's first record in
// the partition). The gateway forwards a command for a case to the owner of the case's partition.
// The last claim applied in each partition is kept in a log-derived row (counters,
// keys::partition_owner) in the runner's WriteBatch with the offsets, so a restart knows the
// owners without replaying the log, and a rebuild writes the same rows.
//
// Lifecycle: construct (loads the stored rows) before the runner starts; part of projection_set.
// apply* run on the runner's thread; owner() from any thread (a snapshot of the committed rows).
class partition_owners final : public projection {
 public:
  explicit partition_owners(store& s);
  std::string_view name() const override { return "partition_owners"; }
  void begin_batch() override { pending_.clear(); }
  result<void> apply(const decoded_event&, rocksdb::WriteBatch&) override { return success(); }
  result<void> apply_claim(const events::partition_claim& claim, events::log_position position,
                           rocksdb::WriteBatch& batch) override;
  void end_batch(bool committed) override;

  // The last claim applied in p; none before the first (a log without a group has none).
  std::optional<events::partition_claim> owner(events::partition_id p) const;
  // Fails when the stored rows cannot be read (the constructor loads them).
  const std::optional<error>& load_error() const { return load_error_; }

 private:
  store& store_;
  mutable std::mutex mu_;
  std::map<std::int32_t, events::partition_claim> owners_;   // guarded by mu_
  std::map<std::int32_t, events::partition_claim> pending_;  // the batch's (runner thread only)
  std::optional<error> load_error_;
};

}  // namespace caseline::projections
