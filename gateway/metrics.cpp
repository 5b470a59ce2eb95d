#include "gateway/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

namespace caseline::gateway {

namespace {

// Label values come from the route table and our own code; escape anyway (\, ", newline).
std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string labels(const std::vector<std::pair<std::string, std::string>>& ls) {
  if (ls.empty()) return {};
  std::string out = "{";
  for (const auto& [k, v] : ls) {
    if (out.size() > 1) out += ',';
    out += fmt::format("{}=\"{}\"", k, escape(v));
  }
  return out + "}";
}

template <class H>
void render_histogram(std::string& out, std::string_view name, std::string_view label,
                      const std::string& value, const H& h) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < metrics::buckets.size(); ++i) {
    cumulative += h.counts[i];
    out += fmt::format("{}_bucket{{{}=\"{}\",le=\"{}\"}} {}\n", name, label, escape(value),
                       metrics::buckets[i], cumulative);
  }
  out += fmt::format("{}_bucket{{{}=\"{}\",le=\"+Inf\"}} {}\n", name, label, escape(value), h.count);
  out += fmt::format("{}_sum{{{}=\"{}\"}} {}\n", name, label, escape(value), h.sum);
  out += fmt::format("{}_count{{{}=\"{}\"}} {}\n", name, label, escape(value), h.count);
}

}  // namespace

void metrics::histogram::observe(double v) {
  for (std::size_t i = 0; i < buckets.size(); ++i)
    if (v <= buckets[i]) {
      ++counts[i];
      break;
    }
  ++count;
  sum += v;
}

void metrics::observe_request(std::string_view route, std::string_view method, int status,
                              double seconds) {
  std::lock_guard lk(mu_);
  ++requests_[{std::string(route), std::string(method), status}];
  latency_[std::string(route)].observe(seconds);
}

void metrics::observe_append(std::string_view outcome, double seconds) {
  std::lock_guard lk(mu_);
  append_latency_[std::string(outcome)].observe(seconds);
}

std::string metrics::render(const std::vector<gauge_sample>& gauges) const {
  std::string out;
  {
    std::lock_guard lk(mu_);
    out += "# HELP caseline_http_requests_total HTTP requests by route template, method and status.\n";
    out += "# TYPE caseline_http_requests_total counter\n";
    for (const auto& [key, n] : requests_)
      out += fmt::format("caseline_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                         escape(std::get<0>(key)), escape(std::get<1>(key)), std::get<2>(key), n);
    out += "# HELP caseline_http_request_duration_seconds Time from request to answer.\n";
    out += "# TYPE caseline_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_)
      render_histogram(out, "caseline_http_request_duration_seconds", "route", route, h);
    out += "# HELP caseline_append_duration_seconds Time from command submitted to the log's "
           "acknowledgement (or refusal).\n";
    out += "# TYPE caseline_append_duration_seconds histogram\n";
    for (const auto& [outcome, h] : append_latency_)
      render_histogram(out, "caseline_append_duration_seconds", "outcome", outcome, h);
  }
  std::string last_name;
  for (const auto& g : gauges) {
    if (g.name != last_name) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", g.name, g.help, g.name, g.type);
      last_name = g.name;
    }
    out += fmt::format("{}{} {}\n", g.name, labels(g.labels), g.value);
  }
  return out;
}

std::vector<gauge_sample> process_gauges() {
  std::vector<gauge_sample> g;
  const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // /proc/self/stat: the command (field 2) may hold spaces and parentheses, so the fields are
  // counted from its last ')': utime 14, stime 15, starttime 22, vsize 23, rss 24 (proc(5)).
  std::ifstream stat_file("/proc/self/stat");
  const std::string stat{std::istreambuf_iterator<char>(stat_file), {}};
  if (const auto close = stat.rfind(')'); close != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(close + 1));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    if (f.size() >= 22) {  // f[0] is field 3 (state)
      const auto field = [&](int n) { return std::stod(f[static_cast<std::size_t>(n - 3)]); };
      g.push_back({"process_cpu_seconds_total",
                   "Total user and system CPU time spent in seconds.",
                   "counter",
                   {},
                   (field(14) + field(15)) / ticks});
      g.push_back({"process_virtual_memory_bytes",
                   "Virtual memory size in bytes.",
                   "gauge",
                   {},
                   field(23)});
      g.push_back({"process_resident_memory_bytes",
                   "Resident memory size in bytes.",
                   "gauge",
                   {},
                   field(24) * page});
      // The start time is in ticks since boot; boot time is `btime` in /proc/stat.
      std::ifstream boot_file("/proc/stat");
      std::string key;
      double btime = 0;
      while (boot_file >> key)
        if (key == "btime" && boot_file >> btime) break;
      if (btime > 0)
        g.push_back({"process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.",
                     "gauge",
                     {},
                     btime + field(22) / ticks});
    }
  }
  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++fds;
  if (!ec) {
    // The iterator's own descriptor is counted too, as the Go and Python clients count it.
    g.push_back({"process_open_fds", "Number of open file descriptors.", "gauge", {}, fds});
  }
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
    g.push_back({"process_max_fds",
                 "Maximum number of open file descriptors.",
                 "gauge",
                 {},
                 static_cast<double>(nofile.rlim_cur)});
  return g;
}

}  // namespace caseline::gateway
