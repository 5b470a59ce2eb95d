// Bearer tokens as a projection of the log's "tokens" stream: a token issued through one store's
// writer authenticates in a second store that replays the same log, and a revocation holds there
// once its runner applied it; a rebuild gives the same rows; the log never holds a secret; a
// store written before tokens were in the log publishes its tokens once and they keep working.

#include "projections/token_store.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include "core/binary.h"
#include "projections/server_state.h"
#include "tests/projections/projection_test_support.h"
#include "tests/support/eventually.h"

using namespace caseline;
using namespace caseline::projections;
using namespace caseline::projections::testing;

namespace {

const events::actor admin{"admin-1", "admin", "410000", ""};

// A second store reading the first one's log, with its own runner: another instance.
struct reader {
  std::unique_ptr<store> db;
  std::unique_ptr<projection_set> set;
  std::unique_ptr<projection_runner> runner;

  reader(events::event_log& log, const std::string& dir) {
    auto s = store::open(dir);
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    db = std::move(s).value();
    set = std::make_unique<projection_set>(*db);
    runner = std::make_unique<projection_runner>(log, *db, set->all());
    REQUIRE(runner->start());
  }
  std::optional<token_info> find(const std::string& secret) {
    auto t = token_store(*db).find(secret);
    REQUIRE_MESSAGE(t, (t ? "" : t.error().message()));
    return t.value();
  }
};

// Every record value of the log, all partitions.
std::string log_bytes(events::event_log& log) {
  std::string all;
  for (std::int32_t p = 0; p < log.partition_count(); ++p) {
    auto end = log.end_offset(events::partition_id{p});
    REQUIRE(end);
    auto records = log.read(events::partition_id{p}, events::log_offset{0},
                            static_cast<std::size_t>(end.value()()), std::chrono::milliseconds(0));
    REQUIRE(records);
    for (const auto& r : records.value()) all += r.value;
  }
  return all;
}

// An agent token of center 410100 until `expires`, issued through `tokens`' writer.
created_token issue_agent(token_store& tokens, timestamp expires) {
  auto t = tokens.create("agent", "410100", "", expires, admin, "c1");
  REQUIRE_MESSAGE(t, (t ? "" : t.error().message()));
  return std::move(t).value();
}

// A store that issues tokens through the log, another server's store reading the same log, and
// a token issued through the first, for an hour.
struct issued_token {
  stack s;
  token_writer w{s.log(), s.runner(), s.tokens(), s.clock()};
  token_store tokens{s.db(), &w};
  reader other{s.log(), s.dir().sub("other")};
  const timestamp expires{s.clock().now().ms + 3'600'000};
  const created_token t = issue_agent(tokens, expires);
  const std::string secret = t.secret;
};

}  // namespace

TEST_CASE_FIXTURE(issued_token,
                  "a token issued through one store's log authenticates in another, and its "
                  "revocation holds there once applied") {
  // The writer waited until its own store applied it: the next request here sees it.
  auto here = tokens.find(secret);
  REQUIRE(here);
  REQUIRE(here.value());
  CHECK(here.value()->id == t.info.id);

  REQUIRE(test::eventually([&] { return other.find(secret).has_value(); }));
  const auto there = other.find(secret);
  CHECK(there->id == t.info.id);
  CHECK(there->role == "agent");
  CHECK(there->center == "410100");
  CHECK(there->expires_at == expires);
  CHECK_FALSE(expired(*there, s.clock().now()));
  CHECK(expired(*there, expires));
  CHECK(s.count_in_log(core::token_issued::type_id) == 1);

  auto revoked = tokens.revoke(t.info.id, admin, "c2");
  REQUIRE(revoked);
  CHECK(revoked.value());
  CHECK_FALSE(tokens.find(secret).value());  // here: from the next request on
  REQUIRE(test::eventually([&] { return !other.find(secret).has_value(); }));
  CHECK(token_store(*other.db).list().value().empty());
  // Revoking it again, or an unknown id, appends nothing.
  CHECK_FALSE(tokens.revoke(t.info.id, admin, "c3").value());
  CHECK_FALSE(tokens.revoke("000000000000", admin, "c4").value());
  CHECK(s.count_in_log(core::token_revoked::type_id) == 1);

  // A token store without a writer only reads.
  CHECK_FALSE(token_store(s.db()).create("agent", "410100", ""));
}

TEST_CASE("the log holds a token's hash, never its secret; a rebuild gives the same rows") {
  stack s;
  token_writer w(s.log(), s.runner(), s.tokens(), s.clock());
  auto kept = w.issue("supervisor", "410100", "", {}, admin, "c1");
  auto gone = w.issue("agent", "410300", "", {}, admin, "c2");
  REQUIRE(kept);
  REQUIRE(gone);
  REQUIRE(w.revoke(gone.value().info.id, admin, "c3").value());

  const std::string bytes = log_bytes(s.log());
  for (const auto* t : {&kept.value(), &gone.value()}) {
    CHECK(bytes.find(t->secret) == std::string::npos);
    CHECK(bytes.find(t->secret.substr(4)) == std::string::npos);  // the random part alone
    // What the log does hold: the hash (so the scan above reads the records it should).
    CHECK(bytes.find(events::to_hex(events::sha256(t->secret))) != std::string::npos);
  }

  const std::string rebuilt_dir = s.dir().sub("rebuilt");
  {
    auto fresh = store::open(rebuilt_dir);
    REQUIRE(fresh);
    projection_set set(*fresh.value());
    auto replayed = replay(s.log(), *fresh.value(), set.all(), {});
    REQUIRE_MESSAGE(replayed, (replayed ? "" : replayed.error().message()));
    auto found = token_store(*fresh.value()).find(kept.value().secret);
    REQUIRE(found);
    REQUIRE(found.value());
    CHECK(found.value()->role == "supervisor");
    CHECK_FALSE(token_store(*fresh.value()).find(gone.value().secret).value());
    CHECK(set.tokens().head().sequence == 3);
  }
  s.close();
  auto diff = compare_stores(s.dir().sub("store"), rebuilt_dir, {"tokens"});
  REQUIRE(diff);
  CHECK(diff.value().empty());
}

TEST_CASE("a store's tokens from before the log holds them are published once and keep working") {
  stack s;
  // A token as the older token_store wrote it: the row alone (value version 2), no event.
  const std::string secret = "clt_" + std::string(64, 'a');
  const std::string hash = events::to_hex(events::sha256(secret));
  const std::string id = hash.substr(0, 12);
  const timestamp created{1764806400000};
  const std::uint32_t old_version = 2;
  const std::string old_row =
      core::binary_encode(old_version, id, std::string("admin"), std::string("410000"),
                          std::string(), created.ms, std::int64_t{0});
  s.close();
  {
    auto raw = store::open(s.dir().sub("store"));
    REQUIRE(raw);
    REQUIRE(raw.value()
                ->db()
                .Put(rocksdb::WriteOptions(), raw.value()->cf(family::tokens), hash, old_row)
                .ok());
  }
  // The open sets it aside before anything treats the family as log-derived.
  s.open();
  CHECK(token_store(s.db()).list().value().empty());
  auto aside =
      read_server_state(s.db(), std::string(server_state_key::unlogged_token_prefix) + hash);
  REQUIRE(aside);
  CHECK(aside.value() == old_row);

  token_writer w(s.log(), s.runner(), s.tokens(), s.clock());
  auto published = w.publish_unlogged(s.db(), admin);
  REQUIRE_MESSAGE(published, (published ? "" : published.error().message()));
  CHECK(published.value() == 1);
  auto found = token_store(s.db()).find(secret);
  REQUIRE(found);
  REQUIRE(found.value());
  CHECK(found.value()->id == id);
  CHECK(found.value()->role == "admin");
  CHECK(found.value()->created_at == created);
  CHECK_FALSE(found.value()->expires_at);
  CHECK_FALSE(read_server_state(s.db(), std::string(server_state_key::unlogged_token_prefix) + hash)
                  .value());
  // Once: a later start publishes nothing more.
  CHECK(w.publish_unlogged(s.db(), admin).value() == 0);
  CHECK(s.count_in_log(core::token_issued::type_id) == 1);

  // From now on it comes from the log: another store reading it knows the token, and a restart
  // keeps it (its row is the log's now, not set aside again).
  reader other(s.log(), s.dir().sub("other"));
  REQUIRE(test::eventually([&] { return other.find(secret).has_value(); }));
  s.close();
  s.open();
  CHECK(token_store(s.db()).find(secret).value());
  CHECK(s.tokens().hash_of(id) == hash);
  // It can be revoked like any other.
  token_writer w2(s.log(), s.runner(), s.tokens(), s.clock());
  CHECK(w2.revoke(id, admin, "c1").value());
  CHECK_FALSE(token_store(s.db()).find(secret).value());
}

TEST_CASE_FIXTURE(issued_token,
                  "a cached token is refused once its revocation is applied, here at once and on "
                  "another server as soon as its runner applied it; its expiry stays the "
                  "caller's check") {
  // Another server of the group (`other`: its own store and runner over the same log), with its
  // own cache.
  token_writer other_writer(s.log(), *other.runner, other.set->tokens(), s.clock());
  token_store there(*other.db, &other_writer);
  const std::string hash = events::to_hex(events::sha256(secret));
  REQUIRE(tokens.find(secret).value());
  // A find caches what it read under the generation it saw before the read, and the runner moves
  // the generation on only after its batch is in the store: a find between the two caches an
  // entry the next find drops (safe, and not what this test is about). Once the issue is
  // applied there, the generation is settled.
  REQUIRE(t.position);
  REQUIRE(other.runner->wait_applied(*t.position, std::chrono::seconds(10)));
  REQUIRE(there.find(secret).value().has_value());

  // Found once, the token is answered from the cache: its row, deleted behind the projection's
  // back, is not read again.
  for (auto* db : {&s.db(), other.db.get()})
    REQUIRE(db->db().Delete(rocksdb::WriteOptions(), db->cf(family::tokens), hash).ok());
  CHECK(tokens.find(secret).value());
  CHECK(there.find(secret).value());
  CHECK_FALSE(token_store(s.db()).find(secret).value());  // no cache: reads the store
  // The cached expiry: the caller refuses the token from then on.
  CHECK(expired(*tokens.find(secret).value(), expires));
  CHECK_FALSE(expired(*tokens.find(secret).value(), s.clock().now()));

  auto revoked = tokens.revoke(t.info.id, admin, "c2");
  REQUIRE_MESSAGE(revoked, (revoked ? "" : revoked.error().message()));
  REQUIRE(revoked.value());
  // Here the writer waited for its own runner: refused from the next request on.
  CHECK_FALSE(tokens.find(secret).value());
  // There, from the moment its runner applied the revocation, without waiting for anything.
  REQUIRE(other.runner->wait_applied(*revoked.value(), std::chrono::seconds(10)));
  CHECK_FALSE(there.find(secret).value());

  // Unknown tokens are not cached: one issued later is found as soon as its row is there.
  auto later = tokens.create("agent", "410100", "", {}, admin, "c3");
  REQUIRE(later);
  CHECK(tokens.find(later.value().secret).value());
  REQUIRE(other.runner->wait_applied(*later.value().position, std::chrono::seconds(10)));
  CHECK(there.find(later.value().secret).value());
  // A row that appears (here copied behind the projection's back) after a miss is found.
  const std::string unknown = "clt_" + std::string(64, 'b');
  CHECK_FALSE(there.find(unknown).value());
  std::string row;
  auto* cf = other.db->cf(family::tokens);
  REQUIRE(other.db->db()
              .Get(rocksdb::ReadOptions(), cf, events::to_hex(events::sha256(later.value().secret)),
                   &row)
              .ok());
  REQUIRE(other.db->db()
              .Put(rocksdb::WriteOptions(), cf, events::to_hex(events::sha256(unknown)), row)
              .ok());
  CHECK(there.find(unknown).value());
}
