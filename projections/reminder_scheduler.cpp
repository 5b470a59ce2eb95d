#include "projections/reminder_scheduler.h"

#include "core/errc.h"

namespace caseline::projections {

namespace {

// The idempotency key of a reminder: the case and the deadline (kind, due).
std::string key_of(const deadline_row& d) {
  return d.id() + "/" + std::string(core::to_string(d.kind)) + "/" + d.due.to_string();
}

}  // namespace

reminder_scheduler::reminder_scheduler(store& s, case_writer& writer, const core::calendar& cal,
                                       reminder_options options)
    : writer_(writer), reader_(s, cal), options_(std::move(options)) {}

reminder_scheduler::~reminder_scheduler() { wait_idle(std::chrono::seconds(30)); }

result<std::size_t> reminder_scheduler::tick(timestamp now) {
  auto due = reader_.to_remind(shanghai_date(now), options_.max_per_tick);
  if (!due) return due.error();
  std::vector<deadline_row> submit;
  {
    std::lock_guard lk(mu_);
    std::set<std::string> still_listed;
    for (const auto& d : due.value()) {
      // Another server's partition: its owner reminds (the idempotency of the remind command
      // makes a reminder once, whichever owner sends it).
      if (!writer_.accepts(writer_.partition_of(d.id()))) continue;
      std::string k = key_of(d);
      if (settled_.contains(k)) {
        still_listed.insert(std::move(k));
        continue;
      }
      if (in_flight_.contains(k)) continue;
      in_flight_.insert(k);
      submit.push_back(d);
    }
    // Settled keys the index no longer lists are done for good (the reminder was applied).
    std::erase_if(settled_, [&](const std::string& k) { return !still_listed.contains(k); });
  }
  for (const auto& d : submit) {
    command_request req;
    req.id = d.id;
    req.cmd = core::remind{d.kind, d.due};
    req.who = core::actor{user_id{options_.user}, core::role::supervisor, d.center, {}};
    req.correlation_id = "remind/" + key_of(d);
    writer_.submit(std::move(req), [this, k = key_of(d)](result<command_outcome> r) {
      on_done(k, std::move(r));
    });
  }
  std::lock_guard lk(mu_);
  ++passes_;  // after the submissions: a reader that sees it sees them in flight or done
  return submit.size();
}

void reminder_scheduler::on_done(const std::string& key, result<command_outcome> r) {
  {
    std::lock_guard lk(mu_);
    in_flight_.erase(key);
    if (r) {
      settled_.insert(key);
      if (r.value().position)
        ++written_;
      else
        ++no_ops_;
    } else if (r.error().code.category() == core::error_category()) {
      // A rule says no (the deadline was met, or moved, since the index was read): the index
      // drops or rewrites the row once the projection applies that event. Not retried.
      settled_.insert(key);
      ++refused_;
      last_error_ = key + ": " + r.error().message();
    } else {
      ++failed_;  // retried at the next tick
      last_error_ = key + ": " + r.error().message();
    }
  }
  idle_cv_.notify_all();
}

bool reminder_scheduler::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, timeout, [&] { return in_flight_.empty(); });
}

std::string reminder_scheduler::last_error() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

void reminder_scheduler::note_error(std::string e) {
  std::lock_guard lk(mu_);
  last_error_ = std::move(e);
}

std::uint64_t reminder_scheduler::written() const {
  std::lock_guard lk(mu_);
  return written_;
}
std::uint64_t reminder_scheduler::no_ops() const {
  std::lock_guard lk(mu_);
  return no_ops_;
}
std::uint64_t reminder_scheduler::refused() const {
  std::lock_guard lk(mu_);
  return refused_;
}
std::uint64_t reminder_scheduler::failed() const {
  std::lock_guard lk(mu_);
  return failed_;
}
std::size_t reminder_scheduler::in_flight() const {
  std::lock_guard lk(mu_);
  return in_flight_.size();
}

std::uint64_t reminder_scheduler::passes() const {
  std::lock_guard lk(mu_);
  return passes_;
}

events::periodic_task start_reminders(reminder_scheduler& scheduler, const clock& clk,
                                      std::chrono::milliseconds interval,
                                      std::function<void(timestamp)> before_tick) {
  return events::periodic_task("reminders", {.interval = interval, .at_start = true},
                               [&scheduler, &clk, before_tick = std::move(before_tick)] {
                                 const timestamp now = clk.now();
                                 if (before_tick) before_tick(now);
                                 if (auto r = scheduler.tick(now); !r)
                                   scheduler.note_error(r.error().message());
                               });
}

}  // namespace caseline::projections
