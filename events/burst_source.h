#pragma once

#include <cstdint>
#include <memory>

#include "core/result.h"
#include "events/event_log.h"

namespace caseline::events {

// A log that makes the records of several partitions durable in one write (the embedded log's
// group commit) and hands each such write to a subscriber as it wrote it: one batch holding
// every partition of it, each partition's records in offset order, without reading them back.
// For a consumer that writes one batch at a time (the projection runner: one store write per
// group commit). Records that do not follow on what the subscription delivered (it started
// behind the log's end, or fell behind) are read back and delivered one partition per batch, as
// event_log::subscribe does; the handler must take both.
//
// Thread-safety: as event_log. Lives as long as its log (bursts_of).
class burst_source {
 public:
  virtual ~burst_source() = default;
  // event_log::subscribe, with batches of one or more partitions.
  virtual result<std::unique_ptr<subscription>> subscribe_bursts(
      start_offsets from, event_log::batch_handler handler) = 0;
  // Records its burst subscriptions got by reading them back rather than in a burst, since the
  // log opened: those of a start behind the end, or of an inbox that overflowed; none while
  // they keep up.
  virtual std::uint64_t records_read_back() const = 0;
};

// The log's burst source; null for a log without one (Kafka: subscribe instead).
inline burst_source* bursts_of(event_log& log) { return dynamic_cast<burst_source*>(&log); }

}  // namespace caseline::events
