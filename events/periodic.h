#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace caseline::events {

// When a periodic task runs, besides every poke().
struct periodic_schedule {
  // The time between the end of one run and the start of the next (steady time: a manual clock
  // that jumps pokes the task instead). Zero or less: only when poked (and at_start / at_stop).
  std::chrono::milliseconds interval{0};
  bool at_start{false};  // run once as soon as the task starts, then wait
  bool at_stop{false};   // run once more when stopped, over what the last run did not see
};

// Background work that runs now and then: a named body run on a thread of its own at an
// interval and whenever poked. Checkpoints, the health probe of the Kafka log, the reminders
// (with the deadline revision before them) and the report jobs are each one such task.
//
// One thread per task, not one scheduler thread for all: the bodies block (a checkpoint waits up
// to 30 s for its acknowledgement, a deadline revision minutes for its outcomes, a health probe
// for the broker's request timeout), and a shared thread would let a slow one starve the others
// (the health probe's answer goes stale and /readyz turns 503 while a checkpoint waits). There
// are a handful of tasks per process, so a thread each costs nothing worth saving.
//
// Runs never overlap. A poke during a run makes one more run right after it; pokes that come
// before a run starts make that one run. A body that throws is logged (the task's name and the
// exception's message: no body may put personal data in an exception) and counted, and the task
// runs again at its next interval or poke; it never ends the thread. "Now", where a body needs
// it, comes from the clock it was given (the manual clock in tests and demos), never from here.
//
// Lifecycle: the thread starts in the constructor; stop() (or the destructor) wakes it, lets a
// run in progress finish, makes the final run when the schedule asks for one, and joins. The body
// and whatever it borrows must outlive the task. Thread-safety: poke(), poker(), runs() and
// failures() from any thread; stop(), moves and destruction from the owner's thread only, never
// from the body.
class periodic_task {
 public:
  using body = std::function<void()>;

  periodic_task() = default;  // no thread: every member is a no-op
  periodic_task(std::string name, periodic_schedule schedule, body run);
  ~periodic_task();
  periodic_task(periodic_task&&) noexcept = default;
  periodic_task& operator=(periodic_task&& other) noexcept;
  periodic_task(const periodic_task&) = delete;
  periodic_task& operator=(const periodic_task&) = delete;

  // Run as soon as the current run (if any) is over.
  void poke() const;
  // poke() as a function that may be called from any thread, also after this task has stopped
  // or is destroyed (it then does nothing), so an observer registered elsewhere may hold it.
  std::function<void()> poker() const;

  // Stops and joins, with the final run when the schedule has at_stop. Idempotent.
  void stop();
  // Stops and joins without the final run (what it would do cannot succeed, e.g. the log is
  // down and it would only wait). Idempotent; after stop() it does nothing.
  void stop_without_final_run();

  std::uint64_t runs() const;      // runs finished so far, those that threw included
  std::uint64_t failures() const;  // runs that threw

 private:
  struct state;
  void halt(bool final_run);

  std::shared_ptr<state> state_;
  std::thread thread_;  // last: starts after the state it reads
};

}  // namespace caseline::events
