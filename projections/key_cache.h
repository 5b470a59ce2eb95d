#pragma once

// The case keys a key_store has unwrapped, kept for their next reads: at most `capacity` of
// them, the least recently used evicted one at a time as others come in. A read that hits costs
// a hash lookup; one that misses costs a RocksDB read and an AES-GCM unwrap in the key store, so
// the cases a center is working on stay cached while the store holds millions. Keys are wiped
// when evicted or erased (events::secret_key). Not thread-safe: its owner guards it.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

// A key_cache for many threads, in shards that each have their own lock: the HTTP loops read a
// case's key on every request that shows personal data, and under one lock they waited for each
// other (futex hand-offs were a quarter of the cache's cost at 32 connections). A case's shard is
// chosen by a hash of its id, and each shard evicts its own least recently used key, so the
// whole holds at most `capacity` keys (rounded up to the shards).
//
// The key store's reads fill it: find() misses, the key is read from the database and unwrapped,
// then put_unless_changed() caches it, unless forget() ran since the miss — a shred or the keys
// topic may have deleted that key after it was read — or the key is read for the first time
// lately. Thread-safe.
class shared_key_cache {
 public:
  explicit shared_key_cache(std::size_t capacity);
  shared_key_cache(const shared_key_cache&) = delete;
  shared_key_cache& operator=(const shared_key_cache&) = delete;

  // A key found, or none and the generation to hand put_unless_changed() after the read.
  struct lookup {
    std::optional<events::secret_key> key;
    std::uint64_t generation = 0;
  };
  lookup find(std::string_view id);
  // Caches a key known to be current (durable, just written by its owner).
  void put(std::string_view id, const events::secret_key& key);
  // Caches a key read after find() gave `generation`: nothing when forget() ran since, nor the
  // first time a case's key is read lately (admission on the second read: a key read once, as
  // most are when reads are spread over millions of cases, would only push out one read again).
  void put_unless_changed(std::string_view id, const events::secret_key& key,
                          std::uint64_t generation);
  // Forgets `ids`' keys, deleted or replaced by a write that is done: a read that missed before
  // caches nothing afterwards (put_unless_changed).
  void forget(std::span<const std::string_view> ids);
  // The generation now: what find() would give on a miss.
  std::uint64_t generation() const { return generation_.load(); }

  std::size_t size();
  std::size_t capacity() const;

 private:
  static constexpr std::size_t shard_count = 16;
  struct shard {
    explicit shard(std::size_t capacity) : keys(capacity), read_once(read_once_bits / 64) {}
    std::mutex mu;
    key_cache keys;  // guarded by mu
    // Guarded by mu: the ids read once lately (a Bloom filter of two bits an id), cleared after
    // as many ids as the shard holds keys, so that "lately" is about one cache's worth of reads.
    std::vector<std::uint64_t> read_once;
    std::size_t read_once_count = 0;
  };
  static constexpr std::size_t read_once_bits = std::size_t{1} << 17;
  // Notes `hash`'s id as read; whether it had been read before (since the last clearing).
  static bool read_before(shard& s, std::size_t hash);
  static std::size_t hash_of(std::string_view id);
  shard& shard_of(std::size_t hash);  // the low bits of an id's hash

  std::unique_ptr<shard> shards_[shard_count];
  // Moves before forget() takes a key from its shard; put_unless_changed() reads it under the
  // shard's lock, so a put either sees it moved or comes before the key is taken.
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace caseline::projections
