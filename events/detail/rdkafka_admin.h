#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "events/detail/rdkafka_handle.h"

namespace caseline::events::detail {

// What the case-event topic must look like. Only `name` and `partitions` vary; the rest is fixed
// because the log is the system of record: kept forever, never compacted, no unclean election.
// The data keys' topic of a group (events/key_log.h) is compacted instead: only each key id's
// last record stays, and a shredded key's records go within a bound (keys_topic_configs).
struct topic_spec {
  std::string name;
  std::int32_t partitions{};
  bool keys{false};  // the data keys' topic
};

// The keys topic's settings besides cleanup.policy=compact. A tombstone's segment is rolled
// within segment.ms and compacted at most max.compaction.lag.ms after that (a dirty ratio of
// 0.01 never holds it back): a shredded key's wrapped value is gone from the brokers' segments
// about segment.ms + max.compaction.lag.ms (2 hours) after its tombstone, plus one cleaner
// pass. The tombstone itself (no key in it) stays delete.retention.ms (7 days), so that a server
// away for less than that still applies it.
inline constexpr std::pair<const char*, const char*> keys_topic_configs[] = {
    {"segment.ms", "3600000"},
    {"max.compaction.lag.ms", "3600000"},
    {"min.cleanable.dirty.ratio", "0.01"},
    {"delete.retention.ms", "604800000"},
};

// Creates the topic if it is missing (replication factor min(3, brokers), retention.ms and
// retention.bytes -1, cleanup.policy delete, min.insync.replicas min(2, replication factor),
// unclean.leader.election.enable false) and waits until every partition has a leader; then
// checks the topic as it is on the cluster (also when it existed): a partition count other than
// spec.partitions, a finite retention, compaction or unclean leader election is bad_config naming
// the setting. A keys topic: cleanup.policy compact and keys_topic_configs instead of the
// retention settings, and compaction is what is required. `admin` is any client handle, used from
// the calling thread only.
result<void> ensure_topic(rd_kafka_t* admin, const topic_spec& spec,
                          std::chrono::milliseconds timeout);

// One partition as the cluster's metadata shows it (broker ids).
struct partition_replicas {
  std::int32_t id{};
  std::int32_t leader{-1};  // -1: none, or the partition reports an error
  std::vector<std::int32_t> replicas;
  std::vector<std::int32_t> in_sync;
};

// A topic as the cluster describes it: how many brokers the metadata lists, each partition's
// leader, replicas and in-sync replicas (empty when the topic does not exist), and the topic's
// configs with the cluster's defaults filled in (DescribeConfigs; only for an existing topic).
struct topic_description {
  int brokers{};
  bool exists{};
  bool topic_error{};  // the metadata names an error for the topic as a whole
  std::vector<partition_replicas> partitions;
  std::map<std::string, std::string> configs;
};

// Describes `topic` (metadata, then its configs when it exists) within `timeout`. For operators'
// checks and the cluster tests: replication factor, in-sync replicas, min.insync.replicas.
result<topic_description> describe_topic(rd_kafka_t* admin, const std::string& topic,
                                         std::chrono::milliseconds timeout);

}  // namespace caseline::events::detail
