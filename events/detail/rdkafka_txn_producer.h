#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "events/detail/kafka_visibility.h"
#include "events/detail/rdkafka_handle.h"
#include "events/event_log.h"
#include "events/key_journal.h"

namespace caseline::events::detail {

// The fenced writer of one partition: a transactional producer whose transactional.id is stable
// per partition ("caseline.<group>.<topic>.<p>", the Kafka Streams way), so that the next owner's
// init_transactions fences it (nothing it has not committed can be committed any more) and aborts
// its open transaction.
//
// Appends are queued; the writer thread runs transactions back to back: begin, produce everything
// queued, wait for the delivery reports, commit (bounded by `delivery`), and only then answers the
// handlers with their positions, once the partition's last stable offset has passed them (readable
// at once). With a keys topic (config::keys_topic), append_key writes data keys to that topic's
// partition of the same number in the same transactions, so fencing stops them with the
// appends (events/key_log.h); append_with_key writes a new case's key there in the very
// transaction of its record (the Kafka log's key journal, events/key_journal.h), so both commit
// or neither does, and hands the committed keys to config::journal before the record's handler
// runs. While a transaction is in flight new appends queue for the next one (the batching).
// Outcomes: a transaction aborted (an abortable error, a failed delivery) ->
// errc::unavailable, certainly not written; fenced or fatal -> errc::fenced when the commit was
// never requested, errc::outcome_unknown when it was; after that the writer is stopped and every
// later append gets errc::fenced (a fenced writer must never init again: it would fence the
// partition's rightful owner; only the group, which knows whether p is still assigned here,
// replaces it with a new writer). The call audio's topic (config::audio_topic) is written like the
// keys topic (append_side).
//
// Lifecycle: start() creates the producer, fences the previous owner and commits `claim` as the
// first transaction, then starts the thread; finish() (or the destructor) stops taking appends
// (later ones: errc::not_owner), commits what is queued, answers every handler and joins.
// Thread-safety: append, flush, finish from any thread; handlers run on the writer thread, never
// inline in append (an append refused after finish returns false for the caller to answer).
class txn_writer {
 public:
  using delivery_handler = std::function<void(result<log_position>)>;
  // The topic an append goes to: the case log, or a side topic's partition of the same number.
  enum class destination : std::uint8_t { log, keys, audio };

  struct config {
    std::string topic;
    partition_id partition;
    properties props;  // the full producer configuration, transactional.id included
    std::chrono::milliseconds delivery{10'000};  // a transaction's reports and its commit
    std::chrono::milliseconds init{30'000};      // init_transactions (fencing the old owner)
    std::atomic<std::uint64_t>* fenced_count{};  // appends answered errc::fenced (optional)
    // The data keys' topic (events/key_log.h), written by append_key in the same transactions;
    // empty: none.
    std::string keys_topic;
    std::string audio_topic;  // the call audio's (events/key_log.h), like keys_topic
    // What this process's subscriptions have read (optional): the visibility wait after a commit
    // wakes on it (wait_visible).
    visibility_board* board{};
    // Where keys appended with append_with_key go once committed (optional).
    journal_sink* journal{};
  };

  // The claim record's position in `claimed_at` on success.
  static result<std::unique_ptr<txn_writer>> start(config cfg, std::string claim_key,
                                                   std::string claim_value,
                                                   log_position* claimed_at);

  txn_writer(const txn_writer&) = delete;
  txn_writer& operator=(const txn_writer&) = delete;
  ~txn_writer();

  // Takes the arguments (moves from them) and returns true; false when the writer is finished,
  // leaving them to the caller, who answers the handler itself (not_owner).
  bool append(std::string& key, std::string& value, delivery_handler& handler);
  // The same to the keys topic's partition of the same number (an empty value is written as a
  // tombstone), in the writer's transactions: fenced with it. The handler gets the keys topic's
  // position. Without a keys topic it is refused like an append after finish.
  bool append_key(std::string& key, std::string& value, delivery_handler& handler) {
    return append_side(destination::keys, key, value, handler);
  }
  // The same for any side topic (destination::keys or destination::audio).
  bool append_side(destination to, std::string& key, std::string& value, delivery_handler& handler);
  // An append with a new case's key `k` (the key journal): `k` goes to the keys topic in the same
  // transaction as the record, and is handed to config::journal once committed, before `handler`
  // runs. Refused like append_key without a keys topic.
  bool append_with_key(std::string& key, std::string& value, journaled_key& k,
                       delivery_handler& handler);
  // Waits until every append accepted before the call has been answered.
  result<void> flush(std::chrono::steady_clock::time_point deadline);
  // Stops taking appends, commits what is queued, answers all, joins. Idempotent.
  void finish();
  // Whether a newer owner fenced this writer (or it failed fatally): it commits nothing more.
  bool stopped() const noexcept { return stopped_.load(); }

  // A queued append's delivery report, written by librdkafka's callback on the writer thread.
  struct report {
    bool done{false};
    rd_kafka_resp_err_t err{RD_KAFKA_RESP_ERR_NO_ERROR};
    std::int64_t offset{-1};
  };
  // One queued append. The bytes live here until the transaction ends (librdkafka copies them).
  struct pending {
    std::string key;
    std::string value;
    delivery_handler handler;
    std::unique_ptr<report> rep;
    destination to{destination::log};
    bool journaled{false};  // a key of append_with_key: handed to config::journal once committed
  };

 private:
  explicit txn_writer(config cfg);

  result<void> init();
  void run();
  // One transaction over `batch`; answers every handler in it.
  void transact(std::vector<pending>& batch);
  void answer(std::vector<pending>& batch, const error& e);
  // Waits (bounded by `delivery`) until read_committed readers see the offsets of `topic` up to
  // `last`.
  void wait_visible(const std::string& topic, std::int64_t last);
  // Hands the batch's journaled keys (committed) to config::journal.
  void hand_over_keys(std::vector<pending>& batch);
  bool enqueue(std::string& key, std::string& value, delivery_handler& handler, destination to);
  // The topic handle and name of a target (null for a side topic this writer has not).
  rd_kafka_topic_t* handle_of(destination to) const;
  const std::string& topic_of(destination to) const;
  void stop(const char* why);

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);

  const config cfg_;
  // Reports whose messages librdkafka may still call back for (a transaction that failed with
  // records in flight); kept until its queue is empty. Declared before rk_: outlives the client.
  std::vector<std::unique_ptr<report>> retired_;
  handle_ptr rk_;
  topic_ptr rkt_;  // after rk_: destroyed first
  topic_ptr keys_rkt_;  // the keys topic's, with one
  topic_ptr audio_rkt_;  // the audio topic's, with one

  std::mutex mu_;
  std::condition_variable cv_;  // the queue or the answered count changed
  std::deque<pending> queue_;   // guarded by mu_
  bool finishing_{false};       // guarded by mu_
  std::uint64_t accepted_{0};   // guarded by mu_
  std::uint64_t answered_{0};   // guarded by mu_
  std::atomic<bool> stopped_{false};
  std::once_flag joined_;
  std::thread thread_;
};

}  // namespace caseline::events::detail
