#pragma once

// Shared by the event-log tests: a collector of append outcomes, waited for with deadlines
// (never sleeping to wait).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/result.h"
#include "events/event_log.h"
#include "tests/support/eventually.h"

namespace caseline::events::testing {

using namespace std::chrono_literals;

using test::eventually;

// The outcome of an append, tagged with what the test passed in.
struct ack {
  std::string key;
  std::string value;
  result<log_position> outcome;
};

// Collects append outcomes from the log's threads; the test waits for a count with a deadline.
class ack_collector {
 public:
  event_log::append_handler handler(std::string key, std::string value) {
    return [this, key = std::move(key), value = std::move(value)](result<log_position> r) {
      {
        std::lock_guard lk(mutex_);
        acks_.push_back(ack{key, value, std::move(r)});
      }
      cv_.notify_all();
    };
  }

  void append(event_log& log, const std::string& key, const std::string& value) {
    log.append(key, value, handler(key, value));
  }

  // All outcomes once `n` have arrived, or fails the test after `timeout`.
  std::vector<ack> wait_for(std::size_t n, std::chrono::milliseconds timeout = 60s) {
    std::unique_lock lk(mutex_);
    const bool done = cv_.wait_for(lk, timeout, [&] { return acks_.size() >= n; });
    INFO("acknowledged " << acks_.size() << " of " << n);
    REQUIRE(done);
    return acks_;
  }

  std::size_t size() const {
    std::lock_guard lk(mutex_);
    return acks_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<ack> acks_;
};

// Collects what a subscription delivers; the test waits for a count with a deadline.
class batch_collector {
 public:
  event_log::batch_handler handler() {
    return [this](std::span<const log_record> batch) -> result<void> {
      {
        std::lock_guard lk(mutex_);
        ++batches_;
        records_.insert(records_.end(), batch.begin(), batch.end());
        for (const auto& r : batch) {
          if (r.position.partition != batch.front().position.partition) mixed_batch_ = true;
        }
      }
      cv_.notify_all();
      return success();
    };
  }

  std::vector<log_record> wait_for(std::size_t n, std::chrono::milliseconds timeout = 60s) {
    std::unique_lock lk(mutex_);
    const bool done = cv_.wait_for(lk, timeout, [&] { return records_.size() >= n; });
    INFO("delivered " << records_.size() << " of " << n);
    REQUIRE(done);
    return records_;
  }

  bool mixed_batch() const {
    std::lock_guard lk(mutex_);
    return mixed_batch_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<log_record> records_;
  std::size_t batches_{0};
  bool mixed_batch_{false};
};

// Every record of partition `p` from offset 0 to its end offset.
inline std::vector<log_record> read_all(event_log& log, partition_id p) {
  std::vector<log_record> out;
  auto end = log.end_offset(p);
  REQUIRE_MESSAGE(end.has_value(), (end ? std::string{} : end.error().message()));
  while (static_cast<std::int64_t>(out.size()) < end.value()()) {
    auto got = log.read(p, log_offset{static_cast<std::int64_t>(out.size())}, 1000, 10s);
    REQUIRE_MESSAGE(got.has_value(), (got ? std::string{} : got.error().message()));
    REQUIRE_FALSE(got.value().empty());
    out.insert(out.end(), got.value().begin(), got.value().end());
  }
  return out;
}

}  // namespace caseline::events::testing
