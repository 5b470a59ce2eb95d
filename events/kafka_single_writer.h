#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace caseline::events {

// The claim of a server without a group to be its Kafka topic's only writer.
//
// A server without a group writes every partition of its topic, and nothing in Kafka fences it
// (its producer is idempotent, not transactional). A second such server on the same topic would
// hand out the case ids the first hands out, and the log would hold two cases under one id. So
// the writer holds a membership of the topic's single-writer consumer group
// (single_writer_group: a group of its own, never committed to, its partitions paused) for as
// long as it writes, and acquire() returns only once that group gives it every partition of the
// topic: while another writer holds the membership, it never does, and acquire() refuses with
// errc::bad_config naming the topic and the other member's host.
//
// The membership is static (Kafka's group.instance.id, `instance`: one per data folder): a
// restart of the same folder, even after kill -9, takes its place at once; a writer of another
// folder waits until a stopped one's membership expires (the session timeout), up to `wait`.
// While it holds the claim, a newcomer that joins takes partitions from it until it gives up
// (logged: kafka_single_writer_contested); the holder writes on.
//
// Servers of a group (kafka_log_options::group) are fenced by their transactions and do not
// take this claim. Thread-safe; the destructor gives the claim up (the membership expires after
// the session timeout; the same folder takes it back at once).
struct single_writer_options {
  std::string brokers;
  std::string topic;
  std::int32_t partitions{8};
  std::string client_id{"caseline"};
  std::string instance;  // stable per data folder: the static membership's id
  std::chrono::milliseconds session_timeout{10'000};
  std::chrono::milliseconds wait{20'000};
};

class single_writer_claim {
 public:
  static result<std::unique_ptr<single_writer_claim>> acquire(const single_writer_options& o);
  ~single_writer_claim();
  single_writer_claim(const single_writer_claim&) = delete;
  single_writer_claim& operator=(const single_writer_claim&) = delete;

  class impl;

 private:
  explicit single_writer_claim(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

// "caseline.<topic>.single-writer".
std::string single_writer_group(std::string_view topic);

}  // namespace caseline::events
