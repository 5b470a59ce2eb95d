#pragma once

// The server's log output: spdlog's default logger, its lines written by a background thread so
// that no request thread waits for a write(2). Bounded: a line that does not fit in the queue is
// dropped and counted (log_lines_dropped(), in /metrics as caseline_log_lines_dropped_total, and
// said in a later log line), never waited for.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace caseline::gateway {

struct log_output_options {
  int fd{1};                  // where the lines go (stdout)
  std::string pattern{"%v"};  // spdlog pattern of every line
  // Bytes of lines waiting to be written; a line beyond it is dropped and counted.
  std::size_t max_queued_bytes{std::size_t{8} << 20};
  // How long lines gather before a write when nothing asks for one sooner (a warning or an
  // error, a full half of the queue, the stop): under load, one write(2) per gather, not one
  // per line, and no thread woken per line.
  std::chrono::milliseconds gather{5};
};

// Lifecycle: install() makes a logger writing through this output spdlog's default logger (the
// previous default's level kept); the destructor writes every line queued by then and stops the
// thread; lines logged after that are written at once by the caller (synchronously), so nothing
// logged late in the process's life is lost. A line queued when the process dies without its
// destructor (SIGKILL, abort) may be lost: at most `gather` of lines. One at a time per process.
// Thread-safety: logging is thread-safe (spdlog's logger), and never blocks on the write.
class log_output {
 public:
  static std::unique_ptr<log_output> install(const log_output_options& o);
  ~log_output();
  log_output(const log_output&) = delete;
  log_output& operator=(const log_output&) = delete;

  // Every line logged before the call is written when it returns.
  void flush();

 private:
  class sink;
  explicit log_output(std::shared_ptr<sink> s);
  std::shared_ptr<sink> sink_;
};

// Lines dropped since the process started because the log queue was full or the write failed.
std::uint64_t log_lines_dropped();

}  // namespace caseline::gateway
