#pragma once

// The case keys a key_store has unwrapped, kept for their next reads: at most `capacity` of
// them, the least recently used evicted one at a time as others come in. A read that hits costs
// a hash lookup; one that misses costs a RocksDB read and an AES-GCM unwrap in the key store, so
// the cases a center is working on stay cached while the store holds millions. Keys are wiped
// when evicted or erased (events::secret_key). Not thread-safe: its owner guards it.

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "events/field_crypto.h"

namespace caseline::projections {

class key_cache {
 public:
  // At least one key is kept whatever `capacity` says.
  explicit key_cache(std::size_t capacity);
  key_cache(const key_cache&) = delete;
  key_cache& operator=(const key_cache&) = delete;

  // The key cached for `id`, which becomes the most recently used; none when not cached.
  std::optional<events::secret_key> find(std::string_view id);
  // Caches `key` for `id` (replacing the one cached) as the most recently used; when the cache
  // is full, the least recently used key goes.
  void put(std::string_view id, const events::secret_key& key);
  // Forgets `id`'s key (a shred, or a key the keys topic changed); nothing when not cached.
  void erase(std::string_view id);

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct entry {
    std::string id;
    events::secret_key key;
  };
  using order = std::list<entry>;

  std::size_t capacity_;
  order order_;  // the most recently used first
  // Keyed by views of the entries' ids: a list's nodes never move.
  std::unordered_map<std::string_view, order::iterator> index_;
};

}  // namespace caseline::projections
