#include "projections/key_cache.h"

#include <algorithm>
#include <functional>

namespace caseline::projections {

key_cache::key_cache(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {
  index_.reserve(capacity_);
}

std::optional<events::secret_key> key_cache::find(std::string_view id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  order_.splice(order_.begin(), order_, it->second);
  return it->second->key;
}

void key_cache::put(std::string_view id, const events::secret_key& key) {
  if (const auto it = index_.find(id); it != index_.end()) {
    it->second->key = key;
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  if (index_.size() < capacity_) {
    order_.push_front(entry{std::string(id), key});
    index_.emplace(std::string_view(order_.front().id), order_.begin());
    return;
  }
  // Full: the least recently used entry's list node and index node take the new key, with no
  // allocation (a cache at its capacity evicts on every key it takes in). The index node is
  // taken out before the id it views changes.
  const auto last = std::prev(order_.end());
  auto node = index_.extract(std::string_view(last->id));
  try {
    last->id.assign(id);  // allocates only for an id longer than any this node held
  } catch (...) {
    order_.erase(last);  // evicted after all; its index node goes with `node`
    throw;
  }
  last->key = key;  // over the evicted key's bytes
  order_.splice(order_.begin(), order_, last);
  node.key() = std::string_view(last->id);
  node.mapped() = last;
  index_.insert(std::move(node));  // no rehash: the index was sized for the capacity
}

void key_cache::erase(std::string_view id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return;
  const auto node = it->second;
  index_.erase(it);
  order_.erase(node);
}

shared_key_cache::shared_key_cache(std::size_t capacity) {
  const std::size_t each = (std::max<std::size_t>(capacity, 1) + shard_count - 1) / shard_count;
  for (auto& s : shards_) s = std::make_unique<shard>(each);
}

std::size_t shared_key_cache::hash_of(std::string_view id) {
  return std::hash<std::string_view>{}(id);
}

shared_key_cache::shard& shared_key_cache::shard_of(std::size_t hash) {
  return *shards_[hash % shard_count];
}

shared_key_cache::lookup shared_key_cache::find(std::string_view id) {
  auto& s = shard_of(hash_of(id));
  std::lock_guard lk(s.mu);
  lookup out;
  out.key = s.keys.find(id);
  if (!out.key) out.generation = generation_.load();
  return out;
}

void shared_key_cache::put(std::string_view id, const events::secret_key& key) {
  auto& s = shard_of(hash_of(id));
  std::lock_guard lk(s.mu);
  s.keys.put(id, key);
}

bool shared_key_cache::read_before(shard& s, std::size_t hash) {
  // The low bits chose the shard; two others pick the id's two bits.
  const std::size_t bits[] = {(hash >> 4) % read_once_bits, (hash >> 28) % read_once_bits};
  bool before = true;
  for (const auto b : bits) {
    auto& word = s.read_once[b / 64];
    const std::uint64_t mask = std::uint64_t{1} << (b % 64);
    if ((word & mask) == 0) before = false;
    word |= mask;
  }
  if (before) return true;
  if (++s.read_once_count > s.keys.capacity()) {
    std::fill(s.read_once.begin(), s.read_once.end(), 0);
    s.read_once_count = 0;
  }
  return false;
}

void shared_key_cache::put_unless_changed(std::string_view id, const events::secret_key& key,
                                          std::uint64_t generation) {
  const auto hash = hash_of(id);
  auto& s = shard_of(hash);
  std::lock_guard lk(s.mu);
  if (generation_.load() != generation || !read_before(s, hash)) return;
  s.keys.put(id, key);
}

void shared_key_cache::forget(std::span<const std::string_view> ids) {
  generation_.fetch_add(1);
  for (const auto id : ids) {
    auto& s = shard_of(hash_of(id));
    std::lock_guard lk(s.mu);
    s.keys.erase(id);
  }
}

std::size_t shared_key_cache::size() {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lk(s->mu);
    n += s->keys.size();
  }
  return n;
}

std::size_t shared_key_cache::capacity() const {
  std::size_t n = 0;
  for (const auto& s : shards_) n += s->keys.capacity();
  return n;
}

}  // namespace caseline::projections
