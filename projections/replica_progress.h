#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "events/event_log.h"
#include "events/key_log.h"

namespace caseline::projections {

// How far this server has applied each partition of one of a group's side topics
// (events/key_log.h), and waiting for it: what the keys' and the audio's replicas
// (key_replica.h, audio_replica.h) share. `what` names the topic in errors ("keys", "audio").
//
// Lifecycle: made with the offsets the replica stored, then follow() subscribes; stop() (or the
// destructor) destroys that subscription, after which applied() is never called again.
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

 private:
  events::key_log& log_;
  const std::string what_;
  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  const events::start_offsets from_;
  std::vector<std::int64_t> applied_;  // guarded by mu_: per partition, the next offset
  std::optional<error> failure_;       // guarded by mu_
  std::unique_ptr<events::subscription> subscription_;
};

}  // namespace caseline::projections
