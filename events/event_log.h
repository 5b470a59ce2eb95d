#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/named_type.h"
#include "core/result.h"

namespace caseline::events {

using partition_id = named_type<std::int32_t, struct partition_id_tag>;
class key_log;
using log_offset = named_type<std::int64_t, struct log_offset_tag>;

struct log_position {
  partition_id partition;
  log_offset offset;
  friend auto operator<=>(const log_position&, const log_position&) = default;  // NOLINT
};

// One record of the log: the key (a case id) and the encoded value (events/record.h).
struct log_record {
  log_position position;
  std::string key;
  std::string value;
};

// Where a subscription starts: partition -> first offset to deliver. Partitions not named start
// at offset 0.
using start_offsets = std::map<std::int32_t, std::int64_t>;

// A running subscription. Destroying it stops delivery and joins its thread; after the
// destructor returns, the handler is never called again.
class subscription {
 public:
  virtual ~subscription() = default;
  // The error that stopped delivery (the handler's or the log's), if any. A stopped
  // subscription delivers nothing more: a record that cannot be handled is never skipped.
  virtual std::optional<error> failure() const = 0;
};

// Which partitions this server writes: decides commands for and appends to. A Kafka log with a
// consumer group (events/kafka_event_log.h) owns those the group assigns it; every other log owns
// every partition, always, and never calls a listener.
class ownership_listener {
 public:
  virtual ~ownership_listener() = default;
  // p is this server's from now on: the previous owner's writer is fenced (it can commit nothing
  // more to p), end_offset(p) counts every record it committed, and this server's claim record
  // (events/record.h) is in p. Called on the log's group thread; must not block long (start the
  // catch-up elsewhere).
  virtual void partition_assigned(partition_id p) = 0;
  // p is being taken from this server (a rebalance, leaving the group, or the group lost it).
  // Returns once this server has stopped deciding for p's cases: appends to p issued after it
  // returns fail with errc::not_owner, and the log waits for those in flight before it hands p
  // over. `lost`: the group already gave p to another member (this server may be fenced).
  virtual void partition_revoked(partition_id p, bool lost) = 0;
};

// A group member's counters (/metrics).
struct group_status {
  std::string group;
  std::uint64_t rebalances{0};   // assignments and revocations this member has seen
  std::uint64_t fenced{0};       // appends refused because a newer owner fenced this writer
  std::uint64_t reclaims{0};     // partitions claimed again after their writer stopped (fenced,
                                 // failed or a commit timed out) while still assigned here
};

// The case-event log: partitions of ordered records, records of one key always in one partition
// (partition_for), offsets 0, 1, 2 ... per partition. Two backends implement it (Kafka and the
// embedded RocksDB log) and one conformance suite tests both; nothing above events/ knows which
// one runs.
//
// Thread-safety: every member function may be called from any thread concurrently.
class event_log {
 public:
  // Runs exactly once per append, on a thread of the log, once the record is durable (Kafka:
  // acknowledged by all in-sync replicas; embedded: in a synced WAL) with its position, or with
  // the error that means it is not known to be written. It must not block.
  using append_handler = std::function<void(result<log_position>)>;
  // Handles one batch of records of one partition, in offset order. An error stops the
  // subscription (see subscription::failure).
  using batch_handler = std::function<result<void>(std::span<const log_record>)>;

  // Whether this server may write now: asked right before each record is queued.
  using write_gate = std::function<bool()>;

  virtual ~event_log() = default;

  virtual std::int32_t partition_count() const = 0;
  // Kafka without a group: the single-writer claim's lease (single_writer_claim::current),
  // asked by the producer right before it queues each record, and once more after. A record
  // refused before is not written (errc::not_owner). A writer paused between its own check and
  // the queueing would send its record on waking, after a replacement's records: when the gate
  // closed meanwhile, what is queued and not yet sent is purged (not written, each record told
  // so). A record that left before the purge is in the log; only fencing by the broker closes
  // that last gap. A no-op for the embedded log and a group's writers (fenced by transactions).
  virtual void set_write_gate(const write_gate& /*gate*/) {}
  // Asynchronous: returns at once; appends from many threads are batched by the backend.
  virtual void append(std::string key, std::string value, append_handler handler) = 0;
  // The same, to partition `p` whatever the key: for records that belong to a partition rather
  // than to a key (tamper-evidence checkpoints, events/checkpoint.h). An invalid partition fails
  // the handler with errc::invalid_partition. Order with appends to the same partition is kept.
  virtual void append_to(partition_id p, std::string key, std::string value,
                         append_handler handler) = 0;
  // Up to `max_records` records of `p` from offset `from` on; waits up to `wait` for the first
  // one when there is none yet, then returns what there is (possibly nothing).
  virtual result<std::vector<log_record>> read(partition_id p, log_offset from,
                                               std::size_t max_records,
                                               std::chrono::milliseconds wait) = 0;
  // The offset the next record appended to `p` will get.
  virtual result<log_offset> end_offset(partition_id p) = 0;
  // Delivers every record from `from` on, in order per partition, to `handler` (on a thread of
  // the subscription), until the subscription is destroyed or the handler fails.
  virtual result<std::unique_ptr<subscription>> subscribe(start_offsets from,
                                                           batch_handler handler) = 0;
  // Waits until every append issued before the call has had its handler called.
  virtual result<void> flush(std::chrono::milliseconds timeout) = 0;
  // Is the log reachable now (for /readyz)?
  virtual result<void> check() = 0;

  // Group membership (Kafka with a consumer group only; see ownership_listener). join() starts
  // it: the listener hears of each partition the group assigns or revokes, on the log's group
  // thread; it must outlive the membership (leave() or the log's destruction). A log without a
  // group owns every partition and returns at once without calling the listener.
  virtual result<void> join(ownership_listener& listener) {
    (void)listener;
    return success();
  }
  // Leaves the group (a graceful stop): revokes every owned partition through the listener, then
  // returns; the group gives them to the other members at once instead of after the session
  // timeout. Idempotent; nothing without a group.
  virtual void leave() {}
  // Whether this server may append to p now (false while the group has not assigned it).
  virtual bool owns(partition_id p) const {
    return p() >= 0 && p() < partition_count();
  }
  // The member's counters; none without a group.
  virtual std::optional<group_status> group() const { return std::nullopt; }
  // The data keys' replicated topic (events/key_log.h): the Kafka log with a group only; none
  // elsewhere (the keys stay in the server's own key store). Lives as long as the log.
  virtual key_log* keys() { return nullptr; }
  // The call audio's replicated topic, the same way (projections/audio_replica.h).
  virtual key_log* audio() { return nullptr; }
  // The partitions owned now, ascending.
  std::vector<partition_id> owned() const {
    std::vector<partition_id> out;
    for (std::int32_t p = 0; p < partition_count(); ++p)
      if (owns(partition_id{p})) out.push_back(partition_id{p});
    return out;
  }
};

// The partition of a key: Kafka's Java client default partitioner (murmur2, positive, modulo),
// so that any other client producing with the same key agrees with us.
partition_id partition_for(std::string_view key, std::int32_t partition_count);

}  // namespace caseline::events
