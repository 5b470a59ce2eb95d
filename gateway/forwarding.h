#pragma once

// Any server of a Kafka group takes any request: a write goes to the server that owns its
// partition (forwarded there when that is another one), and position tokens give a client
// read-your-writes on whichever server answers its next read. See gateway/README.md
// "Scale-out: any server takes any request".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "events/event_log.h"

namespace caseline::gateway {

// Answers of writes carry their record's position; reads may wait for positions; a forwarded
// request names the server that forwarded it (it is never forwarded again).
inline constexpr std::string_view position_header = "Caseline-Position";
inline constexpr std::string_view after_header = "Caseline-After";
inline constexpr std::string_view forwarded_by_header = "Caseline-Forwarded-By";

// The stream key of each reference stream (registry of units, calendar, tokens): its records go
// to partition_for(key), so its writes go to that partition's owner.
inline constexpr std::string_view registry_stream = "registry";
inline constexpr std::string_view calendar_stream = "calendar";
inline constexpr std::string_view tokens_stream = "tokens";

// "<partition>:<offset>".
std::string format_position(events::log_position p);

// A Caseline-After value: "<partition>:<offset>[,<partition>:<offset>...]" (spaces around the
// commas allowed), each partition below `partitions`, offsets >= 0, at most 64 positions. An
// error (errc::bad_request) names the header and what is wrong.
result<std::vector<events::log_position>> parse_positions(std::string_view value,
                                                          std::int32_t partitions);

}  // namespace caseline::gateway
