#include "gateway/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace caseline::gateway {

namespace {
constexpr std::size_t sweep_threshold = 100'000;
}

bool rate_limiter::allow(const std::string& key, int& retry_after) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lk(mu_);
  if (buckets_.size() >= sweep_threshold) sweep_locked(now);
  auto [it, fresh] = buckets_.try_emplace(key, bucket{rate_.burst, now});
  bucket& b = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(rate_.burst, b.tokens + elapsed * rate_.per_second);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  retry_after = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate_.per_second)));
  return false;
}

void rate_limiter::sweep_locked(std::chrono::steady_clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.at).count();
    if (it->second.tokens + elapsed * rate_.per_second >= rate_.burst)
      it = buckets_.erase(it);
    else
      ++it;
  }
}

}  // namespace caseline::gateway
