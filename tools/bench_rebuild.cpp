#include "tools/bench_rebuild.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include <fmt/format.h>
#include <malloc.h>
#include <rocksdb/db.h>

#include "core/codec.h"
#include "core/decide.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "events/log_reader.h"
#include "events/record.h"
#include "projections/case_projection.h"
#include "projections/case_row.h"
#include "projections/rebuild.h"
#include "tools/bench_server.h"
#include "tools/bench_topics.h"

namespace caseline::tools {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

// Bounds the appends in flight, so that generating a large log needs bounded memory.
class throttle {
 public:
  void acquire() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return in_flight_ < 20000; });
    ++in_flight_;
  }
  void release(const result<events::log_position>& r) {
    {
      std::lock_guard lk(mu_);
      --in_flight_;
      if (!r && !failure_) failure_ = r.error();
    }
    cv_.notify_all();
  }
  std::optional<error> failure() {
    std::lock_guard lk(mu_);
    return failure_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t in_flight_{0};
  std::optional<error> failure_;
};

// One generated case: decides commands against its state and appends one record per command,
// as the write side does.
class case_gen {
 public:
  case_gen(events::event_log& log, throttle& t, core::context base, generated_log& stats)
      : log_(log), throttle_(t), base_(std::move(base)), stats_(stats) {}

  // Decides `cmd` at `now` by `who`; false if a rule refused it (the history stops there).
  bool run(const case_id& id, const core::command& cmd, timestamp now, const core::actor& who) {
    core::context ctx = base_;
    ctx.now = now;
    ctx.who = who;
    if (row_.state.version == 0) row_.state.id = id;
    auto decided = core::decide(row_.state, cmd, ctx);
    if (!decided || decided.value().empty()) return false;
    events::record rec;
    for (const auto& ev : decided.value()) {
      events::envelope env = events::new_event(id, core::encode(ev));
      env.recorded_at = now;
      env.occurred_at = now;
      env.by = events::actor{who.id(), std::string(core::to_string(who.role)), who.center(), who.unit()};
      env.correlation_id = "bench";
      std::string bytes = events::link_next(env, row_.state.version, row_.last_hash);
      row_.state = core::evolve(std::move(row_.state), ev, now);
      rec.events.push_back(std::move(bytes));
    }
    stats_.events += rec.events.size();
    ++stats_.records;
    throttle_.acquire();
    log_.append(id(), events::encode_record(rec),
                [t = &throttle_](const result<events::log_position>& r) { t->release(r); });
    return true;
  }
  const core::case_state& state() const { return row_.state; }

 private:
  events::event_log& log_;
  throttle& throttle_;
  core::context base_;
  generated_log& stats_;
  projections::case_row row_;
};

timestamp at(civil_date d, std::uint64_t minute) {
  return timestamp{shanghai_start_of_day(d).ms +
                   static_cast<std::int64_t>(std::uint64_t{8} * 60 + minute % 600) * 60000};
}

}  // namespace

result<generated_log> generate_log(events::event_log& log, const core::calendar& cal,
                                   std::uint64_t target, std::uint64_t seed) {
  core::registry reg = core::registry::henan();
  std::vector<center_code> centers;
  for (const auto& c : reg.centers()) {
    if (!c.parent) continue;
    centers.push_back(c.code);
    for (const char* u : {"yg", "gl"})
      reg.apply(core::unit_registered{unit_id{c.code() + "-" + u}, c.name + u, c.code,
                                      core::unit_contact{"联系人", "13900000000", "", ""}});
  }
  core::context base;
  base.cal = &cal;
  base.reg = &reg;
  throttle t;
  generated_log stats;
  std::mt19937_64 rng(seed);
  const auto pick = [&](std::uint64_t n) { return rng() % n; };
  // About six events a case, spread over 200 days from 2026-01-05.
  const std::uint64_t per_day = std::max<std::uint64_t>(1, target / 6 / 200);
  std::map<std::string, std::uint64_t> seq;
  while (stats.events < target) {
    const civil_date day = civil_date{2026, 1, 5}.plus_days(static_cast<std::int64_t>(stats.cases / per_day));
    const center_code center = centers[pick(centers.size())];
    const case_id id{projections::format_case_id(center(), day, ++seq[center() + day.to_string()])};
    ++stats.cases;
    const core::actor agent{user_id{"agent@" + center()}, core::role::agent, center, {}};
    const core::actor rv{user_id{"rv@" + center()}, core::role::revisit_officer, center, {}};
    case_gen g(log, t, base, stats);
    std::uint64_t minute = pick(480);
    civil_date d = day;
    const auto now = [&] { return at(d, minute += 7); };
    const bool urgent = pick(100) == 0;
    if (!g.run(id, core::receive{core::channel::phone, center, {"13800000000", "张三"}, "内容", std::nullopt, id,
                                 urgent ? "重大紧急" : ""},
               now(), agent))
      return make_error(events::errc::bad_config, "the generator's receive was refused");
    const auto p = pick(100);
    if (p < 17) {
      if (p < 12) g.run(id, core::answer_immediately{"已答复"}, now(), agent);
      else if (p < 15) g.run(id, core::not_accept{core::not_accepted_reason::outside_remit, "不属于"}, now(), agent);
      else g.run(id, core::redirect{core::redirect_target::rail, "12306", false}, now(), agent);
      d = d.plus_days(1);
      g.run(id, core::archive{}, now(), agent);
      continue;
    }
    const auto c = pick(100);
    const auto cat = c < 40 ? core::category::complaint : c < 85 ? core::category::inquiry : core::category::suggestion;
    g.run(id,
          core::classify{cat,
                         static_cast<core::domain>(pick(6)),
                         {bench_topics[pick(bench_topics.size())]},
                         false,
                         ""},
          now(), agent);
    d = d.plus_days(static_cast<std::int64_t>(pick(4)));
    unit_id unit{center() + (pick(2) == 0 ? "-yg" : "-gl")};
    g.run(id, core::transfer{unit}, now(), agent);
    const core::actor staff{user_id{"staff@" + unit()}, core::role::unit_staff, {}, unit};
    if (pick(100) < 5) {
      d = d.plus_days(1);
      g.run(id, core::return_case{"不属于本单位"}, now(), staff);
      unit = unit_id{center() + (unit().ends_with("yg") ? "-gl" : "-yg")};
      g.run(id, core::transfer{unit}, now(), agent);
    }
    const core::actor unit_staff{user_id{"staff@" + unit()}, core::role::unit_staff, {}, unit};
    if (pick(100) < 10) {
      d = d.plus_days(1);
      const core::actor head{user_id{"head@" + unit()}, core::role::unit_head, {}, unit};
      g.run(id, core::extend{core::extension_reason::complex, working_days{5}, "复杂"}, now(), head);
    }
    const int limit_days = cat == core::category::complaint ? 42 : cat == core::category::inquiry ? 7 : 14;
    d = d.plus_days(1 + static_cast<std::int64_t>(pick(static_cast<std::uint64_t>(limit_days * 6 / 5))));
    if (g.state().reply_due && d > *g.state().reply_due)  // late: the center reminded first
      g.run(id, core::remind{core::deadline_kind::reply, *g.state().reply_due}, now(), agent);
    g.run(id, core::reply{"事实", "过程", "依据", pick(10) != 0}, now(), unit_staff);
    if (g.state().revisit_required) {
      d = d.plus_days(1);
      const bool reached = pick(10) != 0;
      g.run(id, core::revisit{reached, reached ? std::optional(static_cast<core::satisfaction>(pick(3))) : std::nullopt,
                              std::nullopt, false, ""},
            now(), rv);
    }
    d = d.plus_days(1);
    g.run(id, core::archive{}, now(), agent);
  }
  if (auto r = log.flush(std::chrono::minutes(5)); !r) return r.error();
  if (auto f = t.failure()) return *f;
  return stats;
}

namespace {

// CPU time of the whole process (every thread: RocksDB's flushes and compactions too): on a
// machine shared with other work the wall-clock rate measures the share of the cores it got.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// The process's resident memory now and at its peak (/proc/self/status), in bytes.
struct resident_memory {
  double now{0};
  double peak{0};
};
resident_memory resident() {
  std::ifstream status("/proc/self/status");
  resident_memory r;
  std::string line;
  while (std::getline(status, line)) {
    long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %ld kB", &kb) == 1)
      r.now = static_cast<double>(kb) * 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %ld kB", &kb) == 1)
      r.peak = static_cast<double>(kb) * 1024;
  }
  return r;
}

// What the rebuilt store costs in memory opened as a server opens it (store::open_mode::normal,
// store_memory.h): the process's resident memory before the open and after reading every case's
// row and every 16th case's history through it.
result<std::pair<resident_memory, std::uint64_t>> read_as_server(const fs::path& store_dir,
                                                                 resident_memory& before) {
  malloc_trim(0);  // what the rebuild freed goes back to the system first
  before = resident();
  auto st = projections::store::open(store_dir.string());
  if (!st) return st.error();
  projections::case_reader reader(*st.value());
  std::uint64_t n = 0;
  std::optional<error> failed;
  auto scanned = reader.for_each([&](const case_id& id, const result<projections::case_row>& row) {
    if (!row && !failed) failed = row.error();
    if (n++ % 16 != 0 || failed) return;
    if (auto h = reader.history(id); !h) failed = h.error();
  });
  if (!scanned) return scanned.error();
  if (failed) return *failed;
  return std::pair{resident(), n};
}

// What RocksDB wrote to build the store (flushes and compactions, every level) and the CPU time
// its compactions took, per family, from each family's compaction statistics ("rocksdb.cfstats").
struct write_amplification {
  struct family_figures {
    std::string name;
    double written_bytes{0};
    double compaction_cpu_seconds{0};
  };
  std::vector<family_figures> families;  // most written first
  double written_bytes{0};
  double compaction_cpu_seconds{0};
};

write_amplification compaction_figures(projections::store& st) {
  write_amplification w;
  for (std::size_t i = 0; i < static_cast<std::size_t>(projections::family::count_); ++i) {
    auto* cf = st.cf(static_cast<projections::family>(i));
    std::map<std::string, std::string> stats;
    if (!st.db().GetMapProperty(cf, "rocksdb.cfstats", &stats)) continue;
    auto number = [&](const char* key) {
      const auto it = stats.find(key);
      return it == stats.end() ? 0.0 : std::strtod(it->second.c_str(), nullptr);
    };
    write_amplification::family_figures f{cf->GetName(),
                                          number("compaction.Sum.WriteGB") * (1u << 30),
                                          number("compaction.Sum.CompMergeCPU")};
    w.written_bytes += f.written_bytes;
    w.compaction_cpu_seconds += f.compaction_cpu_seconds;
    if (f.written_bytes > 0) w.families.push_back(std::move(f));
  }
  std::sort(w.families.begin(), w.families.end(),
            [](const auto& a, const auto& b) { return a.written_bytes > b.written_bytes; });
  return w;
}

// Reads every record of the log and decodes it (records and envelopes): what any consumer pays
// before a projection does anything.
result<std::pair<std::uint64_t, double>> raw_consume(events::event_log& log) {
  const auto start = clock_type::now();
  std::uint64_t n = 0;
  for (std::int32_t p = 0; p < log.partition_count(); ++p) {
    auto end = log.end_offset(events::partition_id{p});
    if (!end) return end.error();
    std::int64_t next = 0;
    while (next < end.value()()) {
      auto recs = log.read(events::partition_id{p}, events::log_offset{next}, 2048, std::chrono::seconds(1));
      if (!recs) return recs.error();
      if (recs.value().empty()) return make_error(events::errc::unavailable, "short read");
      for (const auto& r : recs.value()) {
        if (events::is_checkpoint(r.value)) continue;
        auto rec = events::record_events::decode(r);
        if (!rec) return rec.error().cause;
        for (std::uint32_t i = 0; i < rec.value().size(); ++i) {
          auto env = rec.value().event(i);
          if (!env) return env.error().cause;
          ++n;
        }
        next = r.position.offset() + 1;
      }
    }
  }
  return std::pair{n, std::chrono::duration<double>(clock_type::now() - start).count()};
}

// db_bench --benchmarks=fillbatch: RocksDB's batched write rate on this machine (ops/s).
std::optional<double> db_bench_fillbatch(const std::string& program, const fs::path& dir,
                                         std::uint64_t num, std::string& line_out) {
  const std::string cmd = fmt::format("{} --benchmarks=fillbatch --num={} --db={} 2>&1", program, num,
                                      (dir / "db_bench").string());
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::optional<double> ops;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) {
    std::string line(buf.data());
    if (!line.starts_with("fillbatch")) continue;
    line_out = line;
    const auto k = line.find(" ops/sec");
    if (k == std::string::npos) continue;
    auto b = line.rfind(' ', k - 1);
    try {
      ops = std::stod(line.substr(b + 1, k - b - 1));
    } catch (const std::exception&) {
      ops.reset();  // an unexpected format: reported as missing
    }
  }
  pclose(pipe);
  return ops;
}

// The generator's version, in the marker of a kept log: raise it when generate_log writes other
// records for the same parameters, so a log generated before is not reused.
constexpr int generator_version = 1;

std::string log_marker(const bench_rebuild_options& o) {
  return fmt::format("caseline bench rebuild log: generator {}, events {}, partitions {}, seed {}",
                     generator_version, o.events, o.partitions, o.seed);
}

// What a kept log holds, from its marker (`<log_dir>/generated`: the parameters, then the
// counts), when it was generated with these parameters. The marker is written only once the log
// is flushed, so a generation that was interrupted is never reused.
std::optional<generated_log> kept_log(const fs::path& log_dir, const bench_rebuild_options& o) {
  std::ifstream in(log_dir / "generated");
  std::string first;
  generated_log g;
  if (!std::getline(in, first) || first != log_marker(o)) return std::nullopt;
  if (!(in >> g.cases >> g.records >> g.events)) return std::nullopt;
  return g;
}

result<void> keep_marker(const fs::path& log_dir, const bench_rebuild_options& o,
                         const generated_log& g) {
  const fs::path tmp = log_dir / "generated.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << log_marker(o) << "\n" << g.cases << " " << g.records << " " << g.events << "\n";
    if (!out.flush()) return make_error(events::errc::unavailable, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, log_dir / "generated", ec);
  if (ec)
    return make_error(events::errc::unavailable, "cannot write the log's marker: " + ec.message());
  return success();
}

// Whether `inner` is `outer` or lies under it.
bool within(const fs::path& outer, const fs::path& inner) {
  const fs::path a = fs::weakly_canonical(outer);
  const fs::path b = fs::weakly_canonical(inner);
  return std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first == a.end();
}

}  // namespace

int run_bench_rebuild(const bench_rebuild_options& o, std::ostream& out, std::ostream& err,
                      bench_rebuild_figures* figures) {
  auto cal = core::calendar::load_file(o.calendar_file);
  if (!cal) {
    err << "caseline bench rebuild: " << cal.error().message() << "\n";
    return 2;
  }
  const std::string work =
      o.dir.empty()
          ? (fs::temp_directory_path() / fmt::format("caseline-bench-rebuild-{}", o.seed)).string()
          : o.dir;
  const bool keep_log = !o.log_dir.empty();
  if (keep_log && within(work, o.log_dir)) {
    err << "caseline bench rebuild: --log-dir must lie outside the working folder " << work
        << " (which is emptied)\n";
    return 2;
  }
  const auto made = fresh_bench_dir(work, "", err);
  if (!made) return 1;
  const fs::path& dir = *made;
  std::error_code ec;
  const fs::path log_dir = keep_log ? fs::path(o.log_dir) : dir;
  const std::optional<generated_log> kept = keep_log ? kept_log(log_dir, o) : std::nullopt;
  if (keep_log && !kept) {
    fs::remove_all(log_dir, ec);
    fs::create_directories(log_dir, ec);
    if (ec) {
      err << "caseline bench rebuild: cannot create " << log_dir.string() << ": " << ec.message()
          << "\n";
      return 1;
    }
  }
  auto log = events::open_embedded_log({(log_dir / "log").string(), o.partitions});
  if (!log) {
    err << "caseline bench rebuild: " << log.error().message() << "\n";
    return 1;
  }
  generated_log generated;
  if (kept) {
    generated = *kept;
    out << fmt::format(
        "log: {} events in {} records, {} cases, {} partitions (embedded, kept in {}"
        " from an earlier run)\n",
        generated.events, generated.records, generated.cases, o.partitions, log_dir.string());
  } else {
    const auto g0 = clock_type::now();
    auto gen = generate_log(*log.value(), cal.value(), o.events, o.seed);
    if (!gen) {
      err << "caseline bench rebuild: generate: " << gen.error().message() << "\n";
      return 1;
    }
    generated = gen.value();
    if (keep_log)
      if (auto r = keep_marker(log_dir, o, generated); !r) {
        err << "caseline bench rebuild: " << r.error().message() << "\n";
        return 1;
      }
    const double gen_s = std::chrono::duration<double>(clock_type::now() - g0).count();
    out << fmt::format(
        "log: {} events in {} records, {} cases, {} partitions (embedded, generated in {:.1f} s)\n",
        generated.events, generated.records, generated.cases, o.partitions, gen_s);
  }

  auto raw = raw_consume(*log.value());
  if (!raw) {
    err << "caseline bench rebuild: consume: " << raw.error().message() << "\n";
    return 1;
  }
  auto st = projections::store::open((dir / "store").string(), projections::store::open_mode::bulk);
  if (!st) {
    err << "caseline bench rebuild: " << st.error().message() << "\n";
    return 1;
  }
  result<projections::replay_stats> rebuilt = make_error(std::error_code{}, "");
  const double cpu0 = process_cpu_seconds();
  const unsigned lanes =
      o.lanes > 0 ? o.lanes : projections::default_replay_lanes(log.value()->partition_count());
  {
    projections::replay_sets sets(*st.value(), lanes);
    rebuilt = projections::replay(*log.value(), *st.value(), sets.lanes(), {});
  }
  const write_amplification written = compaction_figures(*st.value());
  st.value().reset();
  const double rebuild_cpu = process_cpu_seconds() - cpu0;
  if (!rebuilt) {
    err << "caseline bench rebuild: " << rebuilt.error().message() << "\n";
    return 1;
  }
  // The store on disk as the rebuild left it: its last flush wrote every family (rebuild.h), and
  // nothing has read or compacted it since.
  std::uintmax_t store_bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "store", ec))
    if (e.is_regular_file(ec)) store_bytes += e.file_size(ec);
  const double bytes_per_event =
      rebuilt.value().events > 0
          ? static_cast<double>(store_bytes) / static_cast<double>(rebuilt.value().events)
          : 0;
  resident_memory before_open;
  auto as_server = read_as_server(dir / "store", before_open);
  if (!as_server) {
    err << "caseline bench rebuild: reading the rebuilt store: " << as_server.error().message()
        << "\n";
    return 1;
  }
  std::string db_line;
  std::optional<double> dbb;
  if (!o.db_bench.empty()) dbb = db_bench_fillbatch(o.db_bench, dir, 1'000'000, db_line);

  const double raw_rate = raw.value().second > 0 ? static_cast<double>(raw.value().first) / raw.value().second : 0;
  out << fmt::format(
      "rebuild (cases, queues+deadlines, reports) : {:>10.0f} events/s  ({} events in {:.2f} s, "
      "{} lane{}; {:.2f} keys/event; store {:.0f} bytes/event, {:.1f} MiB)\n",
      rebuilt.value().events_per_second(), rebuilt.value().events, rebuilt.value().elapsed.count(),
      lanes, lanes == 1 ? "" : "s", rebuilt.value().keys_per_event(), bytes_per_event,
      static_cast<double>(store_bytes) / (1024.0 * 1024.0));
  out << fmt::format(
      "rebuild CPU (the process's, all threads)   : {:.2f} s, {:.0f} events per CPU-second\n",
      rebuild_cpu, rebuild_cpu > 0 ? static_cast<double>(rebuilt.value().events) / rebuild_cpu : 0);
  constexpr double mib = 1024.0 * 1024.0;
  std::string by_family;
  for (std::size_t i = 0; i < std::min<std::size_t>(4, written.families.size()); ++i)
    by_family += fmt::format("{}{} {:.0f} MiB", i ? ", " : "", written.families[i].name,
                             written.families[i].written_bytes / mib);
  out << fmt::format(
      "RocksDB writes (flushes + compactions)     : {:.0f} MiB, {:.0f} bytes/event, {:.1f}x the "
      "store; compactions {:.2f} CPU-s; most written: {}\n",
      written.written_bytes / mib,
      rebuilt.value().events > 0
          ? written.written_bytes / static_cast<double>(rebuilt.value().events)
          : 0,
      store_bytes > 0 ? written.written_bytes / static_cast<double>(store_bytes) : 0,
      written.compaction_cpu_seconds, by_family);
  out << fmt::format(
      "memory: peak RSS {:.0f} MiB (log, bulk store, rebuild); the store opened as a server's "
      "with {} cases, every case and every 16th history read: RSS {:.0f} MiB ({:+.0f} MiB)\n",
      as_server.value().first.peak / mib, as_server.value().second,
      as_server.value().first.now / mib, (as_server.value().first.now - before_open.now) / mib);
  out << fmt::format("raw consume (read + decode, same log)      : {:>10.0f} events/s  ({} events in {:.2f} s)\n",
                     raw_rate, raw.value().first, raw.value().second);
  if (dbb)
    out << fmt::format("db_bench fillbatch (RocksDB batched writes): {:>10.0f} ops/s\n", *dbb);
  else
    out << "db_bench fillbatch: not run or not understood" << (db_line.empty() ? "" : ": " + db_line) << "\n";
  const bench_rebuild_figures f{
      rebuilt.value().events,           lanes,    rebuilt.value().events_per_second(),
      rebuilt.value().keys_per_event(), raw_rate, dbb};
  out << fmt::format(
      "target bound min(raw consume{})       : {:>10.0f} events/s; the rebuild is {:.1f} % of it\n",
      dbb ? ", db_bench ÷ keys/event" : "", f.bound_per_second(),
      f.bound_per_second() > 0 ? 100 * f.events_per_second / f.bound_per_second() : 0);
  fs::remove_all(dir, ec);  // best effort: a leftover temp folder is harmless
  if (figures) *figures = f;
  return 0;
}

double bench_rebuild_figures::bound_per_second() const {
  if (!db_bench_ops_per_second || keys_per_event <= 0) return raw_consume_per_second;
  return std::min(raw_consume_per_second, *db_bench_ops_per_second / keys_per_event);
}

}  // namespace caseline::tools
