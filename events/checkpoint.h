#pragma once

// Tamper evidence per partition: a running hash over every record of a partition, and the
// checkpoint records that publish it in the log itself (events/record.h: `checkpoint`).
//
// The running hash of partition p after the record at offset n (key k_n, value v_n) is
//
//   h(-1) = 32 zero bytes
//   h(n)  = SHA-256( h(n-1) || be32(p) || be64(n) || be32(len k_n) || k_n || SHA-256(v_n) )
//
// over every record of the partition, checkpoint records included, so that editing, inserting,
// deleting or reordering any record (or rewriting an earlier checkpoint) changes every later
// h(n). A checkpoint written at offset c states (p, L, h(L)) for some L < c: every record before
// the checkpoint that the writer had seen. Checking a checkpoint = recomputing h(L) from offset 0.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"
#include "events/event_log.h"
#include "events/periodic.h"
#include "events/record.h"

namespace caseline::events {

// h(n) from h(n-1) and the record at offset n (see above).
std::string chain_running_hash(std::string_view previous, partition_id p, log_offset n,
                               std::string_view key, std::string_view value);

// Folds the records of one partition, in offset order from 0, into the running hash. A plain
// value; not thread-safe.
class partition_hasher {
 public:
  explicit partition_hasher(partition_id p);
  // Resumes after offset `last` whose running hash was `hash` (a checkpoint's).
  partition_hasher(partition_id p, log_offset last, std::string hash);

  // errc::corrupt_record when the record is not the next offset of this partition.
  result<void> add(const log_record& r);
  partition_id partition() const { return partition_; }
  log_offset next() const { return next_; }          // the offset add() expects
  const std::string& hash() const { return hash_; }  // h(next - 1)

 private:
  partition_id partition_;
  log_offset next_{0};
  std::string hash_;
};

struct checkpoint_options {
  // Key of checkpoint records. Not a case id (case ids are "<center>-<YYYYMMDD>-<seq>"); readers
  // recognise checkpoints by their magic, never by the key.
  std::string key{"caseline.checkpoint"};
  // How long tick() waits for each checkpoint to be acknowledged.
  std::chrono::milliseconds append_timeout{std::chrono::seconds(30)};
  // Records per read while hashing.
  std::size_t read_batch{1024};
  // The written_at of checkpoints (the system clock when empty).
  std::function<timestamp()> now;
};

// What one tick did.
struct checkpoint_tick {
  std::int32_t written{0};          // checkpoints appended
  std::uint64_t records_hashed{0};  // records folded into running hashes
};

// Writes checkpoints: on each tick(), to every partition this server owns (event_log::owns)
// whose end moved since its last checkpoint, a checkpoint covering every record before the
// current end.
//
// It resumes from the last checkpoint of each partition found in the log (read backwards from
// the end on the first tick), so after a restart only new records are hashed. One checkpointer
// per log: two would interleave checkpoints (harmless to verification, but wasteful).
//
// Lifecycle: borrows the log, which must outlive it. Thread-safety: tick() may be called from
// any thread; calls are serialised.
class checkpointer {
 public:
  explicit checkpointer(event_log& log, checkpoint_options options = {});

  // Appends the checkpoints that are due and waits for each to be acknowledged. Every partition
  // is tried, unless the log does not answer (unavailable, timed out, closed): then the tick
  // ends at once. The first error is returned. A partition that failed has its state dropped and
  // rebuilt from the log next time (its checkpoint may or may not have been written).
  result<checkpoint_tick> tick();

 private:
  struct partition_state {
    partition_hasher hasher;
    std::int64_t last_checkpoint_at{-1};  // offset of the partition's last checkpoint record
  };

  result<partition_state> resume(partition_id p, log_offset end);
  result<bool> tick_partition(partition_id p, checkpoint_tick& report);

  event_log& log_;
  checkpoint_options options_;
  std::mutex mu_;
  std::map<std::int32_t, partition_state> state_;  // guarded by mu_
};

// Runs c.tick() every `interval` as the periodic task "checkpoints", and once more when stopped
// (over what was appended since the previous tick; stop_without_final_run() when the log is down
// and it could only wait and fail). Errors go to `on_error` (on the task's thread) and the next
// tick retries. The checkpointer must outlive the task.
periodic_task start_checkpoints(checkpointer& c, std::chrono::milliseconds interval,
                                std::function<void(const error&)> on_error = {});

}  // namespace caseline::events
