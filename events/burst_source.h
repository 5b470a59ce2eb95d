#pragma once

#include <cstdint>
#include <memory>

#include "core/result.h"
#include "events/event_log.h"

namespace caseline::events {

// A log that hands a subscriber several partitions' records in one batch, each partition's
// records in offset order: the embedded log each group commit as it wrote it (the records of
// several partitions made durable in one write), without reading them back; the Kafka log what
// one poll of its consumer fetched. For a consumer that writes one batch at a time (the
// projection runner: one store write per batch, not one per partition of it). On the embedded
// log, records that do not follow on what the subscription delivered (it started behind the
// log's end, or fell behind) are read back and delivered one partition per batch, as
// event_log::subscribe does; the handler must take both.
//
// Thread-safety: as event_log. Lives as long as its log (bursts_of).
class burst_source {
 public:
  virtual ~burst_source() = default;
  // event_log::subscribe, with batches of one or more partitions.
  virtual result<std::unique_ptr<subscription>> subscribe_bursts(
      start_offsets from, event_log::batch_handler handler) = 0;
};

// The log's burst source; null for a log without one (subscribe instead).
inline burst_source* bursts_of(event_log& log) { return dynamic_cast<burst_source*>(&log); }

}  // namespace caseline::events
