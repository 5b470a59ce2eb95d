// The plumbing of `caseline bench reads`, `bench ingest`'s server CPU per command and
// `bench all`, at a tiny size, against `caseline serve` processes on the embedded log and the
// real broker. Figures are not judged (benchmarks never fail CI); that every route was driven
// and answered, and that the table was written, is.
#include "tools/bench_reads.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "projections/case_projection.h"
#include "projections/store.h"
#include "tests/events/kafka_test_support.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tools/admin_client.h"
#include "tools/bench_all.h"
#include "tools/bench_ingest.h"
#include "tools/bench_seed.h"
#include "tools/bench_server.h"

using namespace caseline;
using namespace caseline::events::testing;

TEST_CASE("bench reads seeds each log's server through its writer and drives every read route") {
  test::temp_dir dir;
  tools::bench_reads_options o;
  o.cases = 40;
  o.seed_connections = 4;
  o.connections = {1, 2};
  o.duration = std::chrono::milliseconds(300);
  o.kafka = kafka_bootstrap();
  o.topic = unique_topic("bench-reads");
  o.partitions = 2;
  o.dir = dir.sub("reads");
  o.program = test::caseline_binary();
  // The seeding stack runs in this process, whose own default calendar path is not the tree's.
  o.calendar_file = test::source_dir() + "/core/data/cn-workdays.txt";
  std::ostringstream out, err;
  tools::bench_reads_figures f;
  const int rc = tools::run_bench_reads(o, out, err, &f);
  INFO(out.str(), err.str());
  REQUIRE(rc == 0);
  REQUIRE(f.seeded.size() == 2);
  for (const auto& s : f.seeded) {
    CHECK(s.how == "writer");
    CHECK(s.cases == 40);
    CHECK(s.resident_bytes > 1024 * 1024);  // the served server's RSS, after the reads
  }
  REQUIRE(f.rows.size() == 2 * 2 * 4);  // logs × connection counts × routes
  for (const auto& r : f.rows) {
    INFO(r.log, " ", r.route, " ", r.connections);
    CHECK(r.r.ok > 0);
    CHECK(r.r.failed == 0);
    // The served server's own CPU time per read, from its /metrics before and after the run.
    REQUIRE(r.r.server_cpu_us.has_value());
    CHECK(*r.r.server_cpu_us > 0);
    // And what it read from storage, from its /proc/PID/io.
    REQUIRE(r.r.server_disk_kib.has_value());
    CHECK(*r.r.server_disk_kib >= 0);
  }
  REQUIRE(f.baselines.size() == 2);
  for (const auto& b : f.baselines) {
    CHECK(b.r.ok > 0);
    CHECK_FALSE(b.r.server_cpu_us.has_value());  // in this process: not the server's alone
  }
  CHECK(out.str().find("kafka history, 2 conn.") != std::string::npos);
  // The reminder task's pass after the clock moved settled before the reads, none during them.
  CHECK(out.str().find("embedded: reminders written during the reads: 0\n") != std::string::npos);
  CHECK(out.str().find("kafka: reminders written during the reads: 0\n") != std::string::npos);
  CHECK(err.str().find("did not settle") == std::string::npos);
  CHECK(out.str().find("http layer only, 1 conn.") != std::string::npos);
}

TEST_CASE("the writer's seed gives each case the history of its share of the archive") {
  test::temp_dir dir;
  tools::bench_server_options so;
  so.data_dir = dir.sub("seeded");
  so.partitions = 2;
  so.calendar_file = test::source_dir() + "/core/data/cn-workdays.txt";
  constexpr std::uint64_t cases = 60;
  auto seeded = tools::seed_received_cases(so, cases, "410100", true);
  REQUIRE_MESSAGE(seeded, seeded.error().message());
  REQUIRE(seeded.value().ids.size() == cases);
  auto st = projections::store::open(so.data_dir + "/store");
  REQUIRE_MESSAGE(st, st.error().message());
  projections::case_reader reader(*st.value());
  std::uint64_t events = 0;
  for (std::uint64_t n = 0; n < cases; ++n) {
    const case_id id{seeded.value().ids[n]};
    auto row = reader.get(id);
    REQUIRE(row);
    REQUIRE(row.value().has_value());
    auto history = reader.history(id);
    REQUIRE(history);
    const auto status = row.value()->state.status;
    const auto size = history.value().size();
    events += size;
    INFO("case ", n, " ", core::to_string(status), " ", size, " events");
    switch (n % 20) {
      case 0:  // received only
        CHECK(status == core::case_status::received);
        CHECK(size == 1);
        break;
      case 1:  // classified and transferred, the reply due
        CHECK(status == core::case_status::transferred);
        CHECK(size == 3);
        break;
      case 2:
      case 3:  // answered on the call, revisited when sampled, archived
        CHECK(status == core::case_status::archived);
        CHECK(size >= 3);
        CHECK(size <= 4);
        break;
      default:  // classified, transferred, replied, revisited when the rules want it, archived
        CHECK(status == core::case_status::archived);
        CHECK(size >= 5);
        CHECK(size <= 6);
    }
  }
  // One command a step, each deciding one event: the commands are the events.
  CHECK(seeded.value().commands == events);
  CHECK(events > 4 * cases);
}

TEST_CASE("bench reads refuses histories it cannot seed, before it starts anything") {
  tools::bench_reads_options o;
  o.histories = true;
  o.seed = "post";  // the histories go through the writer; POST /v1/cases seeds receives only
  std::ostringstream out, err;
  CHECK(tools::run_bench_reads(o, out, err, nullptr) == 2);
  CHECK(err.str() ==
        "caseline bench reads: --histories seeds through the server's writer: it needs --seed "
        "writer\n");
  CHECK(out.str().empty());
}

TEST_CASE("bench reads draws its working set's reads from the cases seeded last") {
  constexpr std::size_t n = 1000;
  constexpr std::uint64_t draws = 100'000;
  std::vector<std::uint64_t> uniform(n), hot(n), all_hot(n);
  std::uint64_t unstable = 0;
  for (std::uint64_t k = 0; k < draws; ++k) {
    ++uniform.at(tools::pick_case(k, n, 0, 100));
    ++hot.at(tools::pick_case(k, n, 0.9, 100));
    ++all_hot.at(tools::pick_case(k, n, 1, 250));
    if (tools::pick_case(k, n, 0.9, 100) != tools::pick_case(k, n, 0.9, 100)) ++unstable;
  }
  CHECK(unstable == 0);
  const auto in_last = [](const std::vector<std::uint64_t>& counts, std::size_t last) {
    std::uint64_t sum = 0;
    for (std::size_t i = counts.size() - last; i < counts.size(); ++i) sum += counts[i];
    return static_cast<double>(sum) / draws;
  };
  // Uniform: a tenth of the draws on the last tenth, every case drawn.
  CHECK(in_last(uniform, 100) == doctest::Approx(0.1).epsilon(0.1));
  CHECK(std::count(uniform.begin(), uniform.end(), 0) == 0);
  // 90 % on the last 100, plus their share of the uniform rest.
  CHECK(in_last(hot, 100) == doctest::Approx(0.9 + 0.1 * 0.1).epsilon(0.01));
  CHECK(std::count(hot.begin(), hot.end() - 100, 0) < 20);  // the rest still read
  CHECK(std::count(hot.end() - 100, hot.end(), 0) == 0);
  // All of them on the last quarter.
  CHECK(in_last(all_hot, 250) == 1.0);
  // One case: always it; a working set larger than the store: the whole store.
  CHECK(tools::pick_case(12345, 1, 0.5, 100) == 0);
  std::vector<bool> seen(10);
  for (std::uint64_t k = 0; k < 1000; ++k) seen.at(tools::pick_case(k, 10, 1, 100)) = true;
  CHECK(std::count(seen.begin(), seen.end(), false) == 0);
}

TEST_CASE("bench reads can seed through POST /v1/cases, the serving server's own API") {
  test::temp_dir dir;
  tools::bench_reads_options o;
  o.cases = 30;
  o.seed = "post";
  o.seed_connections = 3;
  o.connections = {2};
  o.duration = std::chrono::milliseconds(200);
  o.partitions = 2;
  o.dir = dir.sub("reads");
  o.program = test::caseline_binary();
  o.baseline = false;
  std::ostringstream out, err;
  tools::bench_reads_figures f;
  const int rc = tools::run_bench_reads(o, out, err, &f);
  INFO(out.str(), err.str());
  REQUIRE(rc == 0);
  REQUIRE(f.seeded.size() == 1);
  CHECK(f.seeded[0].how == "post");
  CHECK(f.seeded[0].cases == 30);
  REQUIRE(f.rows.size() == 4);
  for (const auto& r : f.rows) {
    INFO(r.route);
    CHECK(r.r.ok > 0);
    CHECK(r.r.failed == 0);
  }
  CHECK(out.str().find("through POST /v1/cases") != std::string::npos);
}

TEST_CASE("a thread's group is its name without the number it ends with") {
  CHECK(tools::thread_group("http-io-0") == "http-io");
  CHECK(tools::thread_group("http-io-12") == "http-io");
  CHECK(tools::thread_group("rdk:broker1") == "rdk:broker");
  CHECK(tools::thread_group("rocksdb:high") == "rocksdb:high");
  CHECK(tools::thread_group("log-commit") == "log-commit");
  CHECK(tools::thread_group("42") == "42");  // nothing left: the name as it is
  CHECK(tools::thread_group("") == "");
}

TEST_CASE("the CPU time of a process's threads is read by group, and split per unit of work") {
  struct burner {
    std::atomic<bool> stop{false};
    std::uint64_t sink{0};  // what the loop computed, so that it is not optimised away
    std::thread t{[this] {
      pthread_setname_np(pthread_self(), "cpu-burn-7");
      std::uint64_t x = 1;
      while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ULL + 1;
      sink = x;
    }};
    ~burner() {
      stop = true;
      t.join();
    }
  } burning;
  const int self = static_cast<int>(::getpid());
  // The thread's name is set by the thread itself: read once it shows.
  std::optional<tools::thread_cpu_seconds> first, later;
  REQUIRE(test::eventually([&] {
    auto t = tools::read_thread_cpu(self);
    if (t && t.value().contains("cpu-burn")) first = t.value();
    return first.has_value();
  }));
  // Its time grows: wait for 50 ms of it, with a deadline.
  REQUIRE(test::eventually([&] {
    auto t = tools::read_thread_cpu(self);
    if (!t || !t.value().contains("cpu-burn")) return false;
    later = t.value();
    return later->at("cpu-burn") - first->at("cpu-burn") >= 0.05;
  }));
  const auto split = tools::cpu_per_unit(*first, *later, 10);
  REQUIRE(!split.empty());
  CHECK(split.front().first == "cpu-burn");  // the busiest group first
  CHECK(split.front().second >= 0.05e6 / 10);
  CHECK(std::is_sorted(split.begin(), split.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; }));
  CHECK(tools::format_cpu_split(split).starts_with("cpu-burn "));
  CHECK(tools::cpu_per_unit(*first, *later, 0).empty());
  // A process that is not there.
  CHECK(!tools::read_thread_cpu(-1).has_value());
}

TEST_CASE("bench ingest reads the server's CPU time and memory from its /metrics") {
  test::temp_dir dir;
  tools::bench_server_options so;
  so.program = test::caseline_binary();
  so.data_dir = dir.sub("data");
  so.partitions = 2;
  auto server = tools::bench_server::start(so);
  REQUIRE_MESSAGE(server.has_value(), (server ? "" : server.error().message()));
  tools::bench_ingest_options o;
  o.url = server.value()->url();
  o.connections = 2;
  o.duration = std::chrono::seconds(1);
  o.token = server.value()->token("agent", "410100").value();
  o.metrics_token = server.value()->token("analyst", "410100").value();
  o.baseline = false;
  o.warmup = std::chrono::seconds(1);
  o.server_pid = server.value()->pid();
  std::ostringstream out, err;
  tools::bench_ingest_figures f;
  REQUIRE(tools::run_bench_ingest(o, out, err, &f) == 0);
  INFO(out.str(), err.str());
  CHECK(f.caseline.ok > 0);
  // The warm-up's cases reached the server, and the measured run counts only its own.
  auto m = tools::admin_request({o.url, o.metrics_token}, "GET", "/metrics");
  REQUIRE(m.has_value());
  const std::string created =
      R"(caseline_http_requests_total{route="/v1/cases",method="POST",status="201"} )";
  const auto at = m.value().body.find(created);
  REQUIRE(at != std::string::npos);
  const auto served = std::stoull(m.value().body.substr(at + created.size()));
  CHECK(served > f.caseline.ok);
  REQUIRE(f.cpu_us_per_command.has_value());
  CHECK(*f.cpu_us_per_command > 0);  // the server received cases: it spent CPU time
  CHECK(f.caseline.server_cpu_us == f.cpu_us_per_command);  // the table's column shows it
  REQUIRE(f.rss_bytes.has_value());
  CHECK(*f.rss_bytes > 1024 * 1024);
  CHECK(out.str().find("server CPU per accepted command: ") != std::string::npos);
  // The same CPU time by thread: the HTTP loops and the log's group commit took part, and the
  // groups add up to about the process's figure (read a moment apart, in clock ticks).
  const auto group = [&](std::string_view name) {
    return std::find_if(f.cpu_by_thread.begin(), f.cpu_by_thread.end(),
                        [&](const auto& g) { return g.first == name; });
  };
  CHECK(group("http-io") != f.cpu_by_thread.end());
  CHECK(group("log-commit") != f.cpu_by_thread.end());
  const double by_thread =
      std::accumulate(f.cpu_by_thread.begin(), f.cpu_by_thread.end(), 0.0,
                      [](double sum, const auto& g) { return sum + g.second; });
  CHECK(by_thread > 0.5 * *f.cpu_us_per_command);
  CHECK(by_thread < 2.0 * *f.cpu_us_per_command);
  CHECK(out.str().find("server CPU per accepted command by thread (us): ") != std::string::npos);
}

TEST_CASE("bench all runs every benchmark and writes the table with the machine's conditions") {
  test::temp_dir dir;
  tools::bench_all_options o;
  o.out_file = dir.sub("benchmarks.md");
  o.note = "figures of a test";
  o.kafka = kafka_bootstrap();
  o.ingest_connections = 2;
  o.ingest_duration = std::chrono::seconds(1);
  o.ingest_warmup = std::chrono::seconds(0);
  o.produce_duration = std::chrono::seconds(1);
  o.read_cases = 20;
  o.read_duration = std::chrono::seconds(1);
  o.rebuild_events = 500;
  o.dir = dir.sub("work");
  o.program = test::caseline_binary();
  o.calendar_file = test::source_dir() + "/core/data/cn-workdays.txt";
  o.db_bench = "";  // its own fixed size would dominate a smoke test
  // A table written before, with its hand-written profile: the figures are replaced, the profile
  // is kept.
  {
    std::ofstream before(o.out_file);
    before << "# Benchmarks\n\nan old figure\n\n## Where the time goes\n\nthe profile of a test\n";
  }
  std::ostringstream out, err;
  REQUIRE(tools::run_bench_all(o, out, err) == 0);
  INFO(out.str(), err.str());
  std::ifstream in(o.out_file);
  const std::string md{std::istreambuf_iterator<char>(in), {}};
  CHECK(md.starts_with("# Benchmarks\n\nfigures of a test\n"));
  for (const char* row : {"| `POST /v1/cases`, embedded log, 2 connections | ",
                          "| `POST /v1/cases`, Kafka, 2 connections | ",
                          "| `POST /v1/cases`, Kafka, a group of one server, 2 connections | ",
                          "| CPU per accepted command, embedded",
                          "| `GET /v1/cases/{id}/events`, kafka, 1 conn., 20 cases | ",
                          "| `GET /v1/sla/overdue`, embedded, 32 conn., 20 cases | ",
                          "| server RSS after the reads, embedded, 20 cases | ",
                          "| server RSS after the reads, kafka, 20 cases | ", "| rebuild, "}) {
    INFO(row);
    CHECK(md.find(row) != std::string::npos);
  }
  // The working set's rows (bench_all_options::read_hot_share, read_hot_cases).
  const std::string hot = ", 90 % of reads on the 20000 cases seeded last, ";
  CHECK(md.find("| `GET /v1/cases/{id}`" + hot + "kafka, 32 conn., 20 cases | ") !=
        std::string::npos);
  CHECK(md.find("| `GET /v1/cases/{id}/events`" + hot + "embedded, 1 conn., 20 cases | ") !=
        std::string::npos);
  CHECK(md.find("not run") == std::string::npos);
  // Where the ingest's time went, by thread, on both logs.
  CHECK(md.find("- Ingest, embedded log: the server's CPU per accepted command by thread") !=
        std::string::npos);
  CHECK(md.find("- Ingest, Kafka: the server's CPU per accepted command by thread") !=
        std::string::npos);
  CHECK(md.find("- Ingest, Kafka, a group of one server: the server's CPU per accepted command "
                "by thread") != std::string::npos);
  for (const char* condition :
       {"| date | ", "| git commit | ", "| build type | ", "| CPU | ", "| RAM | ", "| kernel | ",
        "| load average (1, 5, 15 min) | before "})
    CHECK(md.find(condition) != std::string::npos);
  CHECK(md.find("an old figure") == std::string::npos);
  CHECK(md.ends_with("\n\n## Where the time goes\n\nthe profile of a test\n"));
  CHECK(md.find("## Where the time goes") > md.find("| load average"));
}
