#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace caseline::gateway {

struct rate {
  double per_second{50};
  double burst{100};
};

// Token buckets keyed by a string (a token id, a client address). Each key starts full with
// `burst` and refills at `per_second`. Buckets that are full again are forgotten, so memory stays
// bounded by the keys active within burst/per_second seconds. Wall time here is the steady clock:
// it measures request pacing, not domain time. Thread-safe.
class rate_limiter {
 public:
  explicit rate_limiter(rate r) : rate_(r) {}
  // Takes one request from the key's bucket. False: over the limit (429); `retry_after` is set
  // to the whole seconds until one request is available again.
  bool allow(const std::string& key, int& retry_after);

 private:
  struct bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  void sweep_locked(std::chrono::steady_clock::time_point now);

  rate rate_;
  std::mutex mu_;
  std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace caseline::gateway
