#pragma once

#include <vector>

#include "core/calendar.h"
#include "core/case_state.h"
#include "core/commands.h"
#include "core/result.h"

namespace caseline::core {

// Everything a decision may depend on besides the state: the instant, the calendar. Passed in,
// never read from the environment, so that decisions are reproducible.
struct context {
  timestamp now;
  const calendar* cal{nullptr};
};

// Decides a command against the current state. Success: the events to append (at least one),
// in order. Failure: a rule error naming the rule and article. Pure.
result<std::vector<event>> decide(const case_state& state, const command& cmd, const context& ctx);

// Applies one event (recorded at `at`) to the state. Pure and total: every event that decide
// produced applies.
case_state evolve(case_state state, const event& e, timestamp at);

}  // namespace caseline::core
