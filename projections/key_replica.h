#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
// Back after an absence longer than the topic keeps its tombstones (options::away, from the time
// the key store recorded it was last up to date): start() reads the topic from its start
// (applying only what lies past the stored offsets), then, before it serves, deletes every key
// it holds that the topic no longer names: a shredded key whose tombstone compaction removed.
// Kept: keys marked unpublished (from before the group shared its keys, publish_local), staging
// keys (never in the topic) and the master-key check.
//
// Lifecycle: start() subscribes from the offsets the key store holds, applies every partition up
// to its end, checks the master key, then makes the key store replicate through it; the
// destructor makes the key store local again and stops the subscription. The key store and the
// key log must outlive it. Thread-safety: every member from any thread.
class key_replica final : public key_replication {
 public:
  using steady_time = std::chrono::steady_clock::time_point;
  struct options {
    std::chrono::milliseconds start{60'000};  // catching up and checking the master key
    // Away longer than the topic's tombstones last (replica_progress.h): reading the topic from
    // its start instead, for at most `reconcile`.
    away_options away;
    std::chrono::milliseconds reconcile{600'000};
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
  // A new owner of p, before it takes p's commands (case_writer::set_handover_gate): catch_up,
  // then publish_local. A failed publication is logged and retried at p's next handover; it
  // does not hold up the handover.
  result<void> take_over(events::partition_id p, std::chrono::milliseconds timeout);
  // Commits, through p's fenced writer, every key of p this server held before its first start
  // in a group (start() marks them in the key store) that the keys topic has neither a value nor
  // a tombstone of. Reads keys partition p from its start to its end first (what compaction
  // left: each key's last record), but only when such a marked key of p is held here (a scan of
  // the marks, none in the usual case): otherwise it returns 0 at once. Idempotent: a key published
  // is unmarked, and a key the topic holds or shredded (tombstoned) there is never published.
  // Returns how many it committed.
  result<std::size_t> publish_local(events::partition_id p, std::chrono::milliseconds timeout);
  // The error that stopped applying the keys topic, if any.
  std::optional<error> failure() const;
  // How many keys start() deleted after an absence (the topic no longer named them); none when
  // the absence was short enough for no such read.
  std::optional<std::size_t> reconciled() const { return reconciled_; }

  // The record id under which the key store keeps the group's master-key check (published ones
  // are "<check_id>/<hash>", the first server's before this rule exactly check_id).
  static constexpr const char* check_id = "caseline.master-key-check";

 private:
  key_replica(events::key_log& log, key_store& keys, const events::start_offsets& from,
              const events::start_offsets& stored, bool reconcile);
  std::optional<events::partition_id> partition_of(const case_id& id) const;
  result<void> on_batch(std::span<const events::log_record> records);
  result<void> check_master(const events::secret_key& master, std::chrono::milliseconds timeout);
  // The ids keys partition p holds a record of (a value or a tombstone), read from its start.
  result<std::set<std::string, std::less<>>> ids_in_topic(events::partition_id p,
                                                          steady_time deadline);
  // After the read from the start: deletes here every key the topic did not name (see above).
  result<std::size_t> drop_unnamed();
  // Whether this server holds a key of p marked unpublished.
  result<bool> holds_unpublished(events::partition_id p);

  events::key_log& log_;
  key_store& keys_;
  const events::start_offsets stored_;  // the key store's offsets at start
  std::optional<std::size_t> reconciled_;
  std::mutex reconcile_mu_;  // on_batch and drop_unnamed
  bool reconciling_;         // guarded by reconcile_mu_: a read from the start under way
  std::set<std::string, std::less<>> named_;  // guarded by reconcile_mu_: the ids read so far
  replica_progress progress_;  // last: its subscription calls on_batch
};

}  // namespace caseline::projections
