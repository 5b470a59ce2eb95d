#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace caseline::test {

// A child process with its stdout and stderr captured through a pipe. Used to run the real
// `caseline` binary in integration tests. The destructor kills (SIGKILL) and reaps it.
class child_process {
 public:
  explicit child_process(const std::vector<std::string>& argv);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Reads output until a line containing `needle` arrives (returns that line) or the deadline
  // passes or the process closes its output (nullopt).
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);
  // Reads what the process has written by now, without waiting (into output(), and for
  // wait_for_line): a server that logs while a test polls it must not find its pipe full.
  void drain();
  void signal(int sig);
  // Waits for the exit; the exit code (128 + signal when killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  const std::string& output() const { return output_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_{-1};
  int out_fd_{-1};
  std::string output_;
  std::string pending_;
  bool reaped_{false};
  int status_{0};
};

// The caseline binary built with the tests (ctest passes CASELINE_BINARY).
std::string caseline_binary();
// Every byte of every regular file below `dir`, concatenated (to search for plaintext).
std::string all_bytes_under(const std::string& dir);

// The bearer token `caseline token create` printed (its stdout line "clt_..."); fails the test
// when there is none.
std::string token_in(const std::string& output);

}  // namespace caseline::test
