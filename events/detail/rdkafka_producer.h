#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>

#include "core/result.h"
#include "events/detail/rdkafka_handle.h"
#include "events/event_log.h"

namespace caseline::events::detail {

// Produces records to explicit partitions of one topic and reports each one exactly once, on its
// own poll thread, with the position from a successful delivery report or with an error: a
// record is success only when its delivery report says so.
//
// On a fatal producer error (librdkafka 2.0.2 can raise OUT_OF_ORDER_SEQUENCE_NUMBER after a
// timeout), every record of the broken client that has not been acknowledged fails with
// errc::fatal, and the poll thread replaces the client by a fresh one; later records go to the
// new client.
//
// Lifecycle: open() connects lazily (librdkafka); the destructor stops taking records, waits up
// to `drain_timeout` for outstanding deliveries, fails what is left with errc::closed and joins
// the poll thread. Ownership: owns its librdkafka clients and the records until reported.
// Thread-safety: produce, flush and native_handle may be called from any thread concurrently;
// handlers run on the poll thread only and must not block.
class rdkafka_producer {
 public:
  using delivery_handler = std::function<void(result<log_position>)>;

  // `props` is the full librdkafka configuration (bootstrap servers, idempotence, timeouts).
  static result<std::unique_ptr<rdkafka_producer>> open(std::string topic, properties props,
                                                         std::chrono::milliseconds drain_timeout);

  rdkafka_producer(const rdkafka_producer&) = delete;
  rdkafka_producer& operator=(const rdkafka_producer&) = delete;
  ~rdkafka_producer();

  // Asynchronous; `handler` runs exactly once on the poll thread.
  void produce(partition_id partition, std::string key, std::string value,
               delivery_handler handler);
  // Asked right before each record is queued and once after (event_log::set_write_gate): false
  // before refuses the record (errc::not_owner, not written); false after purges every record
  // queued and not yet sent. Null: none.
  void set_gate(std::function<bool()> gate);
  // Waits until every record produced before the call has been reported.
  result<void> flush(std::chrono::milliseconds timeout);
  // Whether the current client answers a metadata request within `timeout`.
  result<void> check(std::chrono::milliseconds timeout);

  // The current client, for fault injection in tests (mock cluster, rd_kafka_test_fatal_error).
  // Valid until the client is replaced after a fatal error.
  rd_kafka_t* native_handle();
  // How many clients this producer has created (1 + replacements after fatal errors).
  std::uint64_t clients_created() const noexcept { return clients_created_.load(); }

  struct record;      // one produced record and its handler (defined in the .cpp)
  struct generation;  // one librdkafka client; replaced after a fatal error

 private:
  rdkafka_producer(std::string topic, properties props, std::chrono::milliseconds drain_timeout);

  result<std::unique_ptr<generation>> make_generation();
  void poll_loop();
  void replace_broken_client();
  void drain(generation& g, std::chrono::milliseconds timeout);
  void fail_later(record* r, error e);
  void run_failed();
  void deliver(record* r, result<log_position> outcome);

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  const std::string topic_;
  const properties props_;
  const std::chrono::milliseconds drain_timeout_;

  // Guards which client is current: produce() holds it shared, the poll thread takes it
  // exclusively to swap in a fresh client.
  std::shared_mutex client_mutex_;
  std::unique_ptr<generation> current_;
  bool closing_{false};         // guarded by client_mutex_
  std::function<bool()> gate_;  // guarded by client_mutex_

  // Records that failed before reaching librdkafka; reported by the poll thread.
  std::mutex failed_mutex_;
  std::deque<std::pair<record*, error>> failed_;

  // Tickets of records not yet reported, for flush().
  std::mutex tickets_mutex_;
  std::condition_variable tickets_cv_;
  std::set<std::uint64_t> outstanding_;
  std::uint64_t next_ticket_{0};

  std::atomic<std::uint64_t> clients_created_{0};
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace caseline::events::detail
