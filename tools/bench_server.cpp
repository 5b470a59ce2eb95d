#include "tools/bench_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fmt/format.h>

#include "events/errc.h"

namespace caseline::tools {

namespace {

// The sum of every sample of `name`, whatever its labels; nullopt when it has none.
std::optional<double> sum_of(const std::string& text, std::string_view name) {
  std::optional<double> sum;
  std::size_t line = 0;
  while (line < text.size()) {
    std::size_t end = text.find('\n', line);
    if (end == std::string::npos) end = text.size();
    const std::string_view l(text.data() + line, end - line);
    if (l.starts_with(name) && l.size() > name.size() &&
        (l[name.size()] == ' ' || l[name.size()] == '{'))
      if (const auto space = l.rfind(' '); space != std::string_view::npos)
        sum = sum.value_or(0) + std::strtod(std::string(l.substr(space + 1)).c_str(), nullptr);
    line = end + 1;
  }
  return sum;
}

// GET /metrics: its text, or why not.
result<std::string> metrics_text(const admin_target& server) {
  auto m = admin_request(server, "GET", "/metrics");
  if (!m) return m.error();
  if (m.value().status != 200)
    return make_error(events::errc::unavailable,
                      "GET /metrics answered " + std::to_string(m.value().status));
  return std::move(m.value().body);
}

}  // namespace

result<std::vector<double>> scrape_sums(const admin_target& server,
                                        const std::vector<std::string>& names) {
  auto text = metrics_text(server);
  if (!text) return text.error();
  std::vector<double> sums;
  sums.reserve(names.size());
  for (const auto& n : names) sums.push_back(sum_of(text.value(), n).value_or(0));
  return sums;
}

std::optional<std::filesystem::path> fresh_bench_dir(const std::string& dir,
                                                     const std::string& default_name,
                                                     std::ostream& err) {
  const std::filesystem::path path = dir.empty()
                                         ? std::filesystem::temp_directory_path() / default_name
                                         : std::filesystem::path(dir);
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  std::filesystem::create_directories(path, ec);
  if (ec) {
    err << "caseline bench: cannot create " << path.string() << ": " << ec.message() << "\n";
    return std::nullopt;
  }
  return path;
}

result<process_figures> scrape_process_figures(const admin_target& server) {
  auto text = metrics_text(server);
  if (!text) return text.error();
  const auto cpu = sum_of(text.value(), "process_cpu_seconds_total");
  const auto rss = sum_of(text.value(), "process_resident_memory_bytes");
  if (!cpu || !rss) return make_error(events::errc::unavailable, "/metrics has no process metrics");
  return process_figures{*cpu, *rss};
}

result<std::unique_ptr<bench_server>> bench_server::start(const bench_server_options& o) {
  const std::string program = o.program.empty() ? "/proc/self/exe" : o.program;
  std::vector<std::string> args{program,
                                "serve",
                                "--listen",
                                "127.0.0.1:0",
                                "--data",
                                o.data_dir,
                                "--partitions",
                                std::to_string(o.partitions),
                                "--clock",
                                "manual",
                                "--checkpoint-interval",
                                "0",
                                "--token-rate",
                                "1000000000",
                                "--token-burst",
                                "1000000000",
                                "--max-connections-per-address",
                                "2048"};
  if (!o.kafka.empty()) args.insert(args.end(), {"--kafka", o.kafka, "--topic", o.topic});
  // The URL a group's other servers would forward to: a group of one has none, and the port is
  // the system's choice, so it is a placeholder here.
  if (!o.group.empty())
    args.insert(args.end(), {"--group", o.group, "--advertise", "http://127.0.0.1:1"});
  if (!o.calendar_file.empty()) args.insert(args.end(), {"--calendar", o.calendar_file});
  if (o.reminder_interval_seconds != 0)
    args.insert(args.end(), {"--reminder-interval", std::to_string(o.reminder_interval_seconds)});
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_file = o.data_dir + ".log";

  std::array<int, 2> pipe_fds{};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0)
    return make_error(events::errc::unavailable, "pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(events::errc::unavailable, "fork failed");
  if (pid == 0) {  // the child: only async-signal-safe calls until exec
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  const int fd = pipe_fds[0];
  const auto fail = [&](const std::string& why) -> result<std::unique_ptr<bench_server>> {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fd);
    return make_error(events::errc::unavailable,
                      "caseline serve " + why + " (its log: " + log_file + ")");
  };
  // Reads its stdout until the address and the bootstrap token are printed.
  const auto deadline = std::chrono::steady_clock::now() + o.start_timeout;
  std::string text;
  constexpr std::string_view listening = "caseline listening on ";
  constexpr std::string_view boot = "bootstrap admin token (shown once, expires in 24 hours): ";
  while (true) {
    const auto b = text.find(o.admin_token.empty() ? boot : listening);
    if (b != std::string::npos && text.find('\n', b) != std::string::npos) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("did not start in time");
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    std::array<char, 4096> buf{};
    const auto n = ::read(fd, buf.data(), buf.size());
    if (n <= 0) return fail("exited before it served");
    text.append(buf.data(), static_cast<std::size_t>(n));
  }
  const auto l = text.find(listening);
  if (l == std::string::npos) return fail("printed no address");
  std::string url = text.substr(l + listening.size());
  url.resize(url.find(' '));
  std::string token = o.admin_token;
  if (token.empty()) {
    const auto b = text.find(boot);
    token = text.substr(b + boot.size());
    token.resize(token.find('\n'));
  }
  return std::unique_ptr<bench_server>(
      new bench_server(pid, fd, std::move(url), std::move(token), log_file));
}

std::string thread_group(std::string_view thread_name) {
  std::string_view g = thread_name;
  while (!g.empty() && std::isdigit(static_cast<unsigned char>(g.back())) != 0) g.remove_suffix(1);
  if (g.size() < thread_name.size() && !g.empty() && g.back() == '-') g.remove_suffix(1);
  return std::string(g.empty() ? thread_name : g);
}

result<thread_cpu_seconds> read_thread_cpu(int pid) {
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  std::filesystem::directory_iterator it(tasks, ec);
  if (ec)
    return make_error(events::errc::unavailable,
                      "the threads of process " + std::to_string(pid) + ": " + ec.message());
  const double tick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  thread_cpu_seconds out;
  for (const auto& task : it) {
    std::ifstream in(task.path() / "stat");
    const std::string stat{std::istreambuf_iterator<char>(in), {}};
    // "tid (name) state ppid ...": the name may hold spaces and parentheses, so the fields are
    // read after its last ')'; utime and stime are the 14th and 15th fields (proc(5)).
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open)
      continue;  // the thread ended while the folder was read
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i)
      if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
    out[thread_group(std::string_view(stat).substr(open + 1, close - open - 1))] += ticks * tick;
  }
  if (out.empty())
    return make_error(events::errc::unavailable,
                      "no thread of process " + std::to_string(pid) + " could be read");
  return out;
}

std::vector<std::pair<std::string, double>> cpu_per_unit(const thread_cpu_seconds& before,
                                                         const thread_cpu_seconds& after,
                                                         std::uint64_t units) {
  std::vector<std::pair<std::string, double>> out;
  if (units == 0) return out;
  for (const auto& [group, seconds] : after) {
    const auto was = before.find(group);
    const double spent = seconds - (was == before.end() ? 0.0 : was->second);
    if (spent > 0) out.emplace_back(group, spent * 1e6 / static_cast<double>(units));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

std::string format_cpu_split(const std::vector<std::pair<std::string, double>>& split) {
  std::string out;
  for (const auto& [group, us] : split)
    out += fmt::format("{}{} {:.1f}", out.empty() ? "" : ", ", group, us);
  return out;
}

std::optional<std::uint64_t> bench_server::storage_read_bytes() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/io");
  std::string name;
  std::uint64_t value = 0;
  while (in >> name >> value)
    if (name == "read_bytes:") return value;
  return std::nullopt;
}

bench_server::bench_server(int pid, int out_fd, std::string url, std::string admin_token,
                           const std::string& log_file)
    : pid_(pid), out_fd_(out_fd), url_(std::move(url)), admin_token_(std::move(admin_token)) {
  drain_ = std::thread([fd = out_fd_, log_file] {
    std::ofstream log(log_file, std::ios::app);
    std::array<char, 4096> buf{};
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;)
      log.write(buf.data(), n);  // a log that cannot be written is lost, the pipe still drained
  });
}

bench_server::~bench_server() {
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  drain_.join();  // the pipe's end: the child has exited
  ::close(out_fd_);
}

result<std::string> bench_server::token(const std::string& role, const std::string& center) {
  auto r = admin_request(admin(), "POST", "/v1/admin/tokens",
                         R"({"role":")" + role + R"(","center":")" + center + R"("})");
  if (!r) return r.error();
  if (r.value().status != 201)
    return make_error(events::errc::unavailable, "POST /v1/admin/tokens answered " +
                                                     std::to_string(r.value().status) + ": " +
                                                     r.value().body);
  boost::system::error_code ec;
  const auto doc = boost::json::parse(r.value().body, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("token") || !doc.at("token").is_string())
    return make_error(events::errc::unavailable, "POST /v1/admin/tokens: no token in the answer");
  return std::string(doc.at("token").as_string().c_str());
}

}  // namespace caseline::tools
