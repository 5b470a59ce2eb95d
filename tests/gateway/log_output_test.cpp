#include "gateway/log_output.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

constexpr const char* pattern = R"({"level":"%l","msg":%v})";

// Installs the output for one test and gives the previous default logger back at the end.
struct installed {
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  std::unique_ptr<gateway::log_output> output;
  explicit installed(gateway::log_output_options o) {
    o.pattern = pattern;
    output = gateway::log_output::install(o);
  }
  ~installed() {
    output.reset();
    spdlog::set_default_logger(previous);
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A log file in a fresh folder, open for an output to write; closed at the end.
struct log_file {
  test::temp_dir dir;
  std::string path = dir.sub("log");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ~log_file() {
    if (fd >= 0) ::close(fd);
  }
  // Writing to this file and gathering for an hour: nothing is written but by the stop, a
  // flush or a warning.
  gateway::log_output_options options() const {
    gateway::log_output_options o;
    o.fd = fd;
    o.gather = 1h;
    return o;
  }
  std::vector<std::string> lines() const { return lines_of(read_file(path)); }
};

std::string line(int i) {
  return R"({"level":"info","msg":{"event":"request","n":)" + std::to_string(i) + "}}";
}

}  // namespace

// `caseline serve` blocks SIGTERM after the output exists and waits for it on its main thread:
// a SIGTERM sent to the process must reach that wait, not end the process through the output's
// thread (which would not block it, and take the default action).
TEST_CASE("the output's thread never takes a process signal") {
  log_file file;
  REQUIRE(file.fd >= 0);
  installed log(file.options());
  sigset_t term;
  sigset_t previous;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  REQUIRE(pthread_sigmask(SIG_BLOCK, &term, &previous) == 0);
  REQUIRE(::kill(::getpid(), SIGTERM) == 0);
  const timespec deadline{10, 0};
  CHECK(sigtimedwait(&term, nullptr, &deadline) == SIGTERM);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

TEST_CASE("every line logged before the output stops is written, whole and in order") {
  log_file file;
  REQUIRE(file.fd >= 0);
  {
    installed log(file.options());
    for (int i = 0; i < 5000; ++i) spdlog::info(R"({{"event":"request","n":{}}})", i);
    CHECK(file.lines().empty());
  }
  const auto lines = file.lines();
  REQUIRE(lines.size() == 5000);
  for (int i = 0; i < 5000; ++i) CHECK(lines[static_cast<std::size_t>(i)] == line(i));
}

TEST_CASE("a warning is written without waiting for the gather; flush writes the info lines") {
  log_file file;
  REQUIRE(file.fd >= 0);
  installed log(file.options());
  spdlog::info(R"({{"event":"request","n":{}}})", 1);
  spdlog::warn(R"({{"event":"checkpoint_failed"}})");
  CHECK(test::eventually([&] { return file.lines().size() == 2; }, 10s));
  spdlog::info(R"({{"event":"request","n":{}}})", 2);
  log.output->flush();
  CHECK(file.lines().size() == 3);
  // After the stop, a line is written by its caller.
  log.output.reset();
  spdlog::info(R"({{"event":"request","n":{}}})", 3);
  const auto lines = file.lines();
  REQUIRE(lines.size() == 4);
  CHECK(lines[3] == line(3));
}

TEST_CASE(
    "an output nobody reads never blocks the logging thread: lines are dropped, counted, "
    "and said") {
  std::array<int, 2> p{};
  REQUIRE(::pipe(p.data()) == 0);
  const auto dropped_before = gateway::log_lines_dropped();
  std::string text;
  std::thread reader;
  {
    gateway::log_output_options o;
    o.fd = p[1];
    o.max_queued_bytes = 4096;
    installed log(o);
    // The pipe holds 64 KiB and nobody reads it: a write blocks the writer thread, and the
    // queue fills. A synchronous write would block this thread for ever.
    constexpr int logged = 20000;
    for (int i = 0; i < logged; ++i) spdlog::info(R"({{"event":"request","n":{}}})", i);
    const auto dropped = gateway::log_lines_dropped() - dropped_before;
    CHECK(dropped > 0);
    CHECK(dropped < logged);
    reader = std::thread([&] {
      std::array<char, 65536> buf{};
      for (ssize_t n; (n = ::read(p[0], buf.data(), buf.size())) > 0;)
        text.append(buf.data(), static_cast<std::size_t>(n));
    });
  }  // the stop writes what is queued, and the notice of the drops
  ::close(p[1]);
  reader.join();
  ::close(p[0]);
  const auto lines = lines_of(text);
  const auto dropped = gateway::log_lines_dropped() - dropped_before;
  std::size_t notices = 0;
  std::size_t said = 0;
  for (const auto& l : lines) {
    REQUIRE(l.starts_with(R"({"level":)"));
    REQUIRE(l.ends_with("}}"));
    if (l.find("log_lines_dropped") != std::string::npos) {
      ++notices;
      const auto at = l.find(R"("lines":)") + 8;
      said += std::stoull(l.substr(at));
    }
  }
  CHECK(notices > 0);
  CHECK(said == dropped);
  CHECK(lines.size() - notices + dropped == 20000);
}
