#pragma once

// `caseline bench all`: every benchmark, each beside the engine underneath it, in one run —
// ingest (embedded log, and Kafka with a broker) with the server's CPU time per accepted command,
// raw produce, the read routes, the rebuild beside raw consume and db_bench — then a Markdown
// table (what, caseline, engine underneath, ratio, target, met?) with the machine's conditions,
// written to a file. A benchmark: it never fails CI.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace caseline::tools {

struct bench_all_options {
  std::string out_file{"docs/benchmarks.md"};
  std::string note;   // a line under the title (which commit, before or after what)
  std::string kafka;  // bootstrap servers: also the Kafka rows; empty: embedded only
  unsigned ingest_connections{32};
  std::chrono::seconds ingest_duration{20};
  std::chrono::seconds ingest_warmup{3};  // bench_ingest_options::warmup
  std::chrono::seconds produce_duration{10};
  std::uint64_t read_cases{50'000};
  std::string read_seed{"writer"};  // bench_reads_options::seed
  bool read_histories{false};       // bench_reads_options::histories
  std::chrono::seconds read_duration{5};
  // The reads' working-set rows (bench_reads_options::hot_share, hot_cases); 0: none.
  double read_hot_share{0.9};
  std::uint64_t read_hot_cases{20'000};
  std::uint64_t rebuild_events{1'000'000};
  std::uint64_t purge_cases{5'000};  // the Art. 38 purge (10⁵ for the target's size)
  std::string dir;            // working folder; default a fresh one under the temp dir
  std::string program;        // the caseline executable; empty: this process's own
  std::string calendar_file;  // the working-day calendar data file
  std::string db_bench{"db_bench"};
};

// Returns 0 when the table was written (even if a benchmark could not run: its row says so), 1
// when the file could not be written.
int run_bench_all(const bench_all_options& o, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
