#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>

#include "core/result.h"
#include "events/detail/rdkafka_handle.h"
#include "events/detail/rdkafka_txn_producer.h"
#include "events/event_log.h"
#include "events/thread_pool.h"

namespace caseline::events::detail {

// The Kafka log's membership of a consumer group and the fenced writers of the partitions the
// group gives it (events/kafka_event_log.h with a group).
//
// join() starts a group consumer (cooperative-sticky, no commits) on a group thread of its own. It
// exists for the group protocol only: its partitions stay paused, the log reads through its own
// consumers. On the assignment of p the group thread starts p's txn_writer (init_transactions
// fences the previous owner; the partition_claim is its first transaction), then owns(p) turns
// true and the listener hears partition_assigned(p); a writer that cannot start yet (the old
// owner's transaction still being aborted, a broker away) is retried every second while p stays
// assigned. On a revocation or loss: owns(p) turns false, the listener hears
// partition_revoked(p, lost), then p's writer finishes (commits what was appended before, answers
// every handler) and is destroyed, then the consumer gives p up.
//
// A writer that stops (fenced by another producer of p's transactional.id, a fatal error, a
// commit that timed out) while the group still assigns p to this member is replaced: the listener
// hears partition_revoked(p, /*lost=*/true), the stopped writer is destroyed, and after a backoff
// (1 s, doubling up to 10 s while replacements follow each other, back to 1 s once a writer lasted
// 10 s) p is claimed again as on an assignment, fencing whoever fenced it, and the listener hears
// partition_assigned(p). The backoff keeps two members that both believe they own p (one of them
// a zombie whose assignment the group has already taken away) from fencing each other in a tight
// loop; the zombie stops when its consumer learns that its assignment is lost.
//
// Lifecycle: leave() (or the destructor) closes the consumer gracefully: the revocations above run
// for every owned partition and the group rebalances at once. Appends before join or to a
// partition not owned get errc::not_owner on the refusal thread. Thread-safety: every member
// from any thread; the listener is called on the group thread only.
class kafka_group {
 public:
  struct config {
    std::string topic;
    std::int32_t partitions{0};
    std::string group;
    std::string advertise;
    properties consumer;  // the group consumer's configuration, group.id included
    properties producer;  // the writers' base configuration (without transactional.id)
    std::chrono::milliseconds delivery{10'000};
    std::chrono::milliseconds init{30'000};
    std::string keys_topic;  // the data keys' topic each writer also writes (empty: none)
    std::string audio_topic;  // the call audio's topic, the same way (empty: none)
    visibility_board* board{};  // given to every writer (txn_writer::config::board)
    journal_sink* journal{};    // given to every writer (txn_writer::config::journal)
  };

  explicit kafka_group(config cfg);
  kafka_group(const kafka_group&) = delete;
  kafka_group& operator=(const kafka_group&) = delete;
  ~kafka_group();

  result<void> join(ownership_listener& listener);
  void leave();
  bool owns(partition_id p) const;
  group_status status() const;

  // To p's writer, or errc::not_owner (on the refusal thread, never inline).
  void append(partition_id p, std::string key, std::string value,
              event_log::append_handler handler);
  // To the keys topic through p's writer (txn_writer::append_key), or errc::not_owner as above.
  void append_key(partition_id p, std::string key, std::string value,
                  event_log::append_handler handler) {
    append_side(txn_writer::destination::keys, p, std::move(key), std::move(value),
                std::move(handler));
  }
  // To a side topic (keys or audio) through p's writer, or errc::not_owner as above.
  void append_side(txn_writer::destination to, partition_id p, std::string key, std::string value,
                   event_log::append_handler handler);
  // A record with a new case's key in the same transaction (txn_writer::append_with_key), or
  // errc::not_owner as above.
  void append_with_key(partition_id p, std::string key, std::string value, journaled_key k,
                       event_log::append_handler handler);
  // Waits until every append issued before the call has been answered.
  result<void> flush(std::chrono::milliseconds timeout);

  // "caseline.<group>.<topic>.<p>": stable per partition, so the next owner fences this one.
  static std::string transactional_id(const std::string& group, const std::string& topic,
                                      partition_id p);

 private:
  void run();
  void claim_pending();
  // Replaces every owned partition's stopped writer (see the class comment).
  void replace_stopped();
  // The group takes p away: forgets its claims and, if owned, releases it.
  void revoke(partition_id p, bool lost);
  // owns(p) false, the listener hears of it, p's writer finishes and is destroyed.
  void release(partition_id p, bool lost);
  // Hands an append to p's writer: `enqueue(writer)` takes it (true) or leaves it (false); the
  // handler of one left, or of one for a partition without a writer, gets not_owner.
  template <typename Enqueue>
  void to_writer(partition_id p, event_log::append_handler& handler, const Enqueue& enqueue);
  void refuse(event_log::append_handler handler, error e);
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions);

  const config cfg_;
  std::unique_ptr<std::atomic<bool>[]> owned_;  // per partition: claim committed, not revoked

  std::mutex membership_mu_;  // join and leave, one at a time
  handle_ptr consumer_;       // the group thread's while it runs
  ownership_listener* listener_{nullptr};
  std::atomic<bool> stop_{false};
  std::thread thread_;

  // Partitions assigned whose writer has not started yet, and when to try again: the group
  // thread's only.
  std::map<std::int32_t, std::chrono::steady_clock::time_point> pending_;
  // Per partition claimed since the group assigned it: when its writer was claimed and the
  // backoff before the next replacement of a stopped writer. The group thread's only.
  struct claim_history {
    std::chrono::steady_clock::time_point claimed;
    std::chrono::milliseconds backoff{0};  // of the last replacement; zero: none yet
  };
  std::map<std::int32_t, claim_history> claims_;

  mutable std::shared_mutex writers_mu_;  // appends shared, the group thread exclusive
  std::map<std::int32_t, std::shared_ptr<txn_writer>> writers_;

  std::atomic<std::uint64_t> rebalances_{0};
  std::atomic<std::uint64_t> fenced_{0};
  std::atomic<std::uint64_t> reclaims_{0};

  // Refused appends, answered on a thread of their own; counted for flush().
  std::mutex refused_mu_;
  std::condition_variable refused_cv_;
  std::uint64_t refused_posted_{0};  // guarded by refused_mu_
  std::uint64_t refused_done_{0};    // guarded by refused_mu_
  thread_pool refusals_{1, "kafka-refusal"};  // last: its tasks use the members above
};

}  // namespace caseline::events::detail
