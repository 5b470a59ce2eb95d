#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/metrics.h"

namespace caseline::gateway {

// Why a connection was closed at once instead of served.
enum class refusal : std::uint8_t {
  none = 0,
  total,         // the server holds its maximum of connections
  per_address,   // this address holds its own maximum
  reserved,      // the last tenth of the total is kept for addresses that hold few connections
  fd_exhausted,  // the process is out of file descriptors (RLIMIT_NOFILE)
};
inline constexpr std::size_t refusal_kinds = 5;
std::string_view to_string(refusal r);

struct connection_limits {
  std::size_t total{10'000};
  std::size_t per_address{256};
};

struct connection_stats {
  std::size_t open{0};
  std::size_t limit{0};
  std::size_t per_address_limit{0};
  std::uint64_t accepted{0};
  std::array<std::uint64_t, refusal_kinds> refused{};  // by refusal
};

// Decides, at accept time, whether a new connection may open, and counts open connections per
// address key (address_key(): an IPv4 address, an IPv6 /64) and in total.
//
// Rules, in order: never more than `total`; a trusted proxy (which carries many clients) is
// limited only by the total; any other address holds at most `per_address`, which is capped at
// half the total so that one address never takes more than its share; and once nine tenths of
// the total are open, the last tenth goes only to addresses holding fewer than
// `reserve_holding` connections, so that a flood from a few addresses cannot take the last
// slots either.
//
// Lifecycle: one per server. Every admit() that returns refusal::none is matched by exactly
// one release() with the same key. Thread-safe.
class connection_limiter {
 public:
  static constexpr std::size_t reserve_holding = 8;

  explicit connection_limiter(connection_limits limits);
  refusal admit(const std::string& key, bool trusted_proxy);
  void release(const std::string& key);
  // A refusal decided elsewhere (an accept that failed for want of descriptors).
  void count_refusal(refusal r);
  connection_stats stats() const;
  std::size_t open_from(const std::string& key) const;

 private:
  std::size_t total_;
  std::size_t per_address_;
  std::size_t reserve_;
  mutable std::mutex mu_;
  std::size_t open_{0};
  std::unordered_map<std::string, std::size_t> by_key_;
  std::uint64_t accepted_{0};
  std::array<std::uint64_t, refusal_kinds> refused_{};
};

// The connection counters as /metrics shows them: caseline_connections_open,
// caseline_connections_limit, caseline_connections_accepted_total and
// caseline_connections_refused_total{reason}.
std::vector<gauge_sample> connection_gauges(const connection_stats& s);

}  // namespace caseline::gateway
