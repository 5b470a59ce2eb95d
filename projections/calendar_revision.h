#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/result.h"
#include "core/time.h"
#include "projections/calendar_projection.h"
#include "projections/case_writer.h"
#include "projections/store.h"

namespace caseline::projections {

struct revision_stats {
  bool swept{false};            // the calendar had changed since the last completed sweep
  std::uint64_t cases{0};       // cases with a deadline counted on another calendar version
  std::uint64_t revised{0};     // of them, cases that got deadline_revised events
  std::uint64_t failed{0};      // transient failures: the sweep is tried again at the next tick
};

// Revises pending deadlines when the calendar changes (a year's notice is published over its
// provisional year, or a year is corrected). tick() compares the calendar version with the one
// of the last completed sweep (stored in server_state), and if they differ submits
// core::revise_deadlines through the write side for every case whose pending deadline (the
// deadline index) was counted on another version. core::decide emits a deadline_revised event
// only where a date or the provisional status changes, so a sweep that is repeated after a crash
// or a second publication of the same lines writes nothing new. The version is recorded as swept
// only when every case had its outcome.
//
// Lifecycle: borrows the store, the writer and the calendar projection, which must outlive it.
// tick() from one thread at a time (the reminder task, before its reminders, so reminders
// follow revised deadlines).
class deadline_reviser {
 public:
  deadline_reviser(store& s, case_writer& writer, const calendar_projection& cal,
                   std::string user = "caseline-calendar",
                   std::chrono::milliseconds timeout = std::chrono::minutes(5))
      : store_(s), writer_(writer), calendar_(cal), user_(std::move(user)), timeout_(timeout) {}

  result<revision_stats> tick(timestamp now);

 private:
  store& store_;
  case_writer& writer_;
  const calendar_projection& calendar_;
  std::string user_;
  std::chrono::milliseconds timeout_;
};

}  // namespace caseline::projections
