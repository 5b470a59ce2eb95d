#include "projections/replica_progress.h"

#include <algorithm>
#include <utility>

#include "events/errc.h"

namespace caseline::projections {

namespace {

using steady = std::chrono::steady_clock;

// A wait asks the broker nothing more but looks at the subscription this often, so that one that
// fails meanwhile is noticed.
constexpr std::chrono::milliseconds wait_slice{200};

}  // namespace

replica_progress::replica_progress(events::key_log& log, std::string what,
                                   const events::start_offsets& from)
    : log_(log),
      what_(std::move(what)),
      from_(from),
      applied_(static_cast<std::size_t>(log.partition_count()), 0) {
  for (const auto& [p, next] : from)
    if (p >= 0 && p < log.partition_count()) applied_[static_cast<std::size_t>(p)] = next;
}

result<void> replica_progress::follow(events::event_log::batch_handler handler) {
  auto sub = log_.subscribe(from_, std::move(handler));
  if (!sub) return std::move(sub).error();
  subscription_ = std::move(sub).value();
  return success();
}

void replica_progress::stop() { subscription_.reset(); }

void replica_progress::applied(events::partition_id p, std::int64_t next) {
  {
    std::lock_guard lk(mu_);
    auto& a = applied_.at(static_cast<std::size_t>(p()));
    a = std::max(a, next);
  }
  applied_cv_.notify_all();
}

void replica_progress::failed(const error& e) {
  {
    std::lock_guard lk(mu_);
    failure_ = e;
  }
  applied_cv_.notify_all();
}

result<void> replica_progress::catch_up(events::partition_id p, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  auto end = log_.end_offset(p);
  if (!end) return std::move(end).error();
  return wait_applied(p, end.value()(), deadline);
}

result<void> replica_progress::catch_up_all(steady::time_point deadline) {
  for (std::int32_t p = 0; p < log_.partition_count(); ++p) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (auto c = catch_up(events::partition_id{p}, left); !c) return c;
  }
  return success();
}

result<void> replica_progress::wait_applied(events::partition_id p, std::int64_t next,
                                            steady::time_point deadline) {
  std::unique_lock lk(mu_);
  for (;;) {
    if (applied_.at(static_cast<std::size_t>(p())) >= next) return success();
    if (failure_) return *failure_;
    if (auto f = subscription_ ? subscription_->failure() : std::nullopt) return *f;
    const auto now = steady::now();
    if (now >= deadline)
      return make_error(events::errc::timed_out, what_ + " partition " + std::to_string(p()) +
                                                     " not applied up to offset " +
                                                     std::to_string(next) + " in time");
    applied_cv_.wait_until(lk, std::min(deadline, now + wait_slice));
  }
}

std::optional<error> replica_progress::failure() const {
  std::lock_guard lk(mu_);
  if (failure_) return failure_;
  return subscription_ ? subscription_->failure() : std::nullopt;
}

}  // namespace caseline::projections
