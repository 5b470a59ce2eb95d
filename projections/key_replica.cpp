#include "projections/key_replica.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "events/record.h"
#include "projections/personal_data.h"
#include "projections/recordings.h"
#include "projections/registry_projection.h"

namespace caseline::projections {

namespace {

using steady = std::chrono::steady_clock;

constexpr std::string_view check_text = "caseline master key check";
constexpr std::string_view check_aad = "caseline.master-key-check.v1";
// Reading a partition back asks the subscription for its failure this often while it waits.
constexpr std::chrono::milliseconds wait_slice{200};

// A check record: the first server's (check_id), or one published since under a key of its own
// (check_id/<hash of its value>), so that compaction, which keeps the last record of each key,
// never removes the first of two published at once.
bool is_check_record(std::string_view key) {
  const std::string_view id = key_replica::check_id;
  return key.starts_with(id) && (key.size() == id.size() || key[id.size()] == '/');
}

// The records of a batch of keys partition 0 as the key store keeps them: the first check record
// of the partition under check_id, every later one as a gap (a server at the same instant with
// another master key must not replace the group's check).
result<std::vector<events::log_record>> first_check_only(std::span<const events::log_record> in,
                                                         key_store& keys) {
  auto stored = keys.stored_record(key_replica::check_id);
  if (!stored) return std::move(stored).error();
  bool seen = stored.value().has_value();
  std::vector<events::log_record> out(in.begin(), in.end());
  for (auto& r : out) {
    if (!is_check_record(r.key) || r.value.empty()) continue;
    if (seen) {
      r.key.clear();  // a gap: the offset is applied, the record kept nowhere
      r.value.clear();
    } else {
      r.key = key_replica::check_id;
      seen = true;
    }
  }
  return out;
}

error wrong_master_key(const std::string& why) {
  return make_error(events::errc::bad_config,
                    "the master key is not the group's: " + why +
                        "; every server of a group needs the same master key "
                        "(--master-key-file or CASELINE_MASTER_KEY)");
}

// Whether `master` unwraps a check record.
bool opens(const events::secret_key& master, const std::string& check) {
  auto opened = events::aes_gcm_open(master, check, check_aad);
  return opened && opened.value() == check_text;
}

}  // namespace

key_replica::key_replica(events::key_log& log, key_store& keys, const events::start_offsets& from,
                         const events::start_offsets& stored, bool reconcile)
    : log_(log),
      keys_(keys),
      stored_(stored),
      reconciling_(reconcile),
      progress_(log, "keys", from) {}

result<std::unique_ptr<key_replica>> key_replica::start(events::key_log& log, key_store& keys,
                                                        const events::secret_key& master,
                                                        options o) {
  auto deadline = steady::now() + o.start;
  auto from = keys.applied_offsets(log.partition_count());
  if (!from) return std::move(from).error();
  // The first start reads the topic from its start anyway, and keeps what it held (marked).
  bool reconcile = false;
  if (!from.value().empty()) {
    auto seen = keys.seen();
    if (!seen) return std::move(seen).error();
    auto away = away_too_long(log, "keys", seen.value(), o.away, o.start);
    if (!away) return std::move(away).error();
    reconcile = away.value();
  }
  events::start_offsets read_from = from.value();
  if (reconcile) {
    for (std::int32_t p = 0; p < log.partition_count(); ++p) read_from[p] = 0;
    deadline = steady::now() + o.reconcile;
  }
  // Up to date at this time once the catch-up below reaches the topic's end.
  const std::optional<timestamp> caught_up_at =
      o.away.server_clock ? std::optional<timestamp>{o.away.server_clock->now()} : std::nullopt;
  std::unique_ptr<key_replica> r{new key_replica(log, keys, read_from, from.value(), reconcile)};
  if (from.value().empty()) {
    // This store's first start in a group: the keys it holds were made without the topic (a
    // group before its keys were shared, a server alone on the topic). Marked once, now, so that
    // their partitions' owners publish them (publish_local) and nothing else: a key held here
    // that the topic no longer names later is one whose tombstone it never saw, not one to share.
    std::vector<std::string> before;
    auto scanned = keys.each_stored([&](std::string_view id, const std::string&) {
      if (!is_check_record(id) && r->partition_of(case_id{std::string(id)}))
        before.emplace_back(id);
      return success();
    });
    if (!scanned) return std::move(scanned).error();
    if (auto m = keys.mark_unpublished(before, true); !m) return std::move(m).error();
  }
  if (auto f = r->progress_.follow(
          [raw = r.get()](std::span<const events::log_record> b) { return raw->on_batch(b); });
      !f)
    return std::move(f).error();
  if (auto c = r->progress_.catch_up_all(deadline); !c) return std::move(c).error();
  if (auto c = r->check_master(
          master, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()));
      !c)
    return std::move(c).error();
  if (reconcile) {
    auto dropped = r->drop_unnamed();
    if (!dropped) return std::move(dropped).error();
    r->reconciled_ = dropped.value();
    spdlog::info("{}", log_line("keys_topic_reconciled", {{"dropped", dropped.value()}}));
  }
  if (caught_up_at)
    if (auto n = keys.note_seen(*caught_up_at); !n) return std::move(n).error();
  keys.replicate(r.get());
  r->progress_.keep_seen(o.away, [&keys](timestamp t) { return keys.note_seen(t); });
  return r;
}

result<std::size_t> key_replica::drop_unnamed() {
  std::lock_guard lk(reconcile_mu_);
  std::vector<case_id> gone;
  auto scanned = keys_.each_stored([&](std::string_view id, const std::string&) -> result<void> {
    if (is_check_record(id) || named_.contains(id) || !partition_of(case_id{std::string(id)}))
      return success();
    auto marked = keys_.is_unpublished(id);
    if (!marked) return std::move(marked).error();
    if (!marked.value()) gone.emplace_back(std::string(id));
    return success();
  });
  if (!scanned) return std::move(scanned).error();
  // Not replicating yet: deleted here only, as a tombstone applied would.
  if (auto s = keys_.shred(gone); !s) return std::move(s).error();
  reconciling_ = false;
  named_.clear();
  return gone.size();
}

key_replica::~key_replica() {
  keys_.replicate(nullptr);
  progress_.stop();  // joins: on_batch runs no more
}

std::optional<events::partition_id> key_replica::partition_of(const case_id& id) const {
  if (id().starts_with(staging_key_prefix)) return std::nullopt;
  // The registry's key goes with the registry's records: its owner writes both.
  if (id() == personal_data::registry_key)
    return events::partition_for(registry_writer::stream_key, log_.partition_count());
  return events::partition_for(id(), log_.partition_count());
}

bool key_replica::commit(const case_id& id, const std::string& wrapped,
                         std::function<void(result<void>)>& done) {
  const auto p = partition_of(id);
  if (!p) return false;
  log_.commit(*p, id(), wrapped, [done = std::move(done)](result<events::log_position> r) {
    if (!r) return done(std::move(r).error());
    done(success());
  });
  return true;
}

result<void> key_replica::await(const case_id& id, steady::time_point deadline) {
  const auto p = partition_of(id);
  if (!p) return success();
  return catch_up(*p,
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()));
}

result<void> key_replica::catch_up(events::partition_id p, std::chrono::milliseconds timeout) {
  return progress_.catch_up(p, timeout);
}

std::optional<error> key_replica::failure() const { return progress_.failure(); }

result<void> key_replica::on_batch(std::span<const events::log_record> records) {
  if (records.empty()) return success();
  const events::partition_id p = records.front().position.partition;
  std::lock_guard lk(reconcile_mu_);
  std::span<const events::log_record> fresh = records;
  if (reconciling_) {
    // Read from the start: every id named, only what lies past the stored offset applied again.
    for (const auto& x : records)
      if (!x.key.empty()) named_.insert(x.key);
    const auto stored = stored_.find(p());
    const std::int64_t resume = stored == stored_.end() ? 0 : stored->second;
    const auto first = std::find_if(records.begin(), records.end(),
                                    [&](const auto& x) { return x.position.offset() >= resume; });
    fresh = records.subspan(static_cast<std::size_t>(first - records.begin()));
  }
  auto r = [&]() -> result<void> {
    if (fresh.empty()) return success();
    if (p() != 0 || std::none_of(fresh.begin(), fresh.end(),
                                 [](const auto& x) { return is_check_record(x.key); }))
      return keys_.apply(p, fresh);
    auto kept = first_check_only(fresh, keys_);
    if (!kept) return std::move(kept).error();
    return keys_.apply(p, kept.value());
  }();
  if (!r) {
    spdlog::error("{}", log_line("keys_topic_apply_failed",
                                 {{"partition", p()}, {"error", r.error().message()}}));
    progress_.failed(r.error());
  } else {
    progress_.applied(p, records.back().position.offset() + 1);
  }
  return r;
}

result<void> key_replica::check_master(const events::secret_key& master,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  const events::partition_id p0{0};
  auto stored = keys_.stored_record(check_id);
  if (!stored) return std::move(stored).error();
  if (!stored.value()) {
    // The group's first server: its master key becomes the group's. Two first servers at once
    // both publish, each under a record key of its own; the first check record of partition 0
    // is the group's (on_batch keeps only that one), so each reads partition 0 back up to its
    // own record and the one whose key does not unwrap the first refuses to start.
    const std::string sealed = events::aes_gcm_seal(master, check_text, check_aad);
    const std::string record_key =
        std::string(check_id) + '/' + events::to_hex(events::sha256(sealed)).substr(0, 16);
    auto at = log_.publish(p0, record_key, sealed, timeout);
    if (!at) return std::move(at).error();
    if (auto w = progress_.wait_applied(p0, at.value().offset() + 1, deadline); !w) return w;
    stored = keys_.stored_record(check_id);
    if (!stored) return std::move(stored).error();
    if (!stored.value()) return wrong_master_key("the check record was not applied");
    const bool first = *stored.value() == sealed;
    spdlog::info("{}", log_line("keys_topic_master_check_published",
                                {{"offset", at.value().offset()}, {"first", first}}));
    if (!first && !opens(master, *stored.value()))
      return wrong_master_key(
          "another server with another master key published the group's check record first "
          "(both started at the same moment)");
  }
  if (!opens(master, *stored.value()))
    return wrong_master_key("it does not unwrap the check record of the keys topic");
  return success();
}

result<void> key_replica::take_over(events::partition_id p, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  if (auto c = catch_up(p, timeout); !c) return c;
  auto published = publish_local(
      p, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()));
  if (!published) {
    // Deliberately not failing the handover: the keys stay on this server alone until p's next
    // handover publishes them (said here, not hidden).
    spdlog::warn("{}", log_line("keys_topic_publish_local_failed",
                                {{"partition", p()}, {"error", published.error().message()}}));
  } else if (published.value() > 0) {
    spdlog::info("{}", log_line("keys_topic_published_local",
                                {{"partition", p()}, {"keys", published.value()}}));
  }
  return success();
}

result<std::set<std::string, std::less<>>> key_replica::ids_in_topic(events::partition_id p,
                                                                     steady_time deadline) {
  std::set<std::string, std::less<>> ids;
  auto end = log_.end_offset(p);
  if (!end) return std::move(end).error();
  if (end.value()() == 0) return ids;
  // Only p from its start: every other partition from its end.
  events::start_offsets from;
  for (std::int32_t q = 0; q < log_.partition_count(); ++q) {
    if (q == p()) continue;
    auto e = log_.end_offset(events::partition_id{q});
    if (!e) return std::move(e).error();
    from[q] = e.value()();
  }
  from[p()] = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::int64_t next = 0;
  auto sub = log_.subscribe(from, [&](std::span<const events::log_record> batch) {
    if (batch.empty() || batch.front().position.partition != p) return success();
    std::lock_guard lk(mu);
    for (const auto& r : batch)
      if (!r.key.empty()) ids.insert(r.key);  // an empty key is a gap
    next = batch.back().position.offset() + 1;
    cv.notify_all();
    return success();
  });
  if (!sub) return std::move(sub).error();
  {
    std::unique_lock lk(mu);
    while (next < end.value()()) {
      if (auto f = sub.value()->failure()) return *f;
      if (steady::now() >= deadline)
        return make_error(events::errc::timed_out,
                          "keys partition " + std::to_string(p()) + " not read to its end in time");
      cv.wait_until(lk, std::min(deadline, steady::now() + wait_slice));
    }
  }
  sub.value().reset();  // joins: the handler runs no more
  return ids;
}

result<bool> key_replica::holds_unpublished(events::partition_id p) {
  bool found = false;
  auto scanned = keys_.each_unpublished([&](std::string_view id) {
    found = !is_check_record(id) && partition_of(case_id{std::string(id)}) == p;
    return !found;
  });
  if (!scanned) return std::move(scanned).error();
  return found;
}

result<std::size_t> key_replica::publish_local(events::partition_id p,
                                               std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  // The usual case: nothing of p from before the group, so no read of p from its start.
  auto any = holds_unpublished(p);
  if (!any) return std::move(any).error();
  if (!any.value()) return std::size_t{0};
  auto in_topic = ids_in_topic(p, deadline);
  if (!in_topic) return std::move(in_topic).error();
  std::vector<std::pair<std::string, std::string>> missing;
  std::vector<std::string> known;  // marked, and named by the topic: nothing to publish
  auto scanned =
      keys_.each_stored([&](std::string_view id, const std::string& wrapped) -> result<void> {
        if (is_check_record(id) || partition_of(case_id{std::string(id)}) != p) return success();
        auto marked = keys_.is_unpublished(id);
        if (!marked) return std::move(marked).error();
        if (!marked.value()) return success();
        if (in_topic.value().contains(id)) {
          known.emplace_back(id);
        } else {
          missing.emplace_back(id, wrapped);
        }
        return success();
      });
  if (!scanned) return std::move(scanned).error();
  if (auto m = keys_.mark_unpublished(known, false); !m) return std::move(m).error();
  if (missing.empty()) return std::size_t{0};
  std::vector<std::string> ids;
  ids.reserve(missing.size());
  for (const auto& m : missing) ids.push_back(m.first);
  struct outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t answered{0};
    std::optional<error> failed;
  };
  auto o = std::make_shared<outcome>();  // the handlers may run after a timeout here
  for (auto& [id, wrapped] : missing)
    log_.commit(p, std::move(id), std::move(wrapped), [o](result<events::log_position> r) {
      std::lock_guard lk(o->mu);
      ++o->answered;
      if (!r && !o->failed) o->failed = std::move(r).error();
      o->cv.notify_all();
    });
  std::unique_lock lk(o->mu);
  if (!o->cv.wait_until(lk, deadline, [&] { return o->answered == missing.size(); }))
    return make_error(events::errc::timed_out, "keys partition " + std::to_string(p()) +
                                                   ": not every local key committed in time");
  if (o->failed) return *o->failed;
  if (auto m = keys_.mark_unpublished(ids, false); !m) return std::move(m).error();
  return missing.size();
}

}  // namespace caseline::projections
