#include "projections/replica_progress.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"

namespace caseline::projections {

namespace {

using steady = std::chrono::steady_clock;

// A wait asks the broker nothing more but looks at the subscription this often, so that one that
// fails meanwhile is noticed.
constexpr std::chrono::milliseconds wait_slice{200};
// How long keep_seen's check waits for the topic's end before it records nothing this time.
constexpr std::chrono::seconds seen_check{5};

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

void replica_progress::stop() {
  seen_task_.stop();
  subscription_.reset();
}

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

result<bool> away_too_long(events::key_log& log, std::string_view what,
                           std::optional<timestamp> seen, const away_options& o,
                           std::chrono::milliseconds timeout) {
  if (o.server_clock == nullptr) return false;
  std::chrono::milliseconds threshold{0};
  if (o.away) {
    threshold = *o.away;
  } else {
    auto retention = log.tombstone_retention(timeout);
    if (!retention) return std::move(retention).error();
    threshold = std::max(std::chrono::milliseconds{0}, retention.value() - away_margin);
  }
  const std::int64_t now = o.server_clock->now().ms;
  // A store from before this rule has offsets but no time: how long it was away is not known.
  const bool away = !seen || now - seen->ms > threshold.count();
  spdlog::info("{}", log_line("side_topic_absence", {{"topic", what},
                                                     {"away_ms", seen ? now - seen->ms : -1},
                                                     {"threshold_ms", threshold.count()},
                                                     {"reconcile", away}}));
  return away;
}

void replica_progress::keep_seen(const away_options& o,
                                 std::function<result<void>(timestamp)> store) {
  if (o.server_clock == nullptr) return;
  // Not at stop: with the broker down, the check would hold the stop up; the last time recorded
  // is at most `refresh` old, which only makes an absence look longer.
  seen_task_ = events::periodic_task(
      what_ + " topic seen", {.interval = o.refresh},
      [this, c = o.server_clock, store = std::move(store)] {
        const timestamp t = c->now();
        if (auto up = catch_up_all(steady::now() + seen_check); !up) return;  // not now: next run
        if (auto w = store(t); !w)
          spdlog::warn("{}", log_line("side_topic_seen_not_stored",
                                      {{"topic", what_}, {"error", w.error().message()}}));
      });
}

}  // namespace caseline::projections
