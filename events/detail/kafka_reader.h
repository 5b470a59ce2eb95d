#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "events/detail/rdkafka_handle.h"
#include "events/event_log.h"

namespace caseline::events::detail {

// The Kafka log's `read` and `end_offset`: one lane per partition, each a consumer of its own
// (read_committed, assigned at explicit offsets, never joined to a group) and one thread that
// alone calls into it. Callers hand a lane a job and wait for the answer only until their own
// deadline, so whatever librdkafka or the broker does, no caller blocks beyond it; a job whose
// caller has given up is not started. A librdkafka call that outlives its caller's deadline
// (`rd_kafka_query_watermark_offsets` waits for its answer whatever its timeout, e.g. from the
// leader that was just killed) holds up only its own partition's lane: reads and end offsets of
// the other partitions go on. A lane whose call has outlived its caller's deadline by a request
// timeout is replaced by a new one (a new consumer, which learns the leaders afresh), which takes
// over the jobs queued behind it; the stuck thread ends when its call does.
//
// Lifecycle: open() makes partition 0's consumer (so that a bad property fails there); the
// other lanes start on their partition's first call. The destructor stops every lane and
// detaches its thread instead of joining it: a call stuck in librdkafka ends on its own, and the
// lane's last owner (its thread) closes its consumer. Thread-safety: every member from any
// thread; the calls of one partition run one at a time, in order.
class kafka_reader {
 public:
  struct config {
    std::string topic;
    std::int32_t partitions{0};
    properties consumer;                       // every lane's consumer (read_committed)
    std::chrono::milliseconds request{5'000};  // one list-offsets or fetch request
  };

  static result<std::unique_ptr<kafka_reader>> open(config cfg);

  ~kafka_reader();
  kafka_reader(const kafka_reader&) = delete;
  kafka_reader& operator=(const kafka_reader&) = delete;

  // Up to max_records of `p` from `from`, gaps included, waiting up to `wait` for records that
  // are not there yet; answered within `wait` plus the request timeout (timed_out beyond).
  // `p` must be a partition of the topic, `from` not negative and max_records positive.
  result<std::vector<log_record>> read(partition_id p, log_offset from, std::size_t max_records,
                                       std::chrono::milliseconds wait);

  // The last stable offset of `p`, within the request timeout (timed_out beyond).
  result<log_offset> end_offset(partition_id p);

 private:
  class lane;

  kafka_reader(config cfg, handle_ptr first);
  result<std::shared_ptr<lane>> lane_of(partition_id p);

  // Stuck lanes (abandoned, their thread still in a librdkafka call) one partition may have.
  static constexpr std::size_t max_stuck_lanes = 2;

  const config cfg_;
  std::mutex mu_;
  std::vector<std::shared_ptr<lane>> lanes_;  // guarded by mu_; one per partition, made on use
  // Per partition, a token of each abandoned lane whose thread has not ended yet; guarded by mu_.
  std::vector<std::vector<std::weak_ptr<const void>>> stuck_;
};

}  // namespace caseline::events::detail
