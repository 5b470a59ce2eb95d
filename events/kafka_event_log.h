#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/result.h"
#include "events/event_log.h"

namespace caseline::events {

struct kafka_log_timeouts {
  // A record not acknowledged by then fails with errc::unavailable (librdkafka
  // message.timeout.ms): a broker that is down makes appends fail in bounded time, never hang.
  std::chrono::milliseconds delivery{10'000};
  // Producer batching: how long a record may wait for others (librdkafka linger.ms). Every
  // append waits it before it is sent, so it is on every answer's path; 1 ms, not librdkafka's
  // 5, because under load the batches form anyway: the records of a burst (the key store's group
  // commit hands over many at once) are produced together, and the idempotent producer holds at
  // most 5 requests in flight per broker, so records queue behind them and leave together.
  std::chrono::milliseconds linger{1};
  // Creating or checking the topic at open, including waiting for its partition leaders.
  std::chrono::milliseconds open{30'000};
  // check() and end_offset(): one metadata or list-offsets request.
  std::chrono::milliseconds request{5'000};
  // How long destroying the log waits for outstanding appends before failing them (closed).
  std::chrono::milliseconds close{10'000};
};

struct kafka_log_options {
  std::string brokers;                 // bootstrap servers, "host:port[,host:port...]"
  std::string topic{"cases.events"};
  std::int32_t partitions{8};          // created with this count; an existing topic must match
  std::string client_id{"caseline"};
  // Extra librdkafka properties for every client (security, tuning). Settings that would lose
  // acknowledged events or make appends hang are refused at open with errc::bad_config.
  std::map<std::string, std::string> properties;
  kafka_log_timeouts timeouts;
  // A consumer group: with one, several servers share the topic's partitions, each the only
  // writer of those the group assigns it (event_log::join, ownership_listener). Empty: this
  // server writes every partition (one server alone on the topic).
  std::string group;
  // With a group: the base URL other members forward this server's partitions' commands to,
  // "http://host:port"; written in each partition claim (events/record.h).
  std::string advertise;
  // With a group: how long a member may be silent before the group gives its partitions to the
  // others (librdkafka session.timeout.ms; a kill -9 is noticed after this).
  std::chrono::milliseconds session_timeout{10'000};
};

// The log on an Apache Kafka topic through librdkafka.
//
// Open checks the options, creates the topic if it is missing (the configured partition count,
// replication factor min(3, brokers), retention.ms and retention.bytes -1, min.insync.replicas
// min(2, replication factor), no unclean leader election) or refuses an existing one that would
// lose events (finite retention, compaction, unclean election) or whose partition count differs,
// all with errc::bad_config naming the setting.
//
// Appends use an idempotent producer (acks=all) to the partition partition_for(key) gives; the
// handler runs on the producer's poll thread with the delivery report's position, or an error:
// unavailable (not acknowledged in time, broker down), fatal (the producer broke and is
// recreated), closed. Reads and end offsets use dedicated consumers without a group, one per
// partition, so that a slow partition holds up no other; each subscription has its own consumer
// assigned at the given offsets (no committed group offsets are ever used).
//
// Every consumer reads with isolation.level=read_committed; the offsets it skips (transaction
// markers, aborted records) are delivered as gap records (events::is_gap), so offsets stay dense,
// and end_offset() is the last stable offset.
//
// With a group (options.group, options.advertise): join() makes the log a member of the consumer
// group (cooperative-sticky). It appends only to the partitions the group assigned it, each
// through a transactional producer with transactional.id "caseline.<group>.<topic>.<p>", whose
// init_transactions fences the previous owner and whose first transaction is the partition
// claim; appends are batched into transactions and answered once committed (errc::not_owner for a
// partition it does not own, errc::fenced once a newer owner fenced its writer). Before join() it
// owns nothing. leave() or destruction leaves the group gracefully. See events/README.md.
//
// No call waits for the broker beyond a bound: read() returns within `wait` plus
// timeouts.request and end_offset() within timeouts.request (timed_out beyond), whatever the
// broker does, even frozen; check() never waits, it answers from a background health probe
// (one metadata request a second).
result<std::unique_ptr<event_log>> open_kafka_log(const kafka_log_options& options);

class key_journal;
// The key journal (events/key_journal.h) of a Kafka log with a group: a new case's key in the
// keys topic, in the very transaction of its record. Null for a log without a group and for any
// other log; events::journal_of (events/embedded_event_log.h) asks here. Lives as long as the log.
key_journal* kafka_journal_of(event_log& log);

// The librdkafka producer properties the Kafka log uses for `options` (idempotent, acks=all,
// bounded delivery timeout, linger, Nagle off, plus the extra properties), or bad_config for a
// setting that would lose acknowledged events. For tools that produce with raw librdkafka (the
// produce benchmark) exactly as the log does.
result<std::map<std::string, std::string>> kafka_producer_properties(
    const kafka_log_options& options);

}  // namespace caseline::events
