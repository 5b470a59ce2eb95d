#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "events/event_log.h"

namespace caseline::events {

// The replicated copy of the data keys of a group: a compacted topic beside the case log
// ("<topic>.keys", as many partitions), whose records are key id -> the key wrapped by the master
// key, and a null value (a tombstone) for a shredded key. Only the Kafka log with a consumer group
// has one (event_log::keys()); the embedded log and a single server keep their keys local.
//
// Partition p of the keys topic is written only through the fenced writer of partition p of the
// case log (the same transactional producer), so a writer that a newer owner fenced can commit no
// key any more, and a key committed before a case's first event is visible before that event.
//
// The call audio's topic ("<topic>.audio", projections/audio_replica.h) is a key_log too, with
// the same guarantees: event_log::audio(). Its records are sealed recordings in chunks.
//
// Thread-safety: every member from any thread. Handlers run on a log thread and must not block.
class key_log {
 public:
  virtual ~key_log() = default;

  virtual std::int32_t partition_count() const = 0;
  // Commits `key` -> `value` (empty: a tombstone) through partition p's fenced writer, in a
  // transaction of that writer; `handler` gets the record's position in the keys topic once it is
  // committed and visible, or errc::not_owner (p is not this server's), errc::fenced,
  // errc::unavailable, errc::outcome_unknown as for an append.
  virtual void commit(partition_id p, std::string key, std::string value,
                      event_log::append_handler handler) = 0;
  // Writes a record that belongs to no partition's writer (the master-key check) to partition p,
  // idempotently; returns once it is acknowledged.
  virtual result<log_position> publish(partition_id p, std::string key, std::string value,
                                       std::chrono::milliseconds timeout) = 0;
  // The same without waiting: `handler` as for an append (an empty value is a tombstone).
  virtual void publish_async(partition_id p, std::string key, std::string value,
                             event_log::append_handler handler) = 0;
  // The last stable offset of partition p: every committed key record is below it.
  virtual result<log_offset> end_offset(partition_id p) = 0;
  // How long the topic keeps a tombstone once its segment is compacted: its delete.retention.ms
  // (the cluster's default when the topic sets none). A reader away longer may have missed one.
  virtual result<std::chrono::milliseconds> tombstone_retention(
      std::chrono::milliseconds timeout) = 0;
  // Committed records only (read_committed), with gap records for the offsets that hold none, as
  // event_log::subscribe delivers them; a tombstone has an empty value.
  virtual result<std::unique_ptr<subscription>> subscribe(start_offsets from,
                                                          event_log::batch_handler handler) = 0;
};

// The keys topic of a case-event topic.
inline std::string keys_topic_of(const std::string& topic) { return topic + ".keys"; }
// The call audio's topic of a case-event topic.
inline std::string audio_topic_of(const std::string& topic) { return topic + ".audio"; }

}  // namespace caseline::events
