#include "tests/support/process.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace caseline::test {

child_process::child_process(const std::vector<std::string>& argv) {
  // Made before the fork: between fork and exec the child of a threaded process only calls
  // what is async-signal-safe (no allocation).
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // If the test process dies without its destructors (a crash), the child dies with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
  pid_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) throw std::runtime_error("eventfd failed");
  reader_ = std::thread([this] { read_output(); });
}

child_process::~child_process() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  // A process the child left behind may hold the pipe open: the reader is told to stop.
  const std::uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);  // deliberately unchecked: it cannot fail here
  reader_.join();
  close(stop_fd_);
  if (pid_fd_ >= 0) close(pid_fd_);
  close(out_fd_);
}

void child_process::read_output() {
  for (;;) {
    std::array<pollfd, 2> p{pollfd{out_fd_, POLLIN, 0}, pollfd{stop_fd_, POLLIN, 0}};
    const int r = poll(p.data(), p.size(), -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p[1].revents & POLLIN) != 0) return;
    std::array<char, 4096> buf{};
    std::lock_guard lk(mu_);  // held across the read: wait() sees no byte in flight
    const ssize_t n = read(out_fd_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed_ = true;
      cv_.notify_all();
      return;
    }
    output_.append(buf.data(), static_cast<std::size_t>(n));
    pending_.append(buf.data(), static_cast<std::size_t>(n));
    cv_.notify_all();
  }
}

std::optional<std::string> child_process::wait_for_line(const std::string& needle,
                                                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lk(mu_);
  for (;;) {
    for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n')) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    if (closed_) return std::nullopt;
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout &&
        pending_.find('\n') == std::string::npos)
      return std::nullopt;
  }
}

void child_process::signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    // Without a pidfd (an old kernel), the exit is looked for every 20 ms.
    pollfd p{pid_fd_, POLLIN, 0};
    if (pid_fd_ >= 0)
      (void)poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    else
      (void)poll(nullptr, 0, static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 20)));
    if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
    if (!reaped_ && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
  // What it wrote is in the pipe: wait until the reader took all of it (the pipe's end, or an
  // empty pipe that a process it left behind keeps open).
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] {
    int unread = 0;
    return closed_ || (ioctl(out_fd_, FIONREAD, &unread) == 0 && unread == 0);
  });
  lk.unlock();
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

std::string child_process::output() const {
  std::lock_guard lk(mu_);
  return output_;
}

std::string listening_address(child_process& server, std::chrono::milliseconds timeout) {
  const auto line = server.wait_for_line("listening on http://", timeout);
  REQUIRE_MESSAGE(line.has_value(), "caseline serve did not start: " << server.output());
  const auto at = line->find("http://") + 7;
  return line->substr(at, line->find(' ', at) - at);
}

std::string caseline_binary() {
  const char* b = std::getenv("CASELINE_BINARY");
  REQUIRE_MESSAGE(b != nullptr, "CASELINE_BINARY is not set: run the tests through ctest");
  return b;
}

std::string all_bytes_under(const std::string& dir) {
  std::string out;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    out += s.str();
  }
  return out;
}

std::string token_in(const std::string& output) {
  const auto at = output.find("clt_");
  REQUIRE_MESSAGE(at != std::string::npos, "no token in: " << output);
  const auto end = output.find_first_of("\r\n", at);
  return output.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

}  // namespace caseline::test
