#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/case_state.h"
#include "core/result.h"
#include "events/event_log.h"

namespace caseline::projections {

// What the case projection keeps per case: the folded state and what the write side needs to
// chain the next event (the hash of the last stored event).
struct case_row {
  core::case_state state;
  std::string last_hash;  // SHA-256 of the last event's stored bytes
};

// Where one event of a case is in the log: the record, and its index within the record.
struct event_location {
  events::log_position position;
  std::uint32_t index{0};
};

// One event of a case's history as the case projection keeps it (family case_events): where the
// log holds it, and its stored bytes (events/record.h encode_envelope: envelope and body, personal
// fields sealed as in the log), byte for byte the log's, so the hash chain and shredding apply to
// them as to the log.
struct history_event {
  event_location location;
  std::string stored_bytes;
};

std::string encode_case_row(const case_row& row);
result<case_row> decode_case_row(std::string_view bytes);

}  // namespace caseline::projections
