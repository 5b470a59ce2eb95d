#include "projections/reference_stream.h"

#include <future>
#include <memory>

#include <fmt/format.h>

#include "core/codec.h"
#include "events/errc.h"
#include "events/log_reader.h"

namespace caseline::projections {

result<void> check_follows(const stream_head& head, const decoded_registry_event& e,
                           std::string_view stream) {
  if (events::follows(head.sequence, head.last_hash, e.env))
    return make_error(events::errc::corrupt_record,
                      fmt::format("{} event {} does not follow event {} of the {}", stream,
                                  e.env.event_id, head.sequence, stream));
  return success();
}

stream_head advance(const decoded_registry_event& e) {
  return stream_head{e.env.sequence(), events::sha256(e.stored_bytes)};
}

result<std::optional<events::log_position>> catch_up_stream(events::event_log& log,
                                                            const projection_runner& runner,
                                                            std::string_view stream,
                                                            std::chrono::milliseconds timeout) {
  const auto partition = events::partition_for(stream, log.partition_count());
  auto end = log.end_offset(partition);
  if (!end) return end.error();
  if (end.value()() == 0) return std::optional<events::log_position>{};
  const events::log_position last{partition, events::log_offset{end.value()() - 1}};
  if (!runner.wait_applied(last, timeout))
    return runner.not_applied(make_error(
        events::errc::unavailable, fmt::format("the {} projection is behind the log", stream)));
  return std::optional<events::log_position>{last};
}

error lease_refused() {
  return make_error(events::errc::not_owner,
                    "this server's claim to be the log's only writer is being confirmed (it did "
                    "not run for a while)");
}

result<events::log_position> append_reference_event(
    events::event_log& log, const projection_runner& runner, const write_lease& lease,
    std::string_view stream, const stream_head& head, const core::registry_event& e,
    const events::actor& by, const std::string& correlation_id, timestamp now,
    std::chrono::milliseconds timeout) {
  return append_reference_events(log, runner, lease, stream, head, std::span(&e, 1), by,
                                 correlation_id, now, timeout);
}

result<events::log_position> append_reference_events(
    events::event_log& log, const projection_runner& runner, const write_lease& lease,
    std::string_view stream, const stream_head& head, std::span<const core::registry_event> es,
    const events::actor& by, const std::string& correlation_id, timestamp now,
    std::chrono::milliseconds timeout) {
  if (lease && !lease()) return lease_refused();
  std::string last_hash = head.last_hash;
  events::record rec;
  for (const auto& e : es) {
    events::envelope env = events::new_event(case_id{std::string(stream)}, core::encode(e));
    env.recorded_at = now;
    env.occurred_at = now;
    env.by = by;
    env.correlation_id = correlation_id;
    rec.events.push_back(events::link_next(env, head.sequence + rec.events.size(), last_hash));
  }

  auto acked = std::make_shared<std::promise<result<events::log_position>>>();
  auto future = acked->get_future();
  log.append(std::string(stream), events::encode_record(rec),
             [acked](result<events::log_position> r) { acked->set_value(std::move(r)); });
  if (future.wait_for(timeout) != std::future_status::ready)
    return make_error(events::errc::timed_out,
                      fmt::format("the log did not acknowledge the {} event", stream));
  auto pos = future.get();
  if (!pos) return pos.error();
  if (!runner.wait_applied(pos.value(), timeout))
    return runner.not_applied(make_error(
        events::errc::unavailable, fmt::format("the {} projection is behind the log", stream)));
  return pos;
}

}  // namespace caseline::projections
