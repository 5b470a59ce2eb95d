#include "projections/key_cache.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using namespace caseline;
using projections::key_cache;
using projections::shared_key_cache;

namespace {

events::secret_key key_of(char c) { return events::secret_key(std::string(32, c)); }

bool holds(key_cache& cache, std::string_view id, char c) {
  auto k = cache.find(id);
  return k && k->view() == key_of(c).view();
}

bool holds_shared(shared_key_cache& cache, std::string_view id, char c) {
  auto k = cache.find(id).key;
  return k && k->view() == key_of(c).view();
}

}  // namespace

TEST_CASE("the key cache evicts the least recently used key, one at a time") {
  key_cache cache(3);
  cache.put("a", key_of('a'));
  cache.put("b", key_of('b'));
  cache.put("c", key_of('c'));
  REQUIRE(holds(cache, "a", 'a'));  // a is now the most recently used, b the least
  cache.put("d", key_of('d'));
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find("b"));
  CHECK(holds(cache, "a", 'a'));
  CHECK(holds(cache, "c", 'c'));
  CHECK(holds(cache, "d", 'd'));
  // Order now, the least recently used first: a, c, d. Two more push out a and c, not d.
  cache.put("e", key_of('e'));
  cache.put("f", key_of('f'));
  CHECK_FALSE(cache.find("a"));
  CHECK_FALSE(cache.find("c"));
  CHECK(holds(cache, "d", 'd'));
  CHECK(holds(cache, "e", 'e'));
  CHECK(holds(cache, "f", 'f'));
}

TEST_CASE("a full cache takes each new key in the evicted one's place, whatever the ids' lengths") {
  key_cache cache(4);
  // Ids of changing lengths, so that an evicted entry's id is both shorter and longer than the
  // one that takes its place.
  auto id = [](int i) {
    return std::string(static_cast<std::size_t>(1 + (i * 7) % 40), 'x') + std::to_string(i);
  };
  auto key = [](int i) { return key_of(static_cast<char>('A' + i % 50)); };
  for (int i = 0; i < 200; ++i) {
    cache.put(id(i), key(i));
    CHECK(cache.size() == std::min(i + 1, 4));
    // The last four are held, each with its own key; the one before them is gone.
    for (int j = std::max(0, i - 3); j <= i; ++j) {
      auto k = cache.find(id(j));
      REQUIRE(k);
      CHECK(k->view() == key(j).view());
    }
    if (i >= 4) CHECK_FALSE(cache.find(id(i - 4)));
  }
  cache.erase(id(198));
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find(id(198)));
  cache.put("again", key_of('q'));
  CHECK(holds(cache, "again", 'q'));
  CHECK(cache.size() == 4);
}

TEST_CASE("a key put again replaces the cached one and counts as used, without evicting") {
  key_cache cache(2);
  cache.put("a", key_of('a'));
  cache.put("b", key_of('b'));
  cache.put("a", key_of('x'));
  CHECK(cache.size() == 2);
  CHECK(holds(cache, "b", 'b'));  // b now the most recently used
  CHECK(holds(cache, "a", 'x'));
  cache.put("c", key_of('c'));  // b was used before a: b goes
  CHECK_FALSE(cache.find("b"));
  CHECK(holds(cache, "a", 'x'));
  CHECK(holds(cache, "c", 'c'));
}

TEST_CASE("an erased key is gone and its place reused; erasing a missing one does nothing") {
  key_cache cache(2);
  cache.put("a", key_of('a'));
  cache.put("b", key_of('b'));
  cache.erase("a");
  cache.erase("missing");
  CHECK(cache.size() == 1);
  CHECK_FALSE(cache.find("a"));
  cache.put("c", key_of('c'));  // room left by a: b stays
  CHECK(holds(cache, "b", 'b'));
  CHECK(holds(cache, "c", 'c'));
  cache.erase("b");
  cache.erase("c");
  CHECK(cache.size() == 0);
  cache.put("d", key_of('d'));
  CHECK(holds(cache, "d", 'd'));
}

TEST_CASE("a key cache of capacity 0 keeps one key") {
  key_cache cache(0);
  CHECK(cache.capacity() == 1);
  cache.put("a", key_of('a'));
  CHECK(holds(cache, "a", 'a'));
  cache.put("b", key_of('b'));
  CHECK_FALSE(cache.find("a"));
  CHECK(holds(cache, "b", 'b'));
}

TEST_CASE("ids are compared whole, not by their first bytes") {
  key_cache cache(4);
  cache.put("410100-20261129-000001", key_of('1'));
  cache.put("410100-20261129-000002", key_of('2'));
  CHECK(holds(cache, "410100-20261129-000001", '1'));
  CHECK(holds(cache, "410100-20261129-000002", '2'));
  CHECK_FALSE(cache.find("410100-20261129-00000"));
}

TEST_CASE("the shared key cache holds at most its capacity, each shard its least recently used") {
  shared_key_cache cache(64);
  CHECK(cache.capacity() == 64);  // 16 shards of 4
  for (int i = 0; i < 1000; ++i) {
    const auto id = "410100-20261129-" + std::to_string(100000 + i);
    cache.put(id, key_of(static_cast<char>('a' + i % 26)));
    const auto found = cache.find(id).key;  // the one put last is always there
    REQUIRE(found);
    CHECK(found->view() == key_of(static_cast<char>('a' + i % 26)).view());
  }
  CHECK(cache.size() == 64);                    // every shard full: 1,000 ids hash into all 16
  CHECK(shared_key_cache(0).capacity() == 16);  // one key a shard, at least
}

TEST_CASE("a key read before a forget is not cached after it; one read after it is") {
  shared_key_cache cache(100);
  cache.put("a", key_of('a'));
  const auto miss = cache.find("b");
  REQUIRE_FALSE(miss.key);
  // A shred of another case ran between b's miss and its read from the store: b's read may be
  // older than that write, so it is not cached (the cache does not know which keys a write took).
  const std::string_view gone[] = {"a"};
  cache.forget(gone);
  CHECK_FALSE(cache.find("a").key);
  cache.put_unless_changed("b", key_of('b'), miss.generation);
  CHECK_FALSE(cache.find("b").key);
  // Misses after the forget cache what they read (from the second read on: admission).
  const auto again = cache.find("b");
  CHECK(again.generation == cache.generation());
  cache.put_unless_changed("b", key_of('b'), again.generation);
  CHECK_FALSE(cache.find("b").key);
  cache.put_unless_changed("b", key_of('b'), cache.find("b").generation);
  const auto found = cache.find("b").key;
  REQUIRE(found);
  CHECK(found->view() == key_of('b').view());
}

TEST_CASE("threads reading and caching keys of different cases each find their own") {
  shared_key_cache cache(100'000);
  constexpr int threads = 4, rounds = 20'000;
  std::vector<int> wrong(threads, 0);
  std::vector<std::thread> running;
  running.reserve(threads);
  for (int t = 0; t < threads; ++t)
    running.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        const auto id = std::to_string(t) + "-" + std::to_string(i);
        const char c = static_cast<char>('a' + (t * rounds + i) % 26);
        const auto miss = cache.find(id);
        if (miss.key) ++wrong[t];  // never cached yet
        // A first read is cached only when the admission filter errs (a false positive).
        cache.put_unless_changed(id, key_of(c), miss.generation);
        if (const auto k = cache.find(id).key; k && k->view() != key_of(c).view()) ++wrong[t];
        cache.put(id, key_of(c));  // as its writer does
        const auto found = cache.find(id).key;
        if (!found || found->view() != key_of(c).view()) ++wrong[t];
      }
    });
  for (auto& t : running) t.join();
  for (int t = 0; t < threads; ++t) CHECK(wrong[t] == 0);
  CHECK(cache.size() == threads * rounds);
}

TEST_CASE("a key read once is not cached; read again soon after, it is") {
  shared_key_cache cache(1600);  // 100 keys a shard
  const auto read = [&](const std::string& id, char c) {
    const auto l = cache.find(id);
    if (!l.key) cache.put_unless_changed(id, key_of(c), l.generation);
    return l.key.has_value();
  };
  // 1,000 cases read once each: none of them takes a place.
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(read("once-" + std::to_string(i), 'o'));
  CHECK(cache.size() == 0);
  // Read a second time (each shard has noted at most 100 ids since its last clearing), the
  // last 200 are cached: the first reads of the others were forgotten as more ids came.
  int cached = 0;
  for (int i = 800; i < 1000; ++i) read("once-" + std::to_string(i), 'o');
  for (int i = 800; i < 1000; ++i) cached += read("once-" + std::to_string(i), 'o') ? 1 : 0;
  CHECK(cached > 100);
  // A key put by its writer (new, durable) is cached at once.
  cache.put("new", key_of('n'));
  CHECK(holds_shared(cache, "new", 'n'));
}
