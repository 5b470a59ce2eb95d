#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace caseline::gateway {

// A gauge computed when scraped (consumer lag, events applied).
struct gauge_sample {
  std::string name;    // caseline_projection_lag_records
  std::string help;
  std::string type;    // "gauge" or "counter"
  std::vector<std::pair<std::string, std::string>> labels;
  double value{0};
};

// The gateway's Prometheus metrics: requests by route, method and status; request latency per
// route; append latency (command submitted -> acknowledged or refused). Routes are templates,
// so label cardinality is bounded by the route table. Thread-safe.
class metrics {
 public:
  static constexpr std::array<double, 12> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1.0,  2.5,   10.0};

  void observe_request(std::string_view route, std::string_view method, int status,
                       double seconds);
  void observe_append(std::string_view outcome, double seconds);
  // The text exposition format (version 0.0.4), with `gauges` appended.
  std::string render(const std::vector<gauge_sample>& gauges) const;

 private:
  struct histogram {
    std::array<std::uint64_t, buckets.size()> counts{};
    std::uint64_t count{0};
    double sum{0};
    void observe(double v);
  };

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, histogram> latency_;         // by route
  std::map<std::string, histogram> append_latency_;  // by outcome (ok, refused, failed)
};

// The standard process metrics of the Prometheus client libraries, read from /proc/self when
// called: process_cpu_seconds_total (user + system), process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds (since the epoch), process_open_fds and
// process_max_fds. A file of /proc that cannot be read leaves its metrics out (never made up).
std::vector<gauge_sample> process_gauges();

}  // namespace caseline::gateway
