#pragma once

// The benchmarks' HTTP load generator: keep-alive connections driven by one event loop (epoll,
// non-blocking sockets, up to 64 connections a thread), every request timed from its first byte
// written to its answer read. `caseline bench ingest` and `caseline bench reads` drive a server
// with it, and drive the same way, in the same run, an in-process server of ours that answers at
// once: the HTTP layer alone, their baseline.
//
// One loop, not a thread per connection: the load generator shares the machine with the server
// it measures, and 32 blocking threads cost it a wake-up and a context switch per answer (about
// 15 µs of CPU a request here, a sixth of the two cores at 32 connections).

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caseline::tools {

struct http_endpoint {
  std::string host;
  std::string port;
};

// "http://HOST[:PORT][/...]"; nullopt for anything else.
std::optional<http_endpoint> parse_http_url(std::string_view url);

struct load_request {
  std::string_view method{"GET"};
  std::string target;
  std::string body;  // sent as application/json when not empty
};

struct load_options {
  unsigned connections{8};
  std::chrono::milliseconds duration{std::chrono::seconds(10)};  // stop after this long ...
  std::uint64_t max_requests{0};  // ... or once this many were sent in all (0: no limit)
  std::string token;              // bearer token, when not empty
  int expect_status{200};         // any other answer counts as failed
};

struct load_result {
  std::vector<double> latencies_ms;  // of the requests answered with the expected status, sorted
  std::uint64_t ok{0};
  std::uint64_t failed{0};
  double seconds{0};
  // The server's CPU time (its `process_cpu_seconds_total`) per answered request, in µs, when
  // the benchmark read it before and after the run; nullopt otherwise (the baseline runs in
  // the load generator's own process).
  std::optional<double> server_cpu_us;
  // What the server read from storage (its /proc/PID/io read_bytes: reads the page cache did
  // not answer) per answered request, in KiB, when the benchmark read it before and after.
  std::optional<double> server_disk_kib;

  double per_second() const;
  double percentile(double p) const;  // p in [0, 1]; 0 without answers
};

// The head of an HTTP/1.1 answer at the start of `bytes`, as far as the load generator reads
// one: its status and where its body lies (the length from Content-Length; no chunked bodies,
// which the servers it drives do not send).
struct http_answer {
  enum class progress { incomplete, complete, bad };
  progress state{progress::incomplete};
  int status{0};
  std::size_t body_offset{0};  // complete: where the body starts ...
  std::size_t size{0};         // ... and the answer's whole length, head and body
  bool close{false};           // "Connection: close": the server closes after it
  std::string problem;         // bad: what is wrong
};
http_answer parse_http_answer(std::string_view bytes);

// The n-th request (from 0) of connection c.
using request_maker = std::function<load_request(unsigned c, std::uint64_t n)>;
// Called with the body of each answer that had the expected status (from the connection's
// thread: it must be thread-safe).
using answer_sink = std::function<void(unsigned c, const std::string& body)>;

load_result drive_http(const http_endpoint& to, const load_options& o, const request_maker& make,
                       const answer_sink& sink = {});

// The same load against an HTTP server of ours in this process that answers every request at
// once with `status` and `body`; nullopt when it could not start.
std::optional<load_result> drive_http_baseline(const load_options& o, const request_maker& make,
                                               int status, std::string body);

// A table of runs: the header once, then one row per run (its last columns the server's CPU
// per request and its storage reads per request, "-" when not read).
void print_load_header(std::ostream& out);
void print_load_row(std::ostream& out, std::string_view name, const load_result& r);

}  // namespace caseline::tools
