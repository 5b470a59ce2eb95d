#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/http_load.h"

namespace caseline::tools {

struct bench_ingest_options {
  std::string url{"http://127.0.0.1:8080"};  // the server under test
  unsigned connections{8};
  std::chrono::seconds duration{10};
  // The same load first, for this long, neither counted nor in the CPU figure: the server's
  // caches, its threads' stacks and (on Kafka) the broker's JIT-compiled paths warm, so that the
  // figures are of a running service and not of its first seconds. 0: none.
  std::chrono::seconds warmup{3};
  std::string center{"410100"};
  std::string token;  // bearer token of an agent of `center` (caseline token create)
  // A token that may read /metrics (admin, analyst, auditor): with it, the server's
  // process_cpu_seconds_total is read before and after the load, giving the server's CPU time
  // per accepted command, and its resident memory after. Empty: not measured.
  std::string metrics_token;
  // The server's process id, when it runs on this machine: its CPU time per accepted command is
  // also split by thread (/proc/PID/task), so that a run says where the time went. 0: not split.
  int server_pid{0};
  // Also measure, with the same client in the same run, an in-process HTTP server of ours that
  // answers 201 at once: the HTTP layer alone, without the log and the projections.
  bool baseline{true};
};

// What a run measured, for `caseline bench all`.
struct bench_ingest_figures {
  load_result caseline;
  std::optional<load_result> baseline;
  std::optional<double> cpu_us_per_command;  // server CPU time ÷ accepted commands
  std::optional<double> rss_bytes;           // the server's resident memory after the load
  // With server_pid: µs of the server's CPU per accepted command by thread group, largest first
  // (bench_server.h, cpu_per_unit).
  std::vector<std::pair<std::string, double>> cpu_by_thread;
};

// Drives POST /v1/cases over keep-alive connections and prints throughput and latency
// percentiles (and the baseline beside them). Returns the exit code: 0 even when requests
// failed (a benchmark never fails CI); 2 for bad options.
int run_bench_ingest(const bench_ingest_options& options, std::ostream& out, std::ostream& err,
                     bench_ingest_figures* figures = nullptr);

}  // namespace caseline::tools
