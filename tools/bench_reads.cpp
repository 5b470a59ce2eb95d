#include "tools/bench_reads.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "tools/bench_seed.h"
#include "tools/bench_server.h"

namespace caseline::tools {

namespace {

namespace fs = std::filesystem;

constexpr const char* center = "410100";

// SplitMix64's finalizer: a request's number to well-spread bits.
std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string seed_body(unsigned c, std::uint64_t n) {
  return fmt::format(
      R"({{"channel":"phone","center":"{}","caller":{{"phone":"1380000{:04}","name":"bench"}},"content":"seeded case {} of connection {}: the bus did not stop at the station"}})",
      center, (std::uint64_t{c} * 7 + n) % 10000, n, c);
}

// RFC 3339 in UTC, `days` from now.
std::string days_from_now(int days) {
  const std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// What a kept seeded folder needs to be read again (bench_reads_options::reuse): the topic,
// the tokens and the case ids, one per line, in <folder>.seeded beside it.
struct kept_seed {
  std::string topic;
  std::string admin_token;
  std::string token;
  std::string metrics_token;
  std::vector<std::string> ids;
};

fs::path kept_file(const fs::path& data) { return data.string() + ".seeded"; }

std::optional<kept_seed> read_kept(const fs::path& data) {
  std::ifstream in(kept_file(data));
  kept_seed k;
  if (!in || !std::getline(in, k.topic) || !std::getline(in, k.admin_token) ||
      !std::getline(in, k.token) || !std::getline(in, k.metrics_token))
    return std::nullopt;
  for (std::string id; std::getline(in, id);) k.ids.push_back(std::move(id));
  if (k.ids.empty()) return std::nullopt;
  return k;
}

bool write_kept(const fs::path& data, const kept_seed& k) {
  std::ofstream out(kept_file(data), std::ios::trunc);
  out << k.topic << '\n' << k.admin_token << '\n' << k.token << '\n' << k.metrics_token << '\n';
  for (const auto& id : k.ids) out << id << '\n';
  return static_cast<bool>(out.flush());
}

double per_second(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

double minutes_for_a_million(std::uint64_t n, double seconds) {
  return n > 0 ? 1e6 * seconds / static_cast<double>(n) / 60 : 0;
}

// The reminder task's pass after `passes_before` done: its reminders have their outcomes and the
// projections applied them (the log's end). False, said on `err`, after `limit`.
bool settle_reminders(const admin_target& metrics, double passes_before, std::chrono::seconds limit,
                      std::ostream& err) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto m = scrape_sums(metrics, {"caseline_reminder_passes_total", "caseline_reminders_in_flight",
                                   "caseline_projection_lag_records"});
    if (m && m.value()[0] > passes_before && m.value()[1] == 0 && m.value()[2] == 0) return true;
    if (std::chrono::steady_clock::now() > deadline) {
      err << "caseline bench reads: the reminder task's pass did not settle within "
          << limit.count() << " s; the reads race its writes ("
          << (m ? fmt::format("passes {}, in flight {}, projection lag {}", m.value()[0],
                              m.value()[1], m.value()[2])
                : m.error().message())
          << ")\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a poll, in a benchmark
  }
}

// One log: seed, start, read; false when the server could not be started or seeded.
bool run_on(const bench_reads_options& o, const std::string& log, const fs::path& data,
            std::ostream& out, std::ostream& err, bench_reads_figures& f) {
  bench_server_options so;
  so.program = o.program;
  so.data_dir = data.string();
  so.partitions = o.partitions;
  so.calendar_file = o.calendar_file;
  // The reads are measured alone: the moved clock passes every seeded case's deadline at once,
  // which a day of service never does, and the reminder task would write a reminder for each
  // during the reads. Its passes run when the clock moves (one pass, awaited below), not on a
  // timer.
  so.reminder_interval_seconds = 86'400;
  if (log == "kafka") {
    so.kafka = o.kafka;
    so.topic =
        o.topic.empty() ? fmt::format("caseline-bench-reads-{}", std::time(nullptr)) : o.topic;
  }
  std::vector<std::string> ids;
  bench_reads_figures::seeding seeding{log, o.seed, 0, 0, 0, 0};
  std::optional<kept_seed> kept;
  if (o.reuse) kept = read_kept(data);
  if (kept) {
    ids = std::move(kept->ids);
    so.topic = kept->topic;
    so.admin_token = kept->admin_token;
    seeding.how = "kept";
    seeding.cases = ids.size();
    out << fmt::format("{}: reading the {} cases kept in {}\n", log, ids.size(), data.string());
  } else if (o.seed == "writer") {
    auto seeded = seed_received_cases(so, o.cases, center, o.histories);
    if (!seeded) {
      err << "caseline bench reads: seeding on " << log << ": " << seeded.error().message() << "\n";
      return false;
    }
    ids = std::move(seeded.value().ids);
    so.admin_token = seeded.value().admin_token;
    seeding.cases = ids.size();
    seeding.commands = seeded.value().commands;
    seeding.seconds = seeded.value().seconds;
    seeding.settle_seconds = seeded.value().settle_seconds;
    out << fmt::format(
        "{}: seeded {} cases ({} commands) through the server's writer (no HTTP) in {:.1f} s: "
        "{:.0f} cases/s (10^6 at this rate: {:.1f} min); the store settled (flushes and "
        "compactions done) in {:.1f} s\n",
        log, seeding.cases, seeding.commands, seeding.seconds,
        per_second(seeding.cases, seeding.seconds),
        minutes_for_a_million(seeding.cases, seeding.seconds), seeding.settle_seconds);
  }
  auto server = bench_server::start(so);
  if (!server) {
    err << "caseline bench reads: " << server.error().message() << "\n";
    return false;
  }
  auto& s = *server.value();
  auto token = kept ? result<std::string>(kept->token) : s.token("agent", center);
  if (!token) {
    err << "caseline bench reads: " << token.error().message() << "\n";
    return false;
  }
  // /metrics with a token of its own: the bootstrap admin token expires once the clock moves on.
  auto metrics_token = kept ? result<std::string>(kept->metrics_token) : s.token("analyst", center);
  if (!metrics_token) {
    err << "caseline bench reads: " << metrics_token.error().message() << "\n";
    return false;
  }
  const auto to = parse_http_url(s.url());

  if (o.seed == "post") {
    std::mutex mu;
    load_options seed;
    seed.connections = o.seed_connections;
    seed.duration = std::chrono::hours(24);
    seed.max_requests = o.cases;
    seed.token = token.value();
    seed.expect_status = 201;
    const auto seeded = drive_http(
        *to, seed,
        [](unsigned c, std::uint64_t n) {
          return load_request{"POST", "/v1/cases", seed_body(c, n)};
        },
        [&](unsigned, const std::string& body) {
          boost::system::error_code ec;
          const auto doc = boost::json::parse(body, ec);
          if (ec || !doc.is_object() || !doc.as_object().contains("id")) return;
          std::lock_guard lk(mu);
          ids.emplace_back(doc.at("id").as_string().c_str());
        });
    seeding.cases = seeded.ok;
    seeding.seconds = seeded.seconds;
    out << fmt::format(
        "{}: seeded {} cases through POST /v1/cases ({} connections) in {:.1f} s: {:.0f} cases/s "
        "(10^6 at this rate: {:.1f} min); {} failed\n",
        log, seeded.ok, o.seed_connections, seeded.seconds, seeded.per_second(),
        minutes_for_a_million(seeded.ok, seeded.seconds), seeded.failed);
  }
  if (ids.empty()) {
    err << "caseline bench reads: no case was seeded on " << log << "\n";
    return false;
  }
  // The seeded cases' transfer deadlines pass: the overdue list has rows to show. A kept
  // folder's clock was moved when it was seeded (the manual clock resumes where it was).
  const admin_target metrics{s.url(), metrics_token.value()};
  settle_reminders(metrics, 0, std::chrono::seconds(120), err);  // the pass at start
  if (!kept) {
    const auto passes = scrape_sums(metrics, {"caseline_reminder_passes_total"});
    if (auto c = admin_request(s.admin(), "POST", "/v1/admin/clock",
                               R"({"now":")" + days_from_now(30) + R"("})");
        !c || c.value().status != 200)
      err << "caseline bench reads: could not move the clock; the overdue list may be empty\n";
    else if (passes)
      settle_reminders(metrics, passes.value()[0], std::chrono::seconds(120), err);
    if (o.reuse &&
        !write_kept(data, {so.topic, so.admin_token.empty() ? s.admin().token : so.admin_token,
                           token.value(), metrics_token.value(), ids}))
      err << "caseline bench reads: could not keep the seeded folder's ids and tokens\n";
  }

  // The case a request reads: uniformly over all, or (`hot`) with the working set's share.
  const auto id_of = [&](std::uint64_t k, bool hot) -> const std::string& {
    return ids[pick_case(k, ids.size(), hot ? o.hot_share : 0, o.hot_cases)];
  };
  struct route {
    std::string name;  // as in o.routes
    bool hot;          // the working set's reads
    std::function<std::string(std::uint64_t)> target;
  };
  std::vector<route> routes{
      {"case", false, [&](std::uint64_t k) { return "/v1/cases/" + id_of(k, false); }},
      {"history", false,
       [&](std::uint64_t k) { return "/v1/cases/" + id_of(k, false) + "/events"; }},
      {"queue", false,
       [](std::uint64_t) { return std::string("/v1/queues/to_classify?limit=50"); }},
      {"overdue", false, [](std::uint64_t) { return std::string("/v1/sla/overdue"); }}};
  if (o.hot_share > 0) {
    routes.push_back(
        {"case", true, [&](std::uint64_t k) { return "/v1/cases/" + id_of(k, true); }});
    routes.push_back({"history", true,
                      [&](std::uint64_t k) { return "/v1/cases/" + id_of(k, true) + "/events"; }});
  }
  const auto reminders_before = scrape_sums(metrics, {"caseline_reminders_total"});
  for (unsigned conns : o.connections) {
    load_options lo;
    lo.connections = conns;
    lo.duration = o.duration;
    lo.token = token.value();
    for (const auto& rt : routes) {
      if (std::find(o.routes.begin(), o.routes.end(), rt.name) == o.routes.end()) continue;
      const std::string shown = rt.hot ? rt.name + ", hot" : rt.name;
      const auto before = scrape_process_figures(metrics);
      const auto read_before = s.storage_read_bytes();
      auto r = drive_http(*to, lo, [&target = rt.target](unsigned c, std::uint64_t n) {
        return load_request{"GET", target(std::uint64_t{c} << 40 | n), {}};
      });
      const auto read_after = s.storage_read_bytes();
      const auto after = scrape_process_figures(metrics);
      if (!before || !after)
        err << "caseline bench reads: /metrics: "
            << (before ? after.error() : before.error()).message() << "; no server CPU figure for "
            << log << " " << shown << "\n";
      else if (r.ok > 0)
        r.server_cpu_us = (after.value().cpu_seconds - before.value().cpu_seconds) * 1e6 /
                          static_cast<double>(r.ok);
      if (read_before && read_after && r.ok > 0)
        r.server_disk_kib =
            static_cast<double>(*read_after - *read_before) / 1024 / static_cast<double>(r.ok);
      print_load_row(out, fmt::format("{} {}, {} conn.", log, shown, conns), r);
      f.rows.push_back({log, rt.name, conns, r, rt.hot});
    }
  }
  if (const auto after = scrape_sums(metrics, {"caseline_reminders_total"});
      reminders_before && after)
    out << fmt::format("{}: reminders written during the reads: {:.0f}\n", log,
                       after.value()[0] - reminders_before.value()[0]);
  // What the server holds after reading every route over the whole store.
  if (auto m = scrape_process_figures(metrics); m) {
    seeding.resident_bytes = m.value().resident_bytes;
    out << fmt::format("{}: server RSS after the reads: {:.0f} MiB ({} cases)\n", log,
                       seeding.resident_bytes / (1 << 20), seeding.cases);
  } else {
    err << "caseline bench reads: /metrics: " << m.error().message() << "\n";
  }
  f.seeded.push_back(std::move(seeding));
  return true;
}

}  // namespace

std::size_t pick_case(std::uint64_t k, std::size_t n, double hot_share, std::uint64_t hot_cases) {
  // A request's number is mixed first, so that the draws of neighbouring requests are
  // independent; its top 53 bits make a uniform fraction for the share.
  const std::uint64_t x = mix64(k);
  if (hot_share > 0 && static_cast<double>(x >> 11) * 0x1.0p-53 < hot_share) {
    const std::size_t hot = std::min<std::uint64_t>(std::max<std::uint64_t>(hot_cases, 1), n);
    return n - hot + mix64(x) % hot;
  }
  return x % n;
}

int run_bench_reads(const bench_reads_options& o, std::ostream& out, std::ostream& err,
                    bench_reads_figures* figures) {
  if (o.cases == 0 || o.seed_connections == 0 || o.seed_connections > 1024 ||
      o.connections.empty() || o.duration.count() <= 0 || (!o.embedded && o.kafka.empty())) {
    err << "caseline bench reads: need cases > 0, 1-1024 seed connections, connection counts, a "
           "positive duration and a log\n";
    return 2;
  }
  for (unsigned c : o.connections)
    if (c == 0 || c > 1024) {
      err << "caseline bench reads: connection counts are 1-1024\n";
      return 2;
    }
  for (const auto& r : o.routes)
    if (r != "case" && r != "history" && r != "queue" && r != "overdue") {
      err << "caseline bench reads: routes are case, history, queue and overdue\n";
      return 2;
    }
  if (!(o.hot_share >= 0 && o.hot_share <= 1) || o.hot_cases == 0) {
    err << "caseline bench reads: --hot-share is 0-1, --hot-cases at least 1\n";
    return 2;
  }
  if (o.histories && o.seed != "writer") {
    err << "caseline bench reads: --histories seeds through the server's writer: it needs "
           "--seed writer\n";
    return 2;
  }
  if (o.reuse && o.dir.empty()) {
    err << "caseline bench reads: --reuse needs --dir\n";
    return 2;
  }
  std::error_code ec;
  std::optional<fs::path> made;
  if (o.reuse) {  // a kept folder is read again, not emptied
    fs::create_directories(o.dir, ec);
    if (ec) {
      err << "caseline bench reads: cannot create " << o.dir << ": " << ec.message() << "\n";
      return 1;
    }
    made = fs::path(o.dir);
  } else {
    made = fresh_bench_dir(o.dir, fmt::format("caseline-bench-reads-{}", ::getpid()), err);
  }
  if (!made) return 1;
  const fs::path& dir = *made;
  out << fmt::format("read routes, {} cases in the store, {} ms per route and connection count\n",
                     o.cases, o.duration.count());
  print_load_header(out);
  bench_reads_figures f;
  int rc = 0;
  if (o.embedded && !run_on(o, "embedded", dir / "embedded", out, err, f)) rc = 1;
  if (!o.kafka.empty() && !run_on(o, "kafka", dir / "kafka", out, err, f)) rc = 1;
  if (o.baseline)
    for (unsigned conns : o.connections) {
      load_options lo;
      lo.connections = conns;
      lo.duration = o.duration;
      const auto r = drive_http_baseline(
          lo,
          [](unsigned, std::uint64_t) {
            return load_request{"GET", "/v1/cases/baseline", {}};
          },
          200, R"({"id":"baseline"})");
      if (!r) {
        err << "caseline bench reads: the baseline server did not start\n";
        break;
      }
      print_load_row(out, fmt::format("http layer only, {} conn.", conns), *r);
      f.baselines.push_back({"-", "http layer only", conns, *r});
    }
  // Best effort; kept on failure for the servers' logs, and with --reuse for the next run.
  if (rc == 0 && !o.reuse) fs::remove_all(dir, ec);
  if (figures) *figures = std::move(f);
  return rc;
}

}  // namespace caseline::tools
