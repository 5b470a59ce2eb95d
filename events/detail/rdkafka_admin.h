#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "events/detail/rdkafka_handle.h"

namespace caseline::events::detail {

// What the case-event topic must look like. Only `name` and `partitions` vary; the rest is fixed
// because the log is the system of record: kept forever, never compacted, no unclean election.
struct topic_spec {
  std::string name;
  std::int32_t partitions{};
};

// Creates the topic if it is missing (replication factor min(3, brokers), retention.ms and
// retention.bytes -1, cleanup.policy delete, min.insync.replicas min(2, replication factor),
// unclean.leader.election.enable false) and waits until every partition has a leader; then
// checks the topic as it is on the cluster (also when it existed): a partition count other than
// spec.partitions, a finite retention, compaction or unclean leader election is bad_config naming
// the setting. `admin` is any client handle, used from the calling thread only.
result<void> ensure_topic(rd_kafka_t* admin, const topic_spec& spec,
                          std::chrono::milliseconds timeout);

}  // namespace caseline::events::detail
