#include "tools/rebuild_cmd.h"

#include <filesystem>

#include <fmt/format.h>

#include "events/storage/secondary.h"
#include "projections/rebuild.h"
#include "tools/audit_cmd.h"

namespace caseline::tools {

namespace {

namespace fs = std::filesystem;

// "\r[#########...........]  45%  123456/274000 records  98765 events/s"
void draw(std::ostream& err, const projections::replay_progress& p) {
  constexpr int width = 30;
  const double frac = p.total_records == 0 ? 1.0
                                           : static_cast<double>(p.records) /
                                                 static_cast<double>(p.total_records);
  const int filled = static_cast<int>(frac * width);
  const double rate = p.elapsed.count() > 0 ? static_cast<double>(p.events) / p.elapsed.count() : 0;
  err << fmt::format("\r[{}{}] {:3.0f}%  {}/{} records  {:.0f} events/s", std::string(filled, '#'),
                     std::string(width - filled, '.'), frac * 100, p.records, p.total_records, rate)
      << std::flush;
}

}  // namespace

int run_rebuild(const rebuild_options& o, std::ostream& out, std::ostream& err) {
  const fs::path data(o.store.data_dir);
  const fs::path live = data / "store";
  const fs::path into = o.into.empty() ? data / "rebuild" : fs::path(o.into);
  std::error_code ec;
  if (fs::exists(into)) {
    if (!o.into.empty() && !fs::is_empty(into, ec)) {
      err << "caseline rebuild: " << into.string() << " exists and is not empty\n";
      return 2;
    }
    fs::remove_all(into, ec);  // the default scratch folder of an earlier rebuild
    if (ec) {
      err << "caseline rebuild: cannot remove " << into.string() << ": " << ec.message() << "\n";
      return 1;
    }
  }
  // With --verify, the live store is opened once, as a secondary instance, before the log: its
  // offsets and rows are of one moment (a running server goes on writing meanwhile), and every
  // record it had applied is in the log as opened after it.
  std::unique_ptr<storage::secondary_db> live_db;
  std::map<std::int32_t, std::int64_t> until;
  if (o.verify) {
    auto opened = storage::open_secondary(live.string());
    if (!opened) {
      err << "caseline rebuild --verify: " << opened.error().message() << "\n";
      return 1;
    }
    live_db = std::move(opened).value();
    auto offsets = projections::stored_offsets(*live_db);
    if (!offsets) {
      err << "caseline rebuild --verify: " << offsets.error().message() << "\n";
      return 1;
    }
    until = std::move(offsets).value();
  }
  // Read-only beside a running server (the embedded log as a secondary instance); a missing
  // embedded log is an error, not a new empty one.
  auto log = open_existing_log(o.store);
  if (!log) {
    err << "caseline rebuild: " << log.error().message() << "\n";
    return 1;
  }
  if (o.verify)  // partitions the live store never applied: nothing to replay there either
    for (std::int32_t p = 0; p < log.value()->partition_count(); ++p) until.try_emplace(p, 0);
  // A fresh store, filled without the WAL: a crash leaves it consistent at its last flush.
  auto fresh = projections::store::open(into.string(), projections::store::open_mode::bulk);
  if (!fresh) {
    err << "caseline rebuild: " << fresh.error().message() << "\n";
    return 1;
  }
  result<projections::replay_stats> stats = make_error(std::error_code{}, "");
  {
    const unsigned lanes =
        o.lanes > 0 ? o.lanes : projections::default_replay_lanes(log.value()->partition_count());
    projections::replay_sets sets(*fresh.value(), lanes);
    if (auto e = sets.load_error()) {
      err << "caseline rebuild: " << e->message() << "\n";
      return 1;
    }
    auto last = std::chrono::steady_clock::now();
    stats = projections::replay(
        *log.value(), *fresh.value(), sets.lanes(), until,
        [&](const projections::replay_progress& p) {
          const auto now = std::chrono::steady_clock::now();
          if (!o.progress || now - last < std::chrono::milliseconds(200)) return;
          last = now;
          draw(err, p);
        },
        o.checkpoint_records);
  }
  fresh.value().reset();
  if (o.progress) err << "\n";
  if (!stats) {
    err << "caseline rebuild: " << stats.error().message() << "\n";
    return 1;
  }
  out << fmt::format("rebuilt {} events ({} records) in {:.2f} s: {:.0f} events/s into {}\n",
                     stats.value().events, stats.value().records, stats.value().elapsed.count(),
                     stats.value().events_per_second(), into.string());
  if (!o.verify) return 0;
  auto fresh_db = storage::open_secondary(into.string());
  if (!fresh_db) {
    err << "caseline rebuild --verify: " << fresh_db.error().message() << "\n";
    return 1;
  }
  auto diff =
      projections::compare_stores({*live_db, live.string()}, {*fresh_db.value(), into.string()},
                                  projections::log_derived_families(), 50);
  if (!diff) {
    err << "caseline rebuild --verify: " << diff.error().message() << "\n";
    return 1;
  }
  if (diff.value().empty()) {
    out << fmt::format("verify: identical ({} families compared key by key)\n",
                       projections::log_derived_families().size());
    return 0;
  }
  for (const auto& d : diff.value())
    out << fmt::format("verify: {} {}: {}\n", d.family, d.key, d.what);
  out << fmt::format("verify: {}{} differences\n", diff.value().size(),
                     diff.value().size() >= 50 ? "+" : "");
  return 1;
}

}  // namespace caseline::tools
