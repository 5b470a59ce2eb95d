#include "projections/rebuild.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>
#include <rocksdb/db.h>

#include "events/errc.h"
#include "events/record.h"
#include "events/storage/key.h"
#include "events/storage/scan.h"
#include "events/storage/secondary.h"
#include "events/storage/status.h"
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
  const auto start = std::chrono::steady_clock::now();
  projection_runner runner(log, target, std::move(projections));
  std::vector<std::int64_t> from, to;
  replay_progress p;
  for (std::int32_t part = 0; part < log.partition_count(); ++part) {
    std::int64_t end = 0;
    if (auto it = until.find(part); it != until.end()) {
      end = it->second;
    } else {
      auto e = log.end_offset(events::partition_id{part});
      if (!e) return e.error();
      end = e.value()();
    }
    from.push_back(runner.applied(events::partition_id{part}));
    to.push_back(end);
    p.total_records += static_cast<std::uint64_t>(std::max<std::int64_t>(0, end - from.back()));
  }
  const std::uint64_t events_before = runner.events_applied();
  const std::uint64_t keys_before = runner.keys_written();
  std::uint64_t since_checkpoint = 0;
  std::vector<events::log_record> recs;
  // The partitions in turn, a batch of each, rather than one after the other: the log's
  // partitions advance through the same days together, so the rows the replay writes between two
  // flushes are those of a few days — the keys that begin with a day (keys::case_history) then
  // fall in a narrow range, and the flushed files overlap little with what the store holds.
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
        return make_error(events::errc::unavailable,
                          fmt::format("partition {}: no record at offset {} (the log ends at {}?)",
                                      part, read_to, to[i]));
      read_to = got.back().position.offset() + 1;
      std::move(got.begin(), got.end(), std::back_inserter(recs));
    }
    return success();
  };
  for (bool more = true; more;) {
    more = false;
    for (std::int32_t part = 0; part < log.partition_count(); ++part) {
      const auto i = static_cast<std::size_t>(part);
      if (next[i] >= to[i]) continue;
      if (auto r = read_batch_of(part); !r) return r.error();
      if (auto r = runner.apply(recs); !r) return r.error();
      p.records += recs.size();
      since_checkpoint += recs.size();
      next[i] = runner.applied(events::partition_id{part});
      if (target.bulk() && since_checkpoint >= checkpoint_records) {
        if (auto r = target.flush(); !r) return r.error();
        since_checkpoint = 0;
      }
      p.events = runner.events_applied() - events_before;
      p.elapsed = std::chrono::steady_clock::now() - start;
      if (progress) progress(p);
      more = more || next[i] < to[i];
    }
  }
  if (target.bulk() && since_checkpoint > 0)
    if (auto r = target.flush(); !r) return r.error();
  return replay_stats{p.records, runner.events_applied() - events_before,
                      runner.keys_written() - keys_before,
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
    std::unique_ptr<rocksdb::Iterator> ia(a.db.db().NewIterator(rocksdb::ReadOptions(), ca));
    std::unique_ptr<rocksdb::Iterator> ib(b.db.db().NewIterator(rocksdb::ReadOptions(), cb));
    ia->SeekToFirst();
    ib->SeekToFirst();
    while ((ia->Valid() || ib->Valid()) && out.size() < max) {
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
