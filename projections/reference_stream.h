#pragma once

// Reference data that every decision reads (the registry of units, the working-day calendar) is
// kept in the log like the cases, each kind as one ordered, hash-chained stream under its own
// key. This header holds what those streams share: the head of a stream, the check that an event
// follows it, and the append that writes the next event and waits until it is applied.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/registry.h"
#include "core/result.h"
#include "events/event_log.h"
#include "events/record.h"
#include "projections/projection.h"
#include "projections/runner.h"

namespace caseline::projections {

// Where a reference stream stands: events applied, and the SHA-256 of the last one's stored bytes.
struct stream_head {
  std::uint64_t sequence{0};
  std::string last_hash;
};

// Whether this server may append now. A server alone on Kafka checks its single-writer claim
// (events::single_writer_claim::current) before each append: while the claim is in doubt another
// server may write the topic, and two writers of one stream would fork its hash chain, which no
// server could then apply. Empty: always (the embedded log; a group's writers are fenced).
using write_lease = std::function<bool()>;
// What an append the lease refuses answers: events::errc::not_owner, nothing written.
error lease_refused();

// errc corrupt_record unless `e` is the event that follows `head` in its stream.
result<void> check_follows(const stream_head& head, const decoded_registry_event& e,
                           std::string_view stream);
// The head after `e`.
stream_head advance(const decoded_registry_event& e);

// Waits until the runner has applied everything the log holds for the stream's partition
// (also writes whose outcome was unknown), so that a decision sees the whole stream. Returns
// the position of the partition's last record (nullopt: it has none): a read that waits for it
// sees the stream as the decision saw it.
result<std::optional<events::log_position>> catch_up_stream(events::event_log& log,
                                                            const projection_runner& runner,
                                                            std::string_view stream,
                                                            std::chrono::milliseconds timeout);

// Appends `e` as the event after `head` of the stream and waits until the log acknowledged it
// and the runner applied it; nothing when `lease` refuses.
result<events::log_position> append_reference_event(
    events::event_log& log, const projection_runner& runner, const write_lease& lease,
    std::string_view stream, const stream_head& head, const core::registry_event& e,
    const events::actor& by, const std::string& correlation_id, timestamp now,
    std::chrono::milliseconds timeout);
// The same for several events, chained in order after `head`, in one record: a reader applies
// all of them or none, never a part.
result<events::log_position> append_reference_events(
    events::event_log& log, const projection_runner& runner, const write_lease& lease,
    std::string_view stream, const stream_head& head, std::span<const core::registry_event> es,
    const events::actor& by, const std::string& correlation_id, timestamp now,
    std::chrono::milliseconds timeout);

}  // namespace caseline::projections
