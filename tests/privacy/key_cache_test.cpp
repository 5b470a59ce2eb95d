#include "projections/key_cache.h"

#include <string>

#include <doctest/doctest.h>

using namespace caseline;
using projections::key_cache;

namespace {

events::secret_key key_of(char c) { return events::secret_key(std::string(32, c)); }

bool holds(key_cache& cache, std::string_view id, char c) {
  auto k = cache.find(id);
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
