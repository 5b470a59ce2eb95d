#include "gateway/connection_limit.h"

#include <algorithm>

namespace caseline::gateway {

std::string_view to_string(refusal r) {
  switch (r) {
    case refusal::none: return "none";
    case refusal::total: return "total";
    case refusal::per_address: return "per_address";
    case refusal::reserved: return "reserved";
    case refusal::fd_exhausted: return "fd_exhausted";
  }
  return "unknown";
}

connection_limiter::connection_limiter(connection_limits limits)
    : total_(std::max<std::size_t>(1, limits.total)),
      per_address_(
          std::clamp<std::size_t>(limits.per_address, 1, std::max<std::size_t>(1, total_ / 2))),
      reserve_(total_ / 10) {}

refusal connection_limiter::admit(const std::string& key, bool trusted_proxy) {
  std::lock_guard lk(mu_);
  refusal r = refusal::none;
  auto it = by_key_.find(key);
  const std::size_t held = it == by_key_.end() ? 0 : it->second;
  if (open_ >= total_)
    r = refusal::total;
  else if (!trusted_proxy && held >= per_address_)
    r = refusal::per_address;
  else if (!trusted_proxy && open_ >= total_ - reserve_ && held >= reserve_holding)
    r = refusal::reserved;
  if (r != refusal::none) {
    ++refused_[static_cast<std::size_t>(r)];
    return r;
  }
  if (it == by_key_.end()) it = by_key_.emplace(key, 0).first;
  ++it->second;
  ++open_;
  ++accepted_;
  return refusal::none;
}

void connection_limiter::release(const std::string& key) {
  std::lock_guard lk(mu_);
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) return;  // not admitted: nothing was counted
  if (--it->second == 0) by_key_.erase(it);
  --open_;
}

void connection_limiter::count_refusal(refusal r) {
  std::lock_guard lk(mu_);
  ++refused_[static_cast<std::size_t>(r)];
}

connection_stats connection_limiter::stats() const {
  std::lock_guard lk(mu_);
  return {open_, total_, per_address_, accepted_, refused_};
}

std::size_t connection_limiter::open_from(const std::string& key) const {
  std::lock_guard lk(mu_);
  const auto it = by_key_.find(key);
  return it == by_key_.end() ? 0 : it->second;
}

std::vector<gauge_sample> connection_gauges(const connection_stats& s) {
  std::vector<gauge_sample> g;
  g.push_back({"caseline_connections_open", "HTTP connections open now.", "gauge", {},
               static_cast<double>(s.open)});
  g.push_back({"caseline_connections_limit",
               "Most HTTP connections open at once (--max-connections, capped by RLIMIT_NOFILE).",
               "gauge", {}, static_cast<double>(s.limit)});
  g.push_back({"caseline_connections_per_address_limit",
               "Most HTTP connections open at once from one client address (an IPv6 /64).",
               "gauge", {}, static_cast<double>(s.per_address_limit)});
  g.push_back({"caseline_connections_accepted_total", "HTTP connections accepted and served.",
               "counter", {}, static_cast<double>(s.accepted)});
  for (const auto r : {refusal::total, refusal::per_address, refusal::reserved,
                       refusal::fd_exhausted})
    g.push_back({"caseline_connections_refused_total",
                 "HTTP connections closed at once (503 where it could be written) by reason.",
                 "counter", {{"reason", std::string(to_string(r))}},
                 static_cast<double>(s.refused[static_cast<std::size_t>(r)])});
  return g;
}

}  // namespace caseline::gateway
