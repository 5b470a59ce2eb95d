#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/result.h"
#include "events/event_log.h"
#include "events/field_crypto.h"
#include "events/key_log.h"
#include "projections/key_store.h"
#include "projections/replica_progress.h"

namespace caseline::projections {

// A group's data keys, shared through the keys topic (events/key_log.h): this server's key store
// kept in step with it, and the key store's commits and tombstones routed to it.
//
// Which partition a key belongs to: a case's key to its case's partition, the registry's key
// (personal_data::registry_key) to the registry stream's; both are written through that
// partition's fenced writer, so only its owner commits them. A recording's staging key
// (recordings.h) stays local: a group derives its staging keys from the master key instead.
//
// The master key: the first check record (a known text wrapped by the master key) in keys
// partition 0, published by the first server of the group, is the group's; a server whose master
// key does not unwrap it is refused at start (errc::bad_config naming --master-key-file and
// CASELINE_MASTER_KEY), since it could read no key of the others and they none of its. Two
// first servers at the same instant both publish, each under a record key of its own; the one
// whose record came second is refused.
//
// Lifecycle: start() subscribes from the offsets the key store holds, applies every partition up
// to its end, checks the master key, then makes the key store replicate through it; the
// destructor makes the key store local again and stops the subscription. The key store and the
// key log must outlive it. Thread-safety: every member from any thread.
class key_replica final : public key_replication {
 public:
  struct options {
    std::chrono::milliseconds start{60'000};  // catching up and checking the master key
  };

  static result<std::unique_ptr<key_replica>> start(events::key_log& log, key_store& keys,
                                                    const events::secret_key& master, options o);
  // The default options.
  static result<std::unique_ptr<key_replica>> start(events::key_log& log, key_store& keys,
                                                    const events::secret_key& master) {
    return start(log, keys, master, options{});
  }
  ~key_replica() override;
  key_replica(const key_replica&) = delete;
  key_replica& operator=(const key_replica&) = delete;

  bool commit(const case_id& id, const std::string& wrapped,
              std::function<void(result<void>)>& done) override;
  result<void> await(const case_id& id, std::chrono::steady_clock::time_point deadline) override;
  // Returns once keys partition p is applied here up to the end it has now (errc::timed_out after
  // `timeout`): a new owner of p waits for it before it takes p's commands.
  result<void> catch_up(events::partition_id p, std::chrono::milliseconds timeout);
  // The error that stopped applying the keys topic, if any.
  std::optional<error> failure() const;

  // The record id under which the key store keeps the group's master-key check (published ones
  // are "<check_id>/<hash>", the first server's before this rule exactly check_id).
  static constexpr const char* check_id = "caseline.master-key-check";

 private:
  key_replica(events::key_log& log, key_store& keys, const events::start_offsets& from);
  std::optional<events::partition_id> partition_of(const case_id& id) const;
  result<void> on_batch(std::span<const events::log_record> records);
  result<void> check_master(const events::secret_key& master, std::chrono::milliseconds timeout);

  events::key_log& log_;
  key_store& keys_;
  replica_progress progress_;  // last: its subscription calls on_batch
};

}  // namespace caseline::projections
