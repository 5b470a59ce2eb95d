#pragma once

#include <vector>

#include "core/authorization.h"
#include "core/calendar.h"
#include "core/case_state.h"
#include "core/commands.h"
#include "core/registry.h"
#include "core/result.h"
#include "core/retention.h"
#include "core/sla.h"

namespace caseline::core {

// Everything a decision may depend on besides the state: the instant, the calendar, the
// registry, the time limits and who acts. Passed in, never read from the environment, so that
// decisions are reproducible. The pointers are borrowed and must outlive the call.
struct context {
  timestamp now;
  const calendar* cal{nullptr};
  const core::registry* reg{nullptr};
  sla_policy sla;
  core::actor who;
  retention_policy retention;
  // The revisit sample so far of the case's center and month (in the case's log partition),
  // which a reply or an immediate answer joins (Art. 23, 46; core/sla.h). The writer keeps it.
  revisit_tally revisit_so_far;
};

// Decides a command against the current state. Success: the events to append, in order; empty
// only for a reminder already sent for the same deadline (Art. 35 reminders are idempotent).
// Failure: a rule error naming the rule and article. Pure.
result<std::vector<event>> decide(const case_state& state, const command& cmd, const context& ctx);

// Applies one event (recorded at `at`) to the state. Pure and total: every event that decide
// produced applies.
case_state evolve(case_state state, const event& e, timestamp at);

}  // namespace caseline::core
