#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <utility>

#include "events/key_journal.h"

namespace caseline::events::detail {

// What this process's read_committed subscriptions have read of each partition of each topic,
// for a transactional writer that answers only once its committed records are visible
// (txn_writer::wait_visible). A subscription that has delivered a partition up to `next` (its
// records, the gaps of markers and aborted records, its end-of-partition at the last stable
// offset) proves that the last stable offset is at least `next`: the writer waits on that
// condition instead of asking the broker again and again.
//
// Lifecycle: shared (std::shared_ptr) by a Kafka log, its side topics' logs, their
// subscriptions and the group's writers; outlives all of them. Thread-safety: every member from
// any thread.
class visibility_board {
 public:
  using clock = std::chrono::steady_clock;

  // A read_committed consumer of `topic` has read partition p below `next`.
  void seen(const std::string& topic, std::int32_t p, std::int64_t next) {
    {
      std::lock_guard lk(mu_);
      auto [it, fresh] = next_.try_emplace({topic, p}, next);
      if (!fresh) {
        if (it->second >= next) return;
        it->second = next;
      }
    }
    cv_.notify_all();
  }

  // Waits until a subscription has read p of `topic` past `last`, or until `until`: true once
  // it has.
  bool wait_past(const std::string& topic, std::int32_t p, std::int64_t last,
                 clock::time_point until) {
    std::unique_lock lk(mu_);
    const std::pair<std::string, std::int32_t> at{topic, p};
    return cv_.wait_until(lk, until, [&] {
      const auto it = next_.find(at);
      return it != next_.end() && it->second > last;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;  // next_ moved
  // Per topic and partition, the offset read up to; guarded by mu_.
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> next_;
};

// Where a group's writers hand the keys they committed for the key journal (the Kafka log's
// journal, events/key_journal.h): the key store's handler, set and cleared by
// key_journal::on_durable.
//
// Lifecycle: owned by the Kafka log, outlives its group's writers. Thread-safety: every member
// from any thread; clearing waits for a call in progress, calls from several writers may run at
// once.
class journal_sink {
 public:
  void set(key_journal::durable_handler handler) {
    std::unique_lock lk(mu_);
    handler_ = std::move(handler);
  }
  void deliver(std::span<const journaled_key> keys) {
    std::shared_lock lk(mu_);
    if (handler_) handler_(keys);
  }

 private:
  std::shared_mutex mu_;
  key_journal::durable_handler handler_;  // guarded by mu_
};

}  // namespace caseline::events::detail
