#include "tools/bench_all.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tools/bench_ingest.h"
#include "tools/bench_produce.h"
#include "tools/bench_purge.h"
#include "tools/bench_reads.h"
#include "tools/bench_rebuild.h"
#include "tools/bench_server.h"

#ifndef CASELINE_BUILD_TYPE
#define CASELINE_BUILD_TYPE "unknown"
#endif

namespace caseline::tools {

namespace {

// From an existing table, its hand-written part: from the line "## Where the time goes" to the
// end ("" when the file or the heading is missing).
std::string kept_analysis(const std::string& file) {
  std::ifstream in(file);
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  constexpr std::string_view heading = "## Where the time goes";
  auto at = text.starts_with(heading) ? 0 : text.find("\n" + std::string(heading));
  if (at == std::string::npos) return {};
  if (text[at] == '\n') ++at;
  return text.substr(at);
}

namespace fs = std::filesystem;

// The first line of a command's output, "" when it fails.
std::string first_line_of(const std::string& command) {
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return {};
  std::array<char, 512> buf{};
  std::string line;
  if (fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) line = buf.data();
  pclose(pipe);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// The value after "key:" on the first line of `file` that starts with `key`.
std::string proc_field(const char* file, std::string_view key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(key)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const auto v = line.find_first_not_of(" \t", colon + 1);
      return v == std::string::npos ? std::string() : line.substr(v);
    }
  return {};
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min);
}

struct table_row {
  std::string what, caseline, engine, ratio, target, met;
};

std::string yes_no(bool met) { return met ? "yes" : "**no**"; }
std::string percent(double part, double whole) {
  return whole > 0 ? fmt::format("{:.1f} %", 100 * part / whole) : "-";
}
std::string rate_p99(const load_result& r) {
  return fmt::format(
      "{:.0f} req/s, p50 {:.2f} ms, p99 {:.2f} ms{}{}", r.per_second(), r.percentile(0.5),
      r.percentile(0.99),
      r.server_cpu_us ? fmt::format("; server CPU {:.0f} µs/req", *r.server_cpu_us) : "",
      r.server_disk_kib ? fmt::format("; storage reads {:.2f} KiB/req", *r.server_disk_kib) : "");
}

// Runs one benchmark, its output going to `out` under a heading.
template <class F>
void section(std::ostream& out, std::string_view title, F&& run) {
  out << "\n== " << title << " ==\n" << std::flush;
  run();
  out << std::flush;
}

}  // namespace

int run_bench_all(const bench_all_options& o, std::ostream& out, std::ostream& err) {
  const auto made = fresh_bench_dir(o.dir, fmt::format("caseline-bench-all-{}", ::getpid()), err);
  if (!made) return 1;
  const fs::path& dir = *made;
  std::error_code ec;
  // The commit of the tree when the run starts (the binary is assumed built from it).
  std::string commit = first_line_of("git rev-parse --short HEAD");
  if (!commit.empty() && !first_line_of("git status --porcelain --untracked-files=no").empty())
    commit += " (with uncommitted changes)";
  const std::string load_before = load_average();
  const auto started = std::chrono::steady_clock::now();
  std::vector<table_row> rows;
  std::vector<std::string> notes;

  // Ingest: a `caseline serve` of its own per log, an agent and an analyst token.
  const auto ingest = [&](const std::string& log) -> std::optional<bench_ingest_figures> {
    bench_server_options so;
    so.program = o.program;
    so.data_dir = (dir / ("ingest-" + log)).string();
    so.calendar_file = o.calendar_file;
    if (log != "embedded") {
      so.kafka = o.kafka;
      so.topic = fmt::format("caseline-bench-ingest-{}-{}", log, std::time(nullptr));
    }
    if (log == "kafka-group") so.group = fmt::format("caseline-bench-{}", std::time(nullptr));
    auto server = bench_server::start(so);
    if (!server) {
      err << "caseline bench all: " << server.error().message() << "\n";
      return std::nullopt;
    }
    auto agent = server.value()->token("agent", "410100");
    auto analyst = server.value()->token("analyst", "410100");
    if (!agent || !analyst) {
      err << "caseline bench all: tokens: "
          << (agent ? analyst.error().message() : agent.error().message()) << "\n";
      return std::nullopt;
    }
    bench_ingest_options io;
    io.url = server.value()->url();
    io.connections = o.ingest_connections;
    io.duration = o.ingest_duration;
    io.warmup = o.ingest_warmup;
    io.token = agent.value();
    io.metrics_token = analyst.value();
    io.server_pid = server.value()->pid();
    bench_ingest_figures f;
    run_bench_ingest(io, out, err, &f);
    return f;
  };
  // `target`: the ratio for that log; none for a row shown beside the targets (a group).
  const auto ingest_rows = [&](const std::string& log, const std::optional<bench_ingest_figures>& f,
                               std::optional<double> produce_rate, std::optional<double> target) {
    const std::string what =
        fmt::format("`POST /v1/cases`, {}, {} connections", log, o.ingest_connections);
    if (!f || !f->baseline) {
      rows.push_back({what, "not run", "", "", "", ""});
      return;
    }
    std::string engine = fmt::format("HTTP layer only: {:.0f} req/s", f->baseline->per_second());
    if (produce_rate) engine += fmt::format("; raw produce {:.0f} rec/s", *produce_rate);
    std::string ratio = percent(f->caseline.per_second(), f->baseline->per_second()) + " of HTTP";
    if (produce_rate)
      ratio += ", " + percent(f->caseline.per_second(), *produce_rate) + " of produce";
    rows.push_back(
        {what, rate_p99(f->caseline), engine, ratio,
         target ? fmt::format("≥ {:.0f} % of HTTP, p99 ≤ 10 ms", *target)
                : "none: the targets are a server's alone",
         target ? yes_no(f->caseline.per_second() >= *target / 100 * f->baseline->per_second() &&
                         f->caseline.percentile(0.99) <= 10)
                : ""});
    if (f->cpu_us_per_command)
      rows.push_back({fmt::format("CPU per accepted command, {} (server's "
                                  "`process_cpu_seconds_total`)",
                                  log),
                      fmt::format("{:.0f} µs; RSS after {:.0f} MiB", *f->cpu_us_per_command,
                                  *f->rss_bytes / (1024.0 * 1024.0)),
                      "", "", target ? "≤ 40 µs" : "none: the targets are a server's alone",
                      target ? yes_no(*f->cpu_us_per_command <= 40) : ""});
    if (!f->cpu_by_thread.empty())
      notes.push_back(fmt::format(
          "Ingest, {}: the server's CPU per accepted command by thread, µs (its threads' user and "
          "system time from /proc/PID/task over the measured run, the threads of a pool summed): "
          "{}.",
          log, format_cpu_split(f->cpu_by_thread)));
  };

  std::optional<bench_ingest_figures> ingest_embedded, ingest_kafka, ingest_group;
  std::optional<double> produce_rate;
  section(out, "ingest, embedded log", [&] { ingest_embedded = ingest("embedded"); });
  if (!o.kafka.empty()) {
    section(out, "ingest, Kafka", [&] { ingest_kafka = ingest("kafka"); });
    section(out, "ingest, Kafka, a group of one server",
            [&] { ingest_group = ingest("kafka-group"); });
    section(out, "raw produce (librdkafka, the log's settings)", [&] {
      bench_produce_options po;
      po.brokers = o.kafka;
      po.topic = fmt::format("caseline-bench-produce-{}", std::time(nullptr));
      po.duration = o.produce_duration;
      po.max_in_flight = 1000;  // as the figure: 1,000 records in flight
      double rate = 0;
      if (run_bench_produce(po, out, &rate) == 0) produce_rate = rate;
    });
  }
  ingest_rows("embedded log", ingest_embedded, std::nullopt, 35);
  if (!o.kafka.empty()) {
    ingest_rows("Kafka", ingest_kafka, produce_rate, 25);
    // A server of a group writes through transactions (a fenced writer per partition): what
    // scaling past one machine costs each command, shown beside the targets, which are a
    // server's alone.
    ingest_rows("Kafka, a group of one server", ingest_group, produce_rate, std::nullopt);
  }

  bench_reads_figures reads;
  section(out, "reads", [&] {
    bench_reads_options ro;
    ro.cases = o.read_cases;
    ro.seed = o.read_seed;
    ro.histories = o.read_histories;
    ro.duration = o.read_duration;
    ro.kafka = o.kafka;
    ro.dir = (dir / "reads").string();
    ro.program = o.program;
    ro.calendar_file = o.calendar_file;
    ro.hot_share = o.read_hot_share;
    ro.hot_cases = o.read_hot_cases;
    run_bench_reads(ro, out, err, &reads);
  });
  const std::map<std::string, std::string> route_names{
      {"case", "`GET /v1/cases/{id}`"},
      {"history", "`GET /v1/cases/{id}/events`"},
      {"queue", "`GET /v1/queues/to_classify?limit=50`"},
      {"overdue", "`GET /v1/sla/overdue`"}};
  const std::string working_set = fmt::format(", {:.0f} % of reads on the {} cases seeded last",
                                              100 * o.read_hot_share, o.read_hot_cases);
  for (const auto& r : reads.rows) {
    const load_result* base = nullptr;
    for (const auto& b : reads.baselines)
      if (b.connections == r.connections) base = &b.r;
    const double target_ms = r.connections == 1 ? 1 : 3;
    rows.push_back({fmt::format("{}, {}, {} conn., {} cases",
                                route_names.at(r.route) + (r.hot ? working_set : ""), r.log,
                                r.connections, o.read_cases),
                    rate_p99(r.r), base ? fmt::format("HTTP layer only: {}", rate_p99(*base)) : "",
                    base ? percent(r.r.per_second(), base->per_second()) : "",
                    fmt::format("p99 ≤ {:.0f} ms", target_ms),
                    yes_no(r.r.ok > 0 && r.r.percentile(0.99) <= target_ms)});
  }
  for (const auto& s : reads.seeded) {
    notes.push_back(
        s.how == "post"
            ? fmt::format("Reads, {}: the store was seeded through `POST /v1/cases` (64 "
                          "connections): {} cases in {:.1f} s, {:.0f} cases/s; 10⁶ cases at this "
                          "rate take about {:.0f} min.",
                          s.log, s.cases, s.seconds,
                          s.seconds > 0 ? static_cast<double>(s.cases) / s.seconds : 0,
                          s.cases > 0 ? 1e6 * s.seconds / static_cast<double>(s.cases) / 60 : 0)
            : fmt::format("Reads, {}: the store was seeded through the server's own writer before "
                          "it served (the same log and store, no HTTP; tools/bench_seed.h): {} "
                          "cases in {:.1f} s, then settled (flushes and compactions done) in "
                          "{:.1f} s.",
                          s.log, s.cases, s.seconds, s.settle_seconds));
    if (s.resident_bytes > 0)
      rows.push_back(
          {fmt::format("server RSS after the reads, {}, {} cases", s.log, s.cases),
           fmt::format("{:.0f} MiB", s.resident_bytes / (1 << 20)), "", "",
           "≤ 300 MiB with 10⁶ cases",
           s.cases < 1'000'000 ? "(at 10⁶)" : yes_no(s.resident_bytes <= 300.0 * (1 << 20))});
  }

  section(out, "rebuild", [&] {
    bench_rebuild_options bo;
    bo.events = o.rebuild_events;
    bo.dir = (dir / "rebuild").string();
    bo.calendar_file = o.calendar_file;
    bo.db_bench = o.db_bench;
    bench_rebuild_figures f;
    if (run_bench_rebuild(bo, out, err, &f) != 0) {
      rows.push_back({"rebuild", "not run", "", "", "", ""});
      return;
    }
    std::string engine = fmt::format("raw consume {:.0f} events/s", f.raw_consume_per_second);
    if (f.db_bench_ops_per_second && f.keys_per_event > 0)
      engine +=
          fmt::format("; db_bench fillbatch {:.0f} keys/s ÷ {:.2f} keys/event = {:.0f} events/s",
                      *f.db_bench_ops_per_second, f.keys_per_event,
                      *f.db_bench_ops_per_second / f.keys_per_event);
    rows.push_back(
        {fmt::format("rebuild, {} events, embedded log", f.events),
         fmt::format("{:.0f} events/s, {:.2f} keys/event, {} replay thread{}", f.events_per_second,
                     f.keys_per_event, f.lanes, f.lanes == 1 ? "" : "s"),
         engine, percent(f.events_per_second, f.bound_per_second()) + " of the bound",
         "≥ 50 % of min(consume, db_bench ÷ keys per event)",
         yes_no(f.events_per_second >= 0.5 * f.bound_per_second())});
    if (!f.db_bench_ops_per_second)
      notes.push_back(
          "Rebuild: no db_bench figure (skipped, missing, or its output not understood), so the "
          "bound is raw consume alone.");
  });
  section(out, "purge", [&] {
    bench_purge_options po;
    po.cases = o.purge_cases;
    po.dir = (dir / "purge").string();
    po.calendar_file = o.calendar_file;
    bench_purge_figures f;
    if (run_bench_purge(po, out, err, &f) != 0) {
      rows.push_back({"retention purge (Art. 38)", "not run", "", "", "", ""});
      return;
    }
    rows.push_back(
        {fmt::format("retention purge (Art. 38), {} cases, embedded log, through the API", f.cases),
         fmt::format("{:.0f} cases/s ({:.1f} s)", f.purge_per_second, f.purge_seconds),
         fmt::format("the write path {:.0f} commands/s (seeding the same server)",
                     f.write_path_per_second),
         percent(f.purge_per_second, f.write_path_per_second), "10⁵ cases < 60 s (≥ 1,667 cases/s)",
         yes_no(f.purge_per_second >= 1e5 / 60)});
  });
  const std::string load_after = load_average();
  const double minutes =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / 60;

  utsname u{};
  const std::string kernel = uname(&u) == 0 ? fmt::format("{} {}", u.sysname, u.release) : "?";
  std::ostringstream md;
  md << "# Benchmarks\n\n";
  if (!o.note.empty()) md << o.note << "\n\n";
  md << "Written by `caseline bench all` (tools/README.md); every ratio compares figures measured "
        "side by side in this one run. Benchmarks never fail CI.\n\n";
  md << "| what | caseline | engine underneath, same run | ratio | target | met? |\n";
  md << "|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    md << fmt::format("| {} | {} | {} | {} | {} | {} |\n", r.what, r.caseline, r.engine, r.ratio,
                      r.target, r.met);
  if (!notes.empty()) {
    md << "\n";
    for (const auto& n : notes) md << "- " << n << "\n";
  }
  md << "\n## Conditions\n\n";
  md << "| | |\n|---|---|\n";
  md << fmt::format("| date | {} |\n", utc_now());
  md << fmt::format("| git commit | {} |\n", commit.empty() ? "unknown" : commit);
  md << fmt::format("| build type | {} |\n", CASELINE_BUILD_TYPE);
  md << fmt::format("| CPU | {} × {} |\n", std::thread::hardware_concurrency(),
                    proc_field("/proc/cpuinfo", "model name"));
  md << fmt::format(
      "| RAM | {:.1f} GiB |\n",  // MemTotal is in kB (KiB)
      std::strtod(proc_field("/proc/meminfo", "MemTotal").c_str(), nullptr) / (1024.0 * 1024.0));
  md << fmt::format("| kernel | {} |\n", kernel);
  md << fmt::format("| load average (1, 5, 15 min) | before {}; after {} |\n", load_before,
                    load_after);
  md << fmt::format("| log backends | embedded{} |\n",
                    o.kafka.empty()
                        ? ""
                        : "; Kafka, a local broker (`tools/kafka-local.sh`) on the same machine");
  md << fmt::format(
      "| sizes | ingest {} s at {} connections after {} s of warm-up; reads: {} cases, {} s per "
      "route; "
      "rebuild {} events; whole run {:.1f} min |\n",
      o.ingest_duration.count(), o.ingest_connections, o.ingest_warmup.count(), o.read_cases,
      o.read_duration.count(), o.rebuild_events, minutes);
  out << "\n" << md.str();
  // The profile of the targets not met is written by hand: a file that has it keeps it.
  if (const auto kept = kept_analysis(o.out_file); !kept.empty()) md << "\n" << kept;

  std::ofstream file(o.out_file, std::ios::trunc);
  file << md.str();
  file.close();
  if (!file) {
    err << "caseline bench all: cannot write " << o.out_file << "\n";
    return 1;
  }
  fs::remove_all(dir, ec);  // best effort: a leftover temp folder is harmless
  out << "written to " << o.out_file << "\n";
  return 0;
}

}  // namespace caseline::tools
