#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "core/time.h"
#include "events/periodic.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/sla_index.h"
#include "projections/store.h"

namespace caseline::projections {

struct reminder_options {
  std::string user{"caseline-scheduler"};  // the actor of the reminders (a supervisor of the center)
  std::size_t max_per_tick{1000};
};

// Sends the Art. 35 reminder for every deadline that passed unmet: each tick(now) reads the
// deadline index's to-remind list (deadlines due before now's Shanghai date that have no
// reminder in the log) and submits core::remind{kind, due} through the write side. Exactly once
// per deadline: the reminded event removes the deadline from the list when the projection
// applies it, and core::decide turns a second remind of the same (kind, due) into no event, so
// a resubmission after a restart (or while the projection lags) writes nothing. A server that
// was down when a deadline passed reminds at its first tick. In a Kafka group only the cases of
// the partitions the writer accepts (case_writer::accepts) are reminded: each by its owner, and a
// new owner, caught up, sees the reminders the previous one wrote.
//
// Lifecycle: borrows the store and the writer, which must outlive it; wait_idle() before
// destroying it when submissions may be in flight. Thread-safety: tick() from one thread at a
// time; counters and wait_idle() from any thread.
class reminder_scheduler {
 public:
  reminder_scheduler(store& s, case_writer& writer, const core::calendar& cal,
                     reminder_options options = {});
  ~reminder_scheduler();

  // Submits what is due as of `now`; returns how many reminders it submitted.
  result<std::size_t> tick(timestamp now);
  // Waits until every submitted reminder has its outcome. True if none is left in flight.
  bool wait_idle(std::chrono::milliseconds timeout);

  std::uint64_t written() const;   // reminders that appended a reminded event
  std::uint64_t no_ops() const;    // reminders the write side found already sent
  std::uint64_t refused() const;   // rule errors (the deadline was met meanwhile, ...)
  std::uint64_t failed() const;    // transient errors: retried at a later tick
  std::size_t in_flight() const;   // submitted, outcome pending
  std::uint64_t passes() const;    // ticks that read the list and submitted what was due
  // The last refusal or failure ("" if none), for the health endpoint and logs.
  std::string last_error() const;
  void note_error(std::string e);

 private:
  void on_done(const std::string& key, result<command_outcome> r);

  case_writer& writer_;
  sla_reader reader_;
  reminder_options options_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::set<std::string> in_flight_;  // remind keys submitted, outcome pending
  std::set<std::string> settled_;    // keys with an outcome, until the index drops them
  std::uint64_t written_{0}, no_ops_{0}, refused_{0}, failed_{0}, passes_{0};
  std::string last_error_;
};

// Runs the scheduler's tick as the periodic task "reminders": at once, then every `interval` and
// whenever poked (after the manual clock moved, or a calendar year was published), at the time of
// `clk` (the system clock or the manual clock of `serve --clock manual`). `before_tick`, when
// given, runs first at each tick with the same time (the deadline revision, so reminders follow
// revised deadlines). A failed tick (the store unreadable) is kept as last_error() and retried at
// the next. Borrows the scheduler and the clock, which must outlive the task.
events::periodic_task start_reminders(reminder_scheduler& scheduler, const clock& clk,
                                      std::chrono::milliseconds interval = std::chrono::seconds(5),
                                      std::function<void(timestamp)> before_tick = {});

}  // namespace caseline::projections
