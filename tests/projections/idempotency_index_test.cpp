#include "projections/idempotency_index.h"

#include <rocksdb/db.h>

#include "events/record.h"
#include "projections/rebuild.h"
#include "tests/projections/scenarios.h"

namespace caseline::projections::testing {
namespace {

events::idempotency_mark mark(std::string_view key, std::string_view body) {
  return {events::idempotency_key_hash("tok-1", key), request_hash("POST", "/v1/cases", body)};
}

TEST_CASE("a record that carries an Idempotency-Key is indexed, and a rebuild gives the same index") {
  stack s;
  const auto agent = world::agent("410100");
  const auto keyed = s.run(std::nullopt, recv("410100"), agent, at(date("2026-01-05")), mark("k-1", "a"));
  REQUIRE(keyed);
  const auto plain = s.run(std::nullopt, recv("410100"), agent, at(date("2026-01-05"), 1));
  REQUIRE(plain);
  // A command on the case under another key: a second row, for the same case.
  const auto answered = s.run(keyed.value().state.id, answer(), agent, at(date("2026-01-05"), 2),
                              mark("k-2", "b"));
  REQUIRE(answered);

  idempotency_index index(s.db());
  auto first = index.find(mark("k-1", "a").key_hash);
  REQUIRE(first);
  REQUIRE(first.value());
  CHECK(first.value()->id == keyed.value().state.id);
  CHECK(first.value()->position == *keyed.value().position);
  CHECK(first.value()->request_hash == mark("k-1", "a").request_hash);
  auto second = index.find(mark("k-2", "b").key_hash);
  REQUIRE(second);
  REQUIRE(second.value());
  CHECK(second.value()->position == *answered.value().position);
  // Keys are scoped by the token: another token's same key is not there.
  auto other = index.find(events::idempotency_key_hash("tok-2", "k-1"));
  REQUIRE(other);
  CHECK_FALSE(other.value());

  SUBCASE("the same key written again keeps the first write") {
    const auto again = s.run(std::nullopt, recv("410100"), agent, at(date("2026-01-05"), 3),
                             mark("k-1", "a"));
    REQUIRE(again);
    auto still = index.find(mark("k-1", "a").key_hash);
    REQUIRE(still);
    REQUIRE(still.value());
    CHECK(still.value()->id == keyed.value().state.id);
  }

  SUBCASE("a rebuild from offset 0 gives byte-identical index rows") {
    auto r = rebuild_from_log(s, "rebuilt");
    const std::string live_dir = r.live_dir;
    {
      auto found = idempotency_index(*r.fresh).find(mark("k-1", "a").key_hash);
      REQUIRE(found);
      REQUIRE(found.value());
      CHECK(found.value()->id == keyed.value().state.id);
    }
    r.fresh.reset();
    auto diff = compare_stores(live_dir, s.dir().sub("rebuilt"), {"idempotency_index"});
    REQUIRE(diff);
    for (const auto& d : diff.value()) INFO(d.family << " " << d.key << " " << d.what);
    CHECK(diff.value().empty());
    // The comparison can fail: a missing row is reported.
    {
      auto st = store::open(s.dir().sub("rebuilt"));
      REQUIRE(st);
      REQUIRE(st.value()->db().Delete(rocksdb::WriteOptions(), st.value()->cf(family::idempotency_index),
                                      mark("k-2", "b").key_hash).ok());
    }
    auto d2 = compare_stores(live_dir, s.dir().sub("rebuilt"), {"idempotency_index"});
    REQUIRE(d2);
    CHECK(d2.value().size() == 1);
  }
}

TEST_CASE("records keep their format: without a key CL1 as before, with a key CL2; both decode") {
  events::record r;
  r.events = {"e1", "e2"};
  const std::string old_format = events::encode_record(r);
  CHECK(old_format.substr(0, 3) == "CL1");
  auto back = events::decode_record(old_format);
  REQUIRE(back);
  CHECK(back.value().events == r.events);
  CHECK_FALSE(back.value().idempotency);

  r.idempotency = mark("k", "body");
  const std::string keyed = events::encode_record(r);
  CHECK(keyed.substr(0, 3) == "CL2");
  auto keyed_back = events::decode_record(keyed);
  REQUIRE(keyed_back);
  CHECK(keyed_back.value().events == r.events);
  REQUIRE(keyed_back.value().idempotency);
  CHECK(*keyed_back.value().idempotency == *r.idempotency);
  CHECK_FALSE(events::is_checkpoint(keyed));
  CHECK_FALSE(events::decode_record(keyed.substr(0, keyed.size() - 1)));
}

}  // namespace
}  // namespace caseline::projections::testing
