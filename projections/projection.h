#pragma once

#include <cstdint>
#include <string_view>

#include "core/events.h"
#include "core/registry.h"
#include "core/result.h"
#include "events/event_log.h"
#include "events/record.h"

namespace rocksdb {
class WriteBatch;
}

namespace caseline::projections {

// One event of the log as projections see it: decoded once by the runner.
struct decoded_event {
  const events::envelope& env;
  const core::event& event;
  events::log_position position;  // of the record that holds it
  std::uint32_t index;            // within the record
  std::string_view stored_bytes;  // the envelope's bytes as stored (the hash chain covers them)
  // The Idempotency-Key of the command whose record holds the event; null when it had none.
  const events::idempotency_mark* idempotency;
};

// A registry event of the log (core/registry.h: units registered with a center), decoded once by
// the runner. Registry events share the log (and the type-id space) with case events.
struct decoded_registry_event {
  const events::envelope& env;
  const core::registry_event& event;
  events::log_position position;
  std::uint32_t index;
  std::string_view stored_bytes;
};

// A read model: a state machine over the log. The runner calls begin_batch, apply for every
// event of a batch in log order, then end_batch with whether the batch was committed. apply adds
// rows to the runner's WriteBatch; the runner adds the consumed offsets to the same batch, so a
// batch is applied entirely or not at all. apply must be deterministic: no clock, no random,
// nothing but the events and the store's previous rows.
class projection {
 public:
  virtual ~projection() = default;
  virtual std::string_view name() const = 0;
  virtual void begin_batch() {}
  virtual result<void> apply(const decoded_event& e, rocksdb::WriteBatch& batch) = 0;
  // Registry events: most projections ignore them.
  virtual result<void> apply_registry(const decoded_registry_event& /*e*/,
                                      rocksdb::WriteBatch& /*batch*/) {
    return success();
  }
  // A partition claim (events/record.h): from `position` on, claim.member writes the partition.
  // Only the owners view (partition_owners.h) keeps them.
  virtual result<void> apply_claim(const events::partition_claim& /*claim*/,
                                   events::log_position /*position*/,
                                   rocksdb::WriteBatch& /*batch*/) {
    return success();
  }
  // After the last apply of a batch, before the runner writes it: a projection that folds many
  // events of a batch into one row (a case's row, a monthly counter) writes that row here, once,
  // instead of once per event (every Put of the same key is another memtable entry).
  virtual result<void> prepare_commit(rocksdb::WriteBatch& /*batch*/) { return success(); }
  virtual void end_batch(bool /*committed*/) {}
};

}  // namespace caseline::projections
