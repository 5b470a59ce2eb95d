#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "events/event_log.h"
#include "events/key_log.h"
#include "events/periodic.h"
#include "projections/clock.h"

namespace caseline::projections {

// A side topic's tombstones go delete.retention.ms after their segment is compacted: a replica
// away longer may never see one and would keep (resurrect) a shredded key or a purged recording.
// So each replica records when it was last up to date (the time, from `server_clock`, at which
// it had applied every partition up to the end the topic had then), and at start, if that is
// longer ago than the topic's tombstone retention less `away_margin` (or `away`, when given), it
// reconciles: reads the topic from its start and drops what the topic no longer names.
struct away_options {
  const clock* server_clock{nullptr};  // "now"; null: no check, no time recorded (as before)
  std::optional<std::chrono::milliseconds> away;  // the threshold; none: the topic's, less margin
  std::chrono::milliseconds refresh{std::chrono::minutes(10)};  // recording it while running
};
// What an absence must stay under besides the tombstone retention: the lag between a
// tombstone's commit and its apply here, and the clocks of the servers.
inline constexpr std::chrono::milliseconds away_margin{std::chrono::hours(1)};

// Whether a replica of `log` (`what` names it in the log) last up to date at `seen` (none: not
// known) was away longer than the topic's tombstones last (away_options). False without a clock.
result<bool> away_too_long(events::key_log& log, std::string_view what,
                           std::optional<timestamp> seen, const away_options& o,
                           std::chrono::milliseconds timeout);

// How far this server has applied each partition of one of a group's side topics
// (events/key_log.h), and waiting for it: what the keys' and the audio's replicas
// (key_replica.h, audio_replica.h) share. `what` names the topic in errors ("keys", "audio").
//
// Lifecycle: made with the offsets the replica stored, then follow() subscribes; stop() (or the
// destructor) stops keep_seen's task, then destroys that subscription, after which applied() is
// never called again.
// Thread-safety: every member from any thread.
class replica_progress {
 public:
  replica_progress(events::key_log& log, std::string what, const events::start_offsets& from);
  ~replica_progress() { stop(); }
  replica_progress(const replica_progress&) = delete;
  replica_progress& operator=(const replica_progress&) = delete;

  // Subscribes to the topic from the offsets it was made with; `handler` applies each batch and
  // reports through applied() or failed().
  result<void> follow(events::event_log::batch_handler handler);
  void stop();
  // Partition p is applied up to `next` (exclusive), or applying it failed (`e`).
  void applied(events::partition_id p, std::int64_t next);
  void failed(const error& e);

  // Returns once p is applied up to the end it has now (errc::timed_out after `timeout`).
  result<void> catch_up(events::partition_id p, std::chrono::milliseconds timeout);
  // catch_up for every partition, one after the other, all by `deadline`.
  result<void> catch_up_all(std::chrono::steady_clock::time_point deadline);
  result<void> wait_applied(events::partition_id p, std::int64_t next,
                            std::chrono::steady_clock::time_point deadline);
  // The error that stopped applying the topic, if any.
  std::optional<error> failure() const;

  // From now until stop(), every o.refresh: once every partition is applied up to its end,
  // `store` records the time taken before that check. Nothing without a clock. (The replica
  // records the first time itself, once its start has caught up.)
  void keep_seen(const away_options& o, std::function<result<void>(timestamp)> store);

 private:
  events::key_log& log_;
  const std::string what_;
  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  const events::start_offsets from_;
  std::vector<std::int64_t> applied_;  // guarded by mu_: per partition, the next offset
  std::optional<error> failure_;       // guarded by mu_
  std::unique_ptr<events::subscription> subscription_;
  events::periodic_task seen_task_;  // stopped before the subscription it waits on
};

}  // namespace caseline::projections
