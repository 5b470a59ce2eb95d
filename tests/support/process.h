#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace caseline::test {

// A child process with its stdout and stderr captured through a pipe that a thread of its own
// reads as the output comes: the child never blocks on a full pipe, whether or not the test
// reads what it writes (a server that logs each request while a test polls it). Used to run the
// real `caseline` binary in integration tests. The destructor kills (SIGKILL) and reaps it.
// Thread-safety: the members are called from one thread at a time (the reader is internal).
class child_process {
 public:
  explicit child_process(const std::vector<std::string>& argv);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Waits until a line containing `needle` arrives (returns that line; a line is looked at
  // once), or the deadline passes or the process closes its output (nullopt).
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           std::chrono::milliseconds timeout);
  void signal(int sig);
  // Waits for the exit; the exit code (128 + signal when killed), or nullopt on timeout. Once
  // it returned a code, output() holds everything the process wrote.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // What the process has written so far.
  std::string output() const;
  pid_t pid() const { return pid_; }

 private:
  void read_output();  // the reader thread's loop

  pid_t pid_{-1};
  int out_fd_{-1};
  int pid_fd_{-1};   // readable once the child exited (-1: the kernel has no pidfd_open)
  int stop_fd_{-1};  // an eventfd that stops the reader
  bool reaped_{false};
  int status_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;  // the reader appended, or saw the end of the pipe
  std::string output_;          // guarded by mu_
  std::string pending_;         // guarded by mu_: what wait_for_line has not looked at
  bool closed_{false};          // guarded by mu_: every writer of the pipe closed it
  std::thread reader_;          // last: started once the rest is set
};

// The address ("host:port") a `caseline serve` child listens on, from its "listening on
// http://..." line; fails the test when that line does not come within `timeout`.
std::string listening_address(child_process& server, std::chrono::milliseconds timeout);

// The caseline binary built with the tests (ctest passes CASELINE_BINARY).
std::string caseline_binary();
// Every byte of every regular file below `dir`, concatenated (to search for plaintext).
std::string all_bytes_under(const std::string& dir);

// The bearer token `caseline token create` printed (its stdout line "clt_..."); fails the test
// when there is none.
std::string token_in(const std::string& output);

}  // namespace caseline::test
