#include "projections/runner.h"

#include <array>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/burst_source.h"
#include "events/errc.h"
#include "events/log_reader.h"
#include "events/storage/key.h"
#include "events/storage/ordered_batch.h"
#include "events/storage/scan.h"
#include "events/storage/status.h"
#include "projections/row_keys.h"

namespace caseline::projections {

projection_runner::projection_runner(events::event_log& log, store& s,
                                     std::vector<projection*> projections)
    : log_(log), store_(s), projections_(std::move(projections)) {
  auto offsets = load_offsets();
  if (!offsets) throw std::runtime_error(offsets.error().message());
  applied_ = std::move(offsets).value();
}

projection_runner::~projection_runner() { stop(); }

result<std::vector<std::int64_t>> projection_runner::load_offsets() {
  std::vector<std::int64_t> out(static_cast<std::size_t>(log_.partition_count()), 0);
  for (std::int32_t p = 0; p < log_.partition_count(); ++p) {
    auto v = storage::get(store_.db(), store_.cf(family::offsets), keys::offset{p}.encode(),
                          "read projection offsets");
    if (!v) return v.error();
    if (!v.value()) continue;
    const auto next = storage::parse_be64_value(*v.value());
    if (!next) return make_error(events::errc::corrupt_record, "stored projection offset");
    out[static_cast<std::size_t>(p)] = static_cast<std::int64_t>(*next);
  }
  return out;
}

result<void> projection_runner::start() {
  events::start_offsets from;
  {
    std::lock_guard lk(mu_);
    for (std::size_t p = 0; p < applied_.size(); ++p)
      from[static_cast<std::int32_t>(p)] = applied_[p];
  }
  events::event_log::batch_handler handler = [this](std::span<const events::log_record> batch) {
    return apply_until_written(batch);
  };
  // In bursts where the log has them: a group commit of the embedded log, every partition of it,
  // is then one store write, taken in memory instead of read back.
  auto* bursts = events::bursts_of(log_);
  auto sub = bursts ? bursts->subscribe_bursts(std::move(from), std::move(handler))
                    : log_.subscribe(std::move(from), std::move(handler));
  if (!sub) return sub.error();
  subscription_ = std::move(sub).value();
  return success();
}

void projection_runner::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  subscription_.reset();
}

result<void> projection_runner::apply_until_written(std::span<const events::log_record> batch) {
  constexpr std::chrono::milliseconds first_pause{50}, longest_pause{2000};
  for (auto pause = first_pause;; pause = std::min(pause * 2, longest_pause)) {
    auto r = apply(batch);
    std::unique_lock lk(mu_);
    if (r) {
      if (stalled_) {
        spdlog::info("{}", log_line("projections_resumed", {{"after", stalled_->message()}}));
        stalled_.reset();
      }
      return r;
    }
    if (!events::is_retriable(r.error().code) || stopping_) {
      // For good: every read that waits for the projections answers this error from now on.
      if (!stopping_)
        spdlog::critical("{}", log_line("projections_stopped",
                                        {{"error", r.error().message()},
                                         {"hint",
                                          "a record of the log does not apply; `caseline audit "
                                          "verify` names the first such record"}}));
      failure_ = r.error();
      cv_.notify_all();
      return r;
    }
    if (!stalled_)
      spdlog::error("{}", log_line("projections_stalled",
                                   {{"error", r.error().message()}, {"retry", "until written"}}));
    stalled_ = r.error();
    cv_.notify_all();  // the waiters answer now rather than at their deadline
    if (cv_.wait_for(lk, pause, [this] { return stopping_; })) continue;
    lk.unlock();
    // A write RocksDB refused (a full disk) leaves the store refusing every write until it
    // resumes: it does when the cause is gone, and says so otherwise.
    if (const auto s = store_.db().Resume(); !s.ok()) {
      std::lock_guard again(mu_);
      stalled_ = storage::from_rocksdb(s, "resume the projection store");
    }
  }
}

std::optional<error> projection_runner::stalled() const {
  std::lock_guard lk(mu_);
  return stalled_;
}

error projection_runner::not_applied(error otherwise) const {
  if (auto f = failure()) return *std::move(f);
  if (auto s = stalled()) return *std::move(s);
  return otherwise;
}

result<void> projection_runner::apply(std::span<const events::log_record> batch) {
  if (batch.empty()) return success();
  // The next offset of each partition of the batch, in the order they first appear: a burst of
  // the embedded log holds several (events/burst_source.h), a batch read back one.
  std::vector<std::pair<std::int32_t, std::int64_t>> next;
  const auto next_of = [&next](std::int32_t p) -> std::int64_t* {
    for (auto& [q, n] : next)
      if (q == p) return &n;
    return nullptr;
  };
  {
    std::lock_guard lk(mu_);
    for (const auto& rec : batch) {
      const std::int32_t p = rec.position.partition();
      if (next_of(p)) continue;
      if (p < 0 || p >= static_cast<std::int32_t>(applied_.size()))
        return make_error(events::errc::invalid_partition, fmt::format("partition {}", p));
      next.emplace_back(p, applied_[static_cast<std::size_t>(p)]);
    }
  }
  for (auto* proj : projections_) proj->begin_batch();
  rocksdb::WriteBatch wb;
  std::uint64_t count = 0;
  auto fail = [&](error e) {
    for (auto* proj : projections_) proj->end_batch(false);
    return e;
  };
  // An error of one projection, named.
  auto fail_in = [&](const projection* proj, const error& e) {
    return fail(make_error(e.code, fmt::format("projection {}: {}", proj->name(), e.detail)));
  };
  for (const auto& rec : batch) {
    const std::int32_t p = rec.position.partition();
    std::int64_t& next_offset = *next_of(p);
    if (rec.position.offset() < next_offset) continue;  // applied before: idempotent
    if (rec.position.offset() != next_offset)
      return fail(make_error(events::errc::corrupt_record,
                             fmt::format("partition {}: expected offset {}, got {}", p, next_offset,
                                         rec.position.offset())));
    // Tamper evidence (events/checkpoint.h), partition claims and gaps: no events.
    if (!events::holds_events(rec.value)) {
      if (events::is_partition_claim(rec.value)) {
        auto claim = events::decode_partition_claim(rec.value);
        if (!claim) return fail(claim.error());
        for (auto* proj : projections_) {
          if (auto r = proj->apply_claim(claim.value(), rec.position, wb); !r)
            return fail_in(proj, r.error());
        }
      }
      ++next_offset;
      continue;
    }
    auto decoded = events::record_events::decode(rec);
    if (!decoded) return fail(decoded.error().to_error());
    const events::record_events& events_of = decoded.value();
    for (std::uint32_t i = 0; i < events_of.size(); ++i) {
      auto ev = events_of.event(i);
      if (!ev) return fail(ev.error().to_error());
      auto body = events::decode_body(ev.value());
      if (!body) return fail(body.error().to_error());
      const events::logged_event& e = ev.value();
      if (const auto* registry = std::get_if<core::registry_event>(&body.value())) {
        const decoded_registry_event dr{e.env, *registry, e.position, i, e.stored_bytes};
        for (auto* proj : projections_) {
          if (auto r = proj->apply_registry(dr, wb); !r) return fail_in(proj, r.error());
        }
        ++count;
        continue;
      }
      const decoded_event de{
          e.env,          std::get<core::event>(body.value()),
          e.position,     i,
          e.stored_bytes, events_of.idempotency() ? &*events_of.idempotency() : nullptr};
      for (auto* proj : projections_) {
        if (auto r = proj->apply(de, wb); !r) return fail_in(proj, r.error());
      }
      ++count;
    }
    ++next_offset;
  }
  for (auto* proj : projections_) {
    if (auto r = proj->prepare_commit(wb); !r) return fail_in(proj, r.error());
  }
  for (const auto& [p, n] : next)
    wb.Put(store_.cf(family::offsets), keys::offset{p}.encode(),
           storage::be64_value(static_cast<std::uint64_t>(n)));
  // No sync: the projection is rebuilt from the log; the WAL keeps rows and offsets together.
  // A store opened for bulk loading has no WAL: its atomic flushes keep them together.
  rocksdb::WriteOptions wo;
  wo.disableWAL = store_.bulk();
  // Ordered by family and key (events/storage/ordered_batch.h): a rebuild's large batches, and a
  // server's group commits of every partition; left as built when it cannot be, which stores the
  // same.
  {
    thread_local storage::key_ordered_batch ordered;  // its buffers reused by the next batch
    std::array<rocksdb::ColumnFamilyHandle*, static_cast<std::size_t>(family::count_)> families{};
    for (std::size_t f = 0; f < families.size(); ++f)
      families[f] = store_.cf(static_cast<family>(f));
    (void)ordered.order(wb, families);
  }
  const auto s = store_.db().Write(wo, &wb);
  if (!s.ok()) return fail(storage::from_rocksdb(s, "write projection batch"));
  for (auto* proj : projections_) proj->end_batch(true);
  {
    std::lock_guard lk(mu_);
    for (const auto& [p, n] : next) applied_[static_cast<std::size_t>(p)] = n;
    events_applied_ += count;
    keys_written_ += wb.Count();
  }
  cv_.notify_all();
  return success();
}

std::int64_t projection_runner::applied(events::partition_id p) const {
  std::lock_guard lk(mu_);
  return applied_.at(static_cast<std::size_t>(p()));
}

bool projection_runner::wait_applied(events::log_position pos,
                                     std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  const auto applied = [&] {
    return applied_.at(static_cast<std::size_t>(pos.partition())) > pos.offset();
  };
  cv_.wait_for(lk, timeout,
               [&] { return failure_.has_value() || stalled_.has_value() || applied(); });
  return !failure_ && applied();
}

result<void> projection_runner::catch_up(std::chrono::milliseconds timeout, on_stall stall) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (std::int32_t p = 0; p < log_.partition_count(); ++p)
    if (auto r = catch_up_until(events::partition_id{p}, deadline, stall); !r) return r;
  return success();
}

result<void> projection_runner::catch_up(events::partition_id p, std::chrono::milliseconds timeout,
                                         on_stall stall) const {
  return catch_up_until(p, std::chrono::steady_clock::now() + timeout, stall);
}

result<void> projection_runner::catch_up_until(events::partition_id p,
                                               std::chrono::steady_clock::time_point deadline,
                                               on_stall stall) const {
  if (p() < 0 || p() >= static_cast<std::int32_t>(applied_.size()))
    return make_error(events::errc::invalid_partition, fmt::format("partition {}", p()));
  auto end = log_.end_offset(p);
  if (!end) return end.error();
  if (end.value()() == 0) return success();
  std::unique_lock lk(mu_);
  const auto caught_up = [&] { return applied_[static_cast<std::size_t>(p())] >= end.value()(); };
  const bool answer_stall = stall == on_stall::answer;
  cv_.wait_until(lk, deadline, [&] {
    return failure_.has_value() || (answer_stall && stalled_.has_value()) || caught_up();
  });
  if (failure_) return *failure_;
  if (caught_up()) return success();
  if (answer_stall && stalled_) return *stalled_;
  return make_error(events::errc::timed_out,
                    fmt::format("projections did not catch up with partition {}", p()));
}

std::optional<error> projection_runner::failure() const {
  {
    std::lock_guard lk(mu_);
    if (failure_) return failure_;
  }
  // The log's own failure (a consumer error), when the handler never saw the batch.
  return subscription_ ? subscription_->failure() : std::nullopt;
}

std::uint64_t projection_runner::events_applied() const {
  std::lock_guard lk(mu_);
  return events_applied_;
}

std::uint64_t projection_runner::keys_written() const {
  std::lock_guard lk(mu_);
  return keys_written_;
}

}  // namespace caseline::projections
