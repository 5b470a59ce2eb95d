#pragma once

// A `caseline serve` started by a benchmark as a child process, so that the server's own
// process metrics (CPU time, resident memory) count the server alone and not the load generator.

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"
#include "tools/admin_client.h"

namespace caseline::tools {

// A benchmark's working folder, emptied and created: `dir`, or when it is empty
// <temp dir>/<default_name>. Nullopt, said on `err`, when it cannot be created.
std::optional<std::filesystem::path> fresh_bench_dir(const std::string& dir,
                                                     const std::string& default_name,
                                                     std::ostream& err);

// The standard process metrics a server shows in /metrics (gateway::process_gauges).
struct process_figures {
  double cpu_seconds{0};     // process_cpu_seconds_total
  double resident_bytes{0};  // process_resident_memory_bytes
};

// GET /metrics with a token that may read it (admin, analyst, auditor).
result<process_figures> scrape_process_figures(const admin_target& server);

// GET /metrics: for each name, the sum of its samples over all their labels (0 when it has none).
result<std::vector<double>> scrape_sums(const admin_target& server,
                                        const std::vector<std::string>& names);

// Where a process's CPU time goes, by thread (/proc/PID/task/*/stat: user + system time), the
// threads grouped by name without the number they end with: "http-io-0" and "http-io-1" are
// "http-io", "rdk:broker1" is "rdk:broker", "rocksdb:high" stays. Seconds per group, summed over
// the threads alive when read (a thread that ended between two readings takes its time with it).
using thread_cpu_seconds = std::map<std::string, double, std::less<>>;
std::string thread_group(std::string_view thread_name);
// errc::unavailable when the process's threads cannot be read (it has exited, another user's).
result<thread_cpu_seconds> read_thread_cpu(int pid);
// Between two readings, each group's CPU time per unit of work (µs), largest first; groups that
// took none left out; empty without units.
std::vector<std::pair<std::string, double>> cpu_per_unit(const thread_cpu_seconds& before,
                                                         const thread_cpu_seconds& after,
                                                         std::uint64_t units);
// "http-io 58.3, log-commit 36.7, …" (µs, one decimal).
std::string format_cpu_split(const std::vector<std::pair<std::string, double>>& split);

struct bench_server_options {
  std::string program;   // the caseline executable; empty: this process's own (/proc/self/exe)
  // A folder that does not exist yet (the server's first start), or one seeded before
  // (bench_seed.h) with `admin_token`.
  std::string data_dir;
  std::string kafka;     // bootstrap servers; empty: the embedded log
  std::string topic{"cases.events"};
  std::int32_t partitions{8};
  std::string calendar_file;  // empty: the server's default
  std::chrono::seconds start_timeout{180};
  // The admin token of a folder seeded before: start() waits for the address only (the server
  // issues no bootstrap token on a log that holds tokens).
  std::string admin_token;
  // `serve --reminder-interval` in seconds; 0: the server's default.
  unsigned reminder_interval_seconds{0};
  // With `kafka`: `serve --group`, a group of one server that writes every partition through its
  // fenced transactional writers (README "Several servers: a group"). Empty: no group.
  std::string group;
};

// Lifecycle: start() forks and execs `caseline serve` on 127.0.0.1:0 with a manual clock, the
// per-token rate limit out of the way and room for 1,024 connections from the loopback, and
// returns once it printed its address and bootstrap admin token (its address only, with
// `admin_token`); the destructor sends SIGTERM and
// waits for the process (a graceful stop). Its log lines (stdout and stderr) go to
// <data_dir>.log, stdout through a thread of this object that drains the pipe, so that the server
// never blocks on a full pipe. Not thread-safe.
class bench_server {
 public:
  static result<std::unique_ptr<bench_server>> start(const bench_server_options& o);
  ~bench_server();
  bench_server(const bench_server&) = delete;
  bench_server& operator=(const bench_server&) = delete;

  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT
  int pid() const { return pid_; }
  // Bytes the server has read from storage so far (/proc/PID/io read_bytes: what the page cache
  // did not answer); nullopt when it cannot be read.
  std::optional<std::uint64_t> storage_read_bytes() const;
  admin_target admin() const { return {url_, admin_token_}; }
  // A new bearer token (POST /v1/admin/tokens).
  result<std::string> token(const std::string& role, const std::string& center);

 private:
  bench_server(int pid, int out_fd, std::string url, std::string admin_token,
               const std::string& log_file);
  int pid_;
  int out_fd_;  // the child's stdout
  std::string url_;
  std::string admin_token_;
  std::thread drain_;  // copies the child's stdout to its log file until the child exits
};

}  // namespace caseline::tools
