#pragma once

// What the Kafka log's consumers share: the reader lanes (detail/kafka_reader.h) and the
// subscriptions (kafka_event_log.cpp). Private to events/.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "events/detail/rdkafka_handle.h"
#include "events/event_log.h"

namespace caseline::events::detail {

// A consumer skips the offsets that hold nothing visible (transaction markers, aborted records
// under read_committed); readers get one gap record (events::is_gap) for each instead, so that
// every reader sees offsets 0, 1, 2 ... with none missing. Adds gap records of `p` from `next`
// up to `until` while `out` holds fewer than `limit`; `next` follows. True when it reached
// `until`.
bool add_gaps(partition_id p, std::int64_t& next, std::int64_t until, std::vector<log_record>& out,
              std::size_t limit = std::numeric_limits<std::size_t>::max());

// A consumer handle from `props` that also serves its errors and logs from the consumer queue.
result<handle_ptr> make_consumer(const properties& props);

// Assigns `topic`'s partitions at the given offsets (no group, no committed offsets).
result<void> assign(rd_kafka_t* rk, const std::string& topic,
                    const std::map<std::int32_t, std::int64_t>& offsets);

// Stops the fetchers of a consumer that is destroyed right after.
void close_consumer(rd_kafka_t* rk);

log_record to_record(const rd_kafka_message_t& m);

}  // namespace caseline::events::detail
