#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/case_state.h"
#include "core/result.h"
#include "events/event_log.h"
#include "events/log_reader.h"
#include "events/record.h"
#include "tools/serve.h"

namespace caseline::tools {

struct replay_options {
  store_options store;
  std::string case_id;
  std::string as_of;              // RFC 3339; empty: the whole history, deadlines as of `now`
  std::string format{"text"};     // text or json
  bool verify{false};             // also recompute the partition's checkpoints
  std::optional<timestamp> now;   // "now" for deadlines without --as-of (the system clock if unset)
};

// One event of the replayed case, with the state after it.
struct replayed_event {
  events::envelope env;
  events::log_position position;
  std::uint32_t index{0};
  std::string hash;                        // SHA-256 of its stored bytes, hex
  core::case_state state;                  // after this event
  std::vector<core::deadline> deadlines;   // core::deadlines(state, recorded_at)
};

// The first thing found wrong: the event (or record, or checkpoint) and what is wrong with it.
using replay_problem = events::integrity_problem;

struct replay_result {
  std::string case_id;
  events::partition_id partition;
  std::vector<replayed_event> events;      // in order, up to as_of
  std::uint64_t events_in_log{0};          // the whole chain, including those after as_of
  std::optional<timestamp> as_of;
  core::case_state state;                  // as of as_of (or after the last event)
  std::vector<core::deadline> deadlines;   // as of as_of (or now)
  timestamp deadlines_at;
  std::uint64_t checkpoints_verified{0};   // with verify
  std::uint64_t uncovered_records{0};      // with verify: records after the last checkpoint
  std::optional<replay_problem> problem;
};

// The case's history verified by events::verify_case (its chain; with options.verify, every
// checkpoint of its partition too), folded with core::evolve up to as_of. A tampered history is
// a result with `problem` set; an error is a log that cannot be read or bad options.
result<replay_result> replay_case(events::event_log& log, const replay_options& options);

// `caseline replay CASE`: the timeline on `out` (text or json), problems on `err`.
// Exit code: 0 verified, 1 tampered (the first bad event is named), 2 the case is not in the
// log, the log cannot be read or an option is invalid.
int run_replay(const replay_options& options, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
