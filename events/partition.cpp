#include "events/event_log.h"

namespace caseline::events {

namespace {

// Murmur2 exactly as org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c).
std::int32_t murmur2(std::string_view data) {
  const auto length = static_cast<std::int32_t>(data.size());
  constexpr std::uint32_t seed = 0x9747b28c;
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  std::uint32_t h = seed ^ static_cast<std::uint32_t>(length);
  const std::int32_t length4 = length / 4;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  for (std::int32_t i = 0; i < length4; ++i) {
    const std::int32_t i4 = i * 4;
    std::uint32_t k = static_cast<std::uint32_t>(p[i4 + 0]) |
                      (static_cast<std::uint32_t>(p[i4 + 1]) << 8) |
                      (static_cast<std::uint32_t>(p[i4 + 2]) << 16) |
                      (static_cast<std::uint32_t>(p[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::int32_t tail = length & ~3;
  switch (length % 4) {
    case 3: h ^= static_cast<std::uint32_t>(p[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(p[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<std::uint32_t>(p[tail]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

}  // namespace

partition_id partition_for(std::string_view key, std::int32_t partition_count) {
  const std::int32_t positive = murmur2(key) & 0x7fffffff;
  return partition_id{positive % partition_count};
}

}  // namespace caseline::events
