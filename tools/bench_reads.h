#pragma once

// `caseline bench reads`: the read routes of a server whose store holds N cases — a case
// (GET /v1/cases/{id}), its history (GET /v1/cases/{id}/events), a work queue
// (GET /v1/queues/to_classify?limit=50) and the overdue list (GET /v1/sla/overdue) — at each
// connection count, on the embedded log and (with a broker) on Kafka, beside the HTTP layer
// alone in the same run. A benchmark: it never fails CI.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "tools/http_load.h"

namespace caseline::tools {

struct bench_reads_options {
  std::uint64_t cases{2'000};  // seeded before the reads
  // How the cases are seeded: "writer", through the write path of the server itself before it
  // serves (bench_seed.h: the same log and store, without HTTP, then the store settled), or
  // "post", through POST /v1/cases on `seed_connections` connections of the serving server.
  std::string seed{"writer"};
  // With "writer": each case lives on after its receive as a center's archive holds it (about
  // five events a case; bench_seed.h), instead of one event each.
  bool histories{false};
  unsigned seed_connections{64};
  std::vector<unsigned> connections{1, 32};
  std::chrono::milliseconds duration{std::chrono::seconds(5)};  // per route and connection count
  bool embedded{true};                                          // run on the embedded log
  std::string kafka;  // bootstrap servers: also run on Kafka
  std::string topic;  // default caseline-bench-reads-<time>
  std::int32_t partitions{8};
  std::string dir;            // working folder; default a fresh one under the temp dir
  std::string program;        // the server's caseline executable; empty: this process's own
  std::vector<std::string> routes{"case", "history", "queue", "overdue"};  // which to read
  // Keep each log's seeded folder under `dir` (with its case ids and the reads' tokens beside
  // it) and read a kept one again instead of seeding: old and new servers (`program`) read the
  // same store, run after run. Needs `dir`; the seeding options must match the kept folder's.
  bool reuse{false};
  std::string calendar_file;  // empty: the server's default
  bool baseline{true};
  // A working set, besides the uniform reads: with `hot_share` > 0, the case and history routes
  // are read again with that share of the reads on the `hot_cases` cases seeded last (the cases a
  // center is working on: their number follows its daily intake, not the size of its archive),
  // the rest spread over all of them; their rows are marked `hot` (printed "case, hot").
  // 0: uniform reads only.
  double hot_share{0};
  std::uint64_t hot_cases{20'000};
};

struct bench_reads_figures {
  struct row {
    std::string log;    // "embedded" or "kafka"
    std::string route;  // "case", "history", "queue", "overdue"
    unsigned connections{0};
    load_result r;
    bool hot{false};  // the working set's reads (bench_reads_options::hot_share)
  };
  struct seeding {
    std::string log;
    std::string how;  // bench_reads_options::seed
    std::uint64_t cases{0};
    std::uint64_t commands{0};  // "writer": the commands submitted (histories: several a case)
    double seconds{0};
    double settle_seconds{0};  // "writer": settle_store after the seeding
    double resident_bytes{0};  // the server's RSS after the reads (/metrics); 0: not read
  };
  std::vector<row> rows;
  std::vector<row> baselines;  // log "-", route "http layer only"
  std::vector<seeding> seeded;
};

// Which of `n` seeded cases (by index, in seed order) the request numbered `k` reads: uniformly
// over all of them, or with `hot_share` of the draws on the last `hot_cases` of them (all of
// them when there are fewer). The same k gives the same case; distinct k are drawn independently.
std::size_t pick_case(std::uint64_t k, std::size_t n, double hot_share, std::uint64_t hot_cases);

// Starts one `caseline serve` per log (bench_server.h) on `cases` cases (`seed`), moves its clock
// 30 days on so that their transfer deadlines have passed, drives each read route and reads the
// server's RSS. Returns 0 when it ran (even with failed requests), 1 when a server could not be
// started or seeded, 2 for bad options.
int run_bench_reads(const bench_reads_options& o, std::ostream& out, std::ostream& err,
                    bench_reads_figures* figures = nullptr);

}  // namespace caseline::tools
