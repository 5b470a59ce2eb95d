#include "projections/reminder_scheduler.h"

#include "tests/projections/scenarios.h"

namespace caseline::projections::testing {
namespace {

TEST_CASE("each passed deadline is reminded exactly once, across restarts and downtime") {
  reminder_exactly_once(backend::embedded);
}

TEST_CASE("the reminder task follows the manual clock") {
  stack s;
  const auto agent = world::agent("410100");
  play(s, {{"2026-10-12", "S", recv("410100"), agent}});  // transfer due 10-15
  reminder_scheduler sched(s.db(), s.writer(), core::testing::repo_calendar());
  {
    auto task = start_reminders(sched, s.clock(), std::chrono::hours(1));
    s.clock().set(at(date("2026-10-16")));
    task.poke();
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (sched.written() == 0 && std::chrono::steady_clock::now() < deadline) {
      sched.wait_idle(100ms);
      task.poke();
    }
  }
  REQUIRE(sched.wait_idle(60s));
  CHECK(sched.written() == 1);
  CHECK(s.count_in_log(core::reminded::type_id) == 1);
}

}  // namespace
}  // namespace caseline::projections::testing
