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

#include "core/result.h"
#include "events/event_log.h"
#include "projections/projection.h"
#include "projections/store.h"

namespace caseline::projections {

// Feeds the log to a set of projections. Each batch (one or more partitions: the embedded log's
// group commits arrive whole, events/burst_source.h) is decoded once, applied by every projection
// into one WriteBatch with the next offset of each partition it holds, and written atomically:
// after a crash the runner resumes from its stored offsets, so no event is applied twice or
// skipped. A record that cannot be decoded or applied stops the runner (failure()), never skipped.
// A batch that fails for a reason that passes (events::is_retriable: a full disk, a store write
// refused until RocksDB resumes) is applied again, after a pause that grows to 2 s, until it is
// written or the runner stops; nothing of a failed batch was written, so the retry neither skips
// nor doubles an event. Meanwhile stalled() names the error, and the runner resumes by itself once
// the cause is gone (an operator freed space): the server need not be restarted.
//
// Lifecycle: construct, start() (subscribes from the stored offsets), destroy (stops). apply()
// may also be called directly (rebuild, tests) when not started. Thread-safety: applied(),
// wait_applied() and failure() from any thread; apply() from one thread at a time.
class projection_runner {
 public:
  projection_runner(events::event_log& log, store& s, std::vector<projection*> projections);
  ~projection_runner();

  result<void> start();
  void stop();

  result<void> apply(std::span<const events::log_record> batch);

  // The next offset to apply in partition p.
  std::int64_t applied(events::partition_id p) const;
  // Waits until the record at `pos` has been applied (or the runner failed or is stalled, or
  // timeout): a caller gets its answer at once while the runner retries a batch (a full disk),
  // not after its whole timeout.
  bool wait_applied(events::log_position pos, std::chrono::milliseconds timeout) const;
  // What a catch-up does while the runner is stalled: answer with the stall's error at once (a
  // caller that answers "retry" to a client), or wait through it until its deadline (the server's
  // start, a partition's hand-over: nobody to answer, and the stall ends by itself).
  enum class on_stall { answer, wait };
  // Waits until every partition has applied everything the log held when called.
  result<void> catch_up(std::chrono::milliseconds timeout, on_stall stall = on_stall::answer) const;
  // The same for one partition: everything p held when called.
  result<void> catch_up(events::partition_id p, std::chrono::milliseconds timeout,
                        on_stall stall = on_stall::answer) const;
  std::optional<error> failure() const;
  // The error of the batch the started runner is applying again, while it retries (see above).
  std::optional<error> stalled() const;
  // Why a wait above came back without the record applied: the runner's failure, else its stall,
  // else `otherwise` (the caller's "behind the log").
  error not_applied(error otherwise) const;
  // Total events applied since construction (metrics, progress).
  std::uint64_t events_applied() const;
  // Total keys (puts and deletes, offsets included) the runner's WriteBatches wrote since
  // construction: what the store's write rate is divided by (the rebuild bench's keys/event).
  std::uint64_t keys_written() const;

 private:
  result<std::vector<std::int64_t>> load_offsets();
  // apply(), again while it fails for a reason that passes (see the class comment).
  result<void> apply_until_written(std::span<const events::log_record> batch);
  result<void> catch_up_until(events::partition_id p,
                              std::chrono::steady_clock::time_point deadline, on_stall stall) const;

  events::event_log& log_;
  store& store_;
  std::vector<projection*> projections_;
  std::unique_ptr<events::subscription> subscription_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::int64_t> applied_;  // guarded by mu_
  std::optional<error> failure_;       // guarded by mu_
  std::optional<error> stalled_;       // guarded by mu_: the batch retried, its last error
  bool stopping_{false};               // guarded by mu_: stop() ends the retries
  std::uint64_t events_applied_{0};    // guarded by mu_
  std::uint64_t keys_written_{0};      // guarded by mu_
};

}  // namespace caseline::projections
