#include "projections/rebuild.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <rocksdb/db.h>

#include "events/errc.h"
#include "events/record.h"
#include "events/storage/counter_merge.h"
#include "events/storage/key.h"
#include "events/storage/key_order.h"
#include "events/storage/scan.h"
#include "events/storage/secondary.h"
#include "events/storage/status.h"
#include "events/thread_name.h"
#include "projections/row_keys.h"
#include "projections/runner.h"

namespace caseline::projections {

namespace {

using storage::from_rocksdb;

constexpr std::size_t read_batch = 2048;

// A family of a secondary instance by name; null when the store has no such family.
rocksdb::ColumnFamilyHandle* family_of(const storage::secondary_db& db, std::string_view name) {
  const auto& names = db.names();
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? nullptr : db.handles()[static_cast<std::size_t>(it - names.begin())];
}

std::string printable(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

// A report counter merged back to zero (reports.h) is no counter: a store whose batches summed
// its differences away never wrote the key.
bool no_row(std::string_view family, const rocksdb::Iterator& it) {
  return family == "report_counters" &&
         storage::classify_counter(it.value().ToStringView()) == storage::counter_value::zero;
}

}  // namespace

const std::vector<std::string>& log_derived_families() {
  static const std::vector<std::string> names{
      "offsets",      "cases",           "case_events", "counters",          "case_index",
      "registry",     "queue_cases",     "queues",      "sla_deadlines",     "sla_remind",
      "report_cases", "report_counters", "retention",   "idempotency_index", "tokens"};
  return names;
}

double replay_stats::events_per_second() const {
  return elapsed.count() > 0 ? static_cast<double>(events) / elapsed.count() : 0.0;
}

double replay_stats::keys_per_event() const {
  return events > 0 ? static_cast<double>(keys) / static_cast<double>(events) : 0.0;
}

result<replay_stats> replay(events::event_log& log, store& target,
                            std::vector<projection*> projections,
                            const std::map<std::int32_t, std::int64_t>& until,
                            const std::function<void(const replay_progress&)>& progress,
                            std::uint64_t checkpoint_records) {
  return replay(log, target, std::vector<std::vector<projection*>>{std::move(projections)}, until,
                progress, checkpoint_records);
}

unsigned default_replay_lanes(std::int32_t partitions) {
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  return std::clamp(cores, 1U, static_cast<unsigned>(std::max(1, partitions)));
}

replay_sets::replay_sets(store& target, unsigned lanes) {
  for (unsigned i = 0; i < std::max(1U, lanes); ++i) {
    sets_.push_back(std::make_unique<projection_set>(target));
    lanes_.push_back(sets_.back()->all());
  }
}

std::optional<error> replay_sets::load_error() const { return sets_.front()->load_error(); }

result<replay_stats> replay(events::event_log& log, store& target,
                            const std::vector<std::vector<projection*>>& lanes,
                            const std::map<std::int32_t, std::int64_t>& until,
                            const std::function<void(const replay_progress&)>& progress,
                            std::uint64_t checkpoint_records) {
  if (lanes.empty())
    return make_error(events::errc::bad_config, "a replay needs one lane at least");
  const auto start = std::chrono::steady_clock::now();
  const auto lane_count = static_cast<std::int32_t>(
      std::min<std::size_t>(lanes.size(), static_cast<std::size_t>(log.partition_count())));
  std::vector<std::unique_ptr<projection_runner>> runners;  // one per lane, counting from 0
  runners.reserve(static_cast<std::size_t>(std::max(1, lane_count)));
  for (std::int32_t lane = 0; lane < std::max(1, lane_count); ++lane)
    runners.push_back(
        std::make_unique<projection_runner>(log, target, lanes[static_cast<std::size_t>(lane)]));
  std::vector<std::int64_t> from, to;
  replay_progress shared;  // guarded by mu
  for (std::int32_t part = 0; part < log.partition_count(); ++part) {
    std::int64_t end = 0;
    if (auto it = until.find(part); it != until.end()) {
      end = it->second;
    } else {
      auto e = log.end_offset(events::partition_id{part});
      if (!e) return e.error();
      end = e.value()();
    }
    // Every runner read the same stored offsets.
    from.push_back(runners.front()->applied(events::partition_id{part}));
    to.push_back(end);
    shared.total_records +=
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, end - from.back()));
  }
  // The runners' totals (events, keys), which count from their construction above.
  const auto total = [&runners](std::uint64_t (projection_runner::*of)() const) {
    std::uint64_t n = 0;
    for (const auto& r : runners) n += ((*r).*of)();
    return n;
  };

  std::mutex mu;
  std::uint64_t since_checkpoint = 0;  // guarded by mu
  std::optional<error> failed;         // guarded by mu: the first lane's error
  std::atomic<bool> stop{false};
  const auto fail = [&](const error& e) {
    std::lock_guard lk(mu);
    if (!failed) failed = e;
    stop = true;
  };

  const auto run_lane = [&](std::int32_t lane) {
    projection_runner& runner = *runners[static_cast<std::size_t>(lane)];
    std::vector<events::log_record> recs;
    std::vector<std::int64_t> next = from;
    // Up to replay_batch_records records of partition `part`, read read_batch at a time.
    const auto read_batch_of = [&](std::int32_t part) -> result<void> {
      const auto i = static_cast<std::size_t>(part);
      recs.clear();
      std::int64_t read_to = next[i];
      while (read_to < to[i] && recs.size() < replay_batch_records) {
        const auto want = static_cast<std::size_t>(std::min<std::int64_t>(
            static_cast<std::int64_t>(std::min(read_batch, replay_batch_records - recs.size())),
            to[i] - read_to));
        auto batch = log.read(events::partition_id{part}, events::log_offset{read_to}, want,
                              std::chrono::milliseconds(1000));
        if (!batch) return batch.error();
        auto& got = batch.value();
        while (!got.empty() && got.back().position.offset() >= to[i]) got.pop_back();
        if (got.empty())
          return make_error(
              events::errc::unavailable,
              fmt::format("partition {}: no record at offset {} (the log ends at {}?)", part,
                          read_to, to[i]));
        read_to = got.back().position.offset() + 1;
        std::move(got.begin(), got.end(), std::back_inserter(recs));
      }
      return success();
    };
    // The lane's partitions in turn, a batch of each, rather than one after the other: the log's
    // partitions advance through the same days together, so the rows the replay writes between
    // two flushes are those of a few days — the keys that begin with a day (keys::case_history)
    // then fall in a narrow range, and the flushed files overlap little with what the store
    // holds. The lanes go through the days at about the same pace.
    for (bool more = true; more && !stop;) {
      more = false;
      for (std::int32_t part = lane; part < log.partition_count() && !stop; part += lane_count) {
        const auto i = static_cast<std::size_t>(part);
        if (next[i] >= to[i]) continue;
        if (auto r = read_batch_of(part); !r) return fail(r.error());
        if (auto r = runner.apply(recs); !r) return fail(r.error());
        next[i] = runner.applied(events::partition_id{part});
        bool checkpoint = false;
        {
          std::lock_guard lk(mu);
          shared.records += recs.size();
          since_checkpoint += recs.size();
          if (target.bulk() && since_checkpoint >= checkpoint_records) {
            since_checkpoint = 0;
            checkpoint = true;
          }
        }
        // Atomic across families (store::open_mode::bulk): every lane's batches written so far,
        // each whole with its offset.
        if (checkpoint)
          if (auto r = target.flush(); !r) return fail(r.error());
        if (progress) {
          std::lock_guard lk(mu);
          shared.events = total(&projection_runner::events_applied);
          shared.elapsed = std::chrono::steady_clock::now() - start;
          progress(shared);
        }
        more = more || next[i] < to[i];
      }
    }
  };
  if (lane_count <= 1) {
    run_lane(0);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(lane_count));
    for (std::int32_t lane = 0; lane < lane_count; ++lane)
      threads.emplace_back([&run_lane, lane] {
        events::name_this_thread(fmt::format("replay-{}", lane));
        run_lane(lane);
      });
    for (auto& t : threads) t.join();
  }
  if (failed) return *failed;
  if (target.bulk())
    if (auto r = target.flush(); !r) return r.error();
  return replay_stats{shared.records, total(&projection_runner::events_applied),
                      total(&projection_runner::keys_written),
                      std::chrono::steady_clock::now() - start};
}

result<std::map<std::int32_t, std::int64_t>> stored_offsets(storage::secondary_db& db) {
  auto* cf = family_of(db, "offsets");
  std::map<std::int32_t, std::int64_t> out;
  if (cf == nullptr) return out;
  auto r =
      storage::scan(db.db(), cf, {std::string(keys::offset::prefix), {}, {}}, "read offsets",
                    [&](std::string_view k, std::string_view v) -> result<storage::scan_step> {
                      const auto key = keys::offset::decode(k);
                      const auto next = storage::parse_be64_value(v);
                      if (!key || !next)
                        return make_error(events::errc::corrupt_record, "stored projection offset");
                      out[key->partition] = static_cast<std::int64_t>(*next);
                      return storage::scan_step::next;
                    });
  if (!r) return r.error();
  return out;
}

result<std::map<std::int32_t, std::int64_t>> stored_offsets(const std::string& store_dir) {
  auto db = storage::open_secondary(store_dir);
  if (!db) return db.error();
  return stored_offsets(*db.value());
}

result<std::vector<store_difference>> compare_stores(const std::string& a_dir,
                                                     const std::string& b_dir,
                                                     const std::vector<std::string>& families,
                                                     std::size_t max) {
  auto a = storage::open_secondary(a_dir);
  if (!a) return a.error();
  auto b = storage::open_secondary(b_dir);
  if (!b) return b.error();
  return compare_stores({*a.value(), a_dir}, {*b.value(), b_dir}, families, max);
}

result<std::vector<store_difference>> compare_stores(const named_store& a, const named_store& b,
                                                     const std::vector<std::string>& families,
                                                     std::size_t max) {
  std::vector<store_difference> out;
  for (const auto& fam : families) {
    auto* ca = family_of(a.db, fam);
    auto* cb = family_of(b.db, fam);
    if (ca == nullptr || cb == nullptr) {
      out.push_back(
          {fam, "", ca == nullptr ? "family missing in " + a.name : "family missing in " + b.name});
      continue;
    }
    std::unique_ptr<rocksdb::Iterator> ia(a.db.db().NewIterator(storage::in_key_order(), ca));
    std::unique_ptr<rocksdb::Iterator> ib(b.db.db().NewIterator(storage::in_key_order(), cb));
    ia->SeekToFirst();
    ib->SeekToFirst();
    const auto skip_no_rows = [&fam](rocksdb::Iterator& it) {
      while (it.Valid() && no_row(fam, it)) it.Next();
    };
    for (skip_no_rows(*ia), skip_no_rows(*ib); (ia->Valid() || ib->Valid()) && out.size() < max;
         skip_no_rows(*ia), skip_no_rows(*ib)) {
      const int c = !ia->Valid()   ? 1
                    : !ib->Valid() ? -1
                                   : ia->key().compare(ib->key());
      if (c < 0) {
        out.push_back({fam, printable(ia->key().ToStringView()), "only in " + a.name});
        ia->Next();
      } else if (c > 0) {
        out.push_back({fam, printable(ib->key().ToStringView()), "only in " + b.name});
        ib->Next();
      } else {
        if (ia->value() != ib->value())
          out.push_back({fam, printable(ia->key().ToStringView()), "values differ"});
        ia->Next();
        ib->Next();
      }
    }
    if (!ia->status().ok()) return from_rocksdb(ia->status(), "read " + a.name);
    if (!ib->status().ok()) return from_rocksdb(ib->status(), "read " + b.name);
  }
  return out;
}

}  // namespace caseline::projections
