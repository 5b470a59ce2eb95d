#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "events/event_log.h"

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
// (logged: kafka_single_writer_contested); the holder writes on. A holder whose membership
// ends under it (it was paused, or cut off from the group's coordinator, past the session
// timeout) rejoins: given every partition back, it writes on (the broker was away:
// kafka_single_writer_regained); while another server is a member, that one took the topic
// meanwhile, and the claim is lost for good, as it is when a process with the same member id
// fences this one: `on_lost` runs once, on the claim's thread, and the writer must stop writing
// (the server stops with an error: its restart takes the claim again, or is refused).
//
// Kafka does not fence a writer alone's producer, so the claim keeps its writer (attach()) from
// writing on what may be stale. The claim is in doubt from the moment its membership ends, and
// from the moment the process is seen not to have run for a third of the session timeout (a
// pause or a suspend: its membership may have ended meanwhile without it knowing yet); current()
// turns false at once, before any thread of the process learns of it, so an append decided as
// the process wakes is refused. In doubt, the writer has every partition revoked. A membership
// the group still lists ends the doubt (nobody else could have held the topic); a membership
// that ended ends it once regained, and the writer gets every partition back through
// partition_assigned, which reads the log to its end before it decides again: what a
// replacement wrote while this one was away (one that came and went) is applied first, and no
// case id is handed out twice. What stays open: records already handed to the producer when the
// process was paused are sent when it runs again.
//
// Servers of a group (kafka_log_options::group) are fenced by their transactions and claim
// nothing, but they join the same group (group_member): a writer alone never gets every
// partition while one of them is a member, and one of them is refused (after `wait`) while a
// writer alone is a member. The members tell each other apart by their client ids
// ("caseline-alone", "caseline-group"). Thread-safe; the destructor gives the claim up (a
// static membership expires after the session timeout, the same folder takes it back at once;
// a group's server's membership ends at once).
struct single_writer_options {
  std::string brokers;
  std::string topic;
  std::int32_t partitions{8};
  // A server of a --group: a (dynamic) member of the same group that claims nothing (its
  // transactions fence it), refused while a writer without a group holds the claim, and whose
  // membership keeps such a writer from ever getting every partition.
  bool group_member{false};
  std::string instance;  // a writer alone: stable per data folder, the static membership's id
  std::chrono::milliseconds session_timeout{10'000};
  std::chrono::milliseconds wait{20'000};
  // A writer alone: runs once, on the claim's thread, when the claim is lost (the reason, for
  // the operator). Not called for a group's server, nor while the claim is given up.
  std::function<void(const std::string& reason)> on_lost{};
  // The clock the doubt reads, in nanoseconds: CLOCK_BOOTTIME when empty (it runs on while the
  // process is stopped or the machine suspended). Tests pass their own.
  std::function<std::int64_t()> boot_clock{};
};

class single_writer_claim {
 public:
  static result<std::unique_ptr<single_writer_claim>> acquire(const single_writer_options& o);
  ~single_writer_claim();

  // A writer alone: the writer that decides for the topic hears of the doubt (above) through
  // `writer`, on the claim's thread: every partition revoked (lost) when the claim falls in
  // doubt, or at once when it is in doubt already; every partition assigned when it is
  // confirmed. Null detaches, after a call in progress returned: detach before the writer is
  // destroyed.
  void attach(ownership_listener* writer);
  // Whether this server may append now: false while the claim is in doubt, lost, or not seen
  // current for a third of the session timeout. A writer alone checks it before each append; an
  // atomic load and a clock read. Always true for a group's server.
  bool current() const;
  single_writer_claim(const single_writer_claim&) = delete;
  single_writer_claim& operator=(const single_writer_claim&) = delete;

  class impl;

 private:
  explicit single_writer_claim(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

// "caseline.<topic>.single-writer".
std::string single_writer_group(std::string_view topic);

// How often a member of a group with this session timeout heartbeats: a third of it, from 0.1 s
// to 3 s (librdkafka heartbeat.interval.ms; the claim and a group's servers alike).
std::chrono::milliseconds heartbeat_interval(std::chrono::milliseconds session_timeout);

// The delivery timeout of a server alone on the topic (at most `configured`). Kafka does not
// fence its producer: the claim does, and another server may take the topic once this one's
// membership has expired, as soon as a session timeout less a heartbeat interval after this
// process stopped. A record still queued in the producer when it stopped must fail before then
// (librdkafka fails a record past its timeout before it sends it), or it would reach the log
// behind the other server's records, with case ids that server has handed out too. So: the
// session timeout less a heartbeat interval less 1 s, and at least 1 s: 6 s with the default
// 10-s session timeout, 3 s with the shortest one (6 s).
std::chrono::milliseconds single_writer_delivery_timeout(std::chrono::milliseconds session_timeout,
                                                         std::chrono::milliseconds configured);

}  // namespace caseline::events
