// A group's data keys shared through the keys topic (projections/key_replica.h), on the real
// broker the test command starts and real RocksDB key stores in temporary folders: two servers'
// key stores on one keys topic, shredding across them, a fenced writer's key, a wrong master key.
#include "projections/key_replica.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "events/detail/rdkafka_handle.h"
#include "events/errc.h"
#include "events/kafka_event_log.h"
#include "events/key_log.h"
#include "projections/clock.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "projections/registry_projection.h"
#include "tests/privacy/group_support.h"
#include "tests/privacy/key_server.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

constexpr std::int32_t partitions = test::group_partitions;

using test::key_server;

}  // namespace

TEST_CASE(
    "a key committed on one server of a group is read on another, and its shred deletes "
    "it there for good") {
  test::two_servers s("keys");  // A owns every partition; B is no member
  key_server a(*s.a_log, s.dir.sub("a"), s.master);
  auto b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master);

  const case_id id{"410100-20261201-000001"};
  auto made = a.keys->create(id);
  REQUIRE(made.has_value());
  // B's first read races the commit: it waits for the keys topic instead of saying "none".
  CHECK(b->key_of(id) == std::string(made.value().view()));

  SUBCASE("the registry's key goes with the registry; a staging key stays local") {
    const case_id reg{projections::personal_data::registry_key};
    auto r = a.keys->create(reg);
    REQUIRE(r.has_value());
    CHECK(b->key_of(reg) == std::string(r.value().view()));
    const case_id staging{"recording:00ff"};
    REQUIRE(a.keys->create(staging).has_value());
    CHECK(a.key_of(staging).has_value());
    CHECK_FALSE(b->key_of(staging).has_value());
  }

  SUBCASE("a shred on A deletes the key on B, also after B restarts from its own offsets") {
    REQUIRE(a.keys->shred({id}).has_value());
    CHECK_FALSE(a.key_of(id).has_value());
    CHECK(test::eventually([&] { return !b->key_of(id).has_value(); }));
    auto stored = b->keys->stored_record(id());
    REQUIRE(stored.has_value());
    CHECK_FALSE(stored.value().has_value());
    const auto before = b->keys->applied_offsets(partitions);
    REQUIRE(before.has_value());
    const auto p = events::partition_for(id(), partitions);
    CHECK(before.value().at(p()) >= 2);  // the value and its tombstone
    b.reset();
    b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master);
    CHECK(b->keys->applied_offsets(partitions).value() == before.value());
    CHECK_FALSE(b->key_of(id).has_value());
    // A retried shred is harmless.
    CHECK(a.keys->shred({id}).has_value());
  }
}

TEST_CASE("a fenced writer's key is never applied and never replaces the live owner's") {
  test::two_servers s("keys");  // A owns every partition; B is no member
  key_server a(*s.a_log, s.dir.sub("a"), s.master);
  key_server b(*s.b_log, s.dir.sub("b"), s.master);

  const case_id id{"410100-20261201-000007"};
  const auto p = events::partition_for(id(), partitions);
  // The live owner of p (a newer producer of p's transactional.id, as a new owner's writer is)
  // fences A's writer, then commits its key for the case id it allocated.
  const auto live = test::live_owner_of(s.group, p);
  using error_ptr = events::detail::rdkafka_ptr<rd_kafka_error_t>;
  REQUIRE_FALSE(error_ptr{rd_kafka_begin_transaction(live.get())});
  const auto live_key = events::secret_key::random();
  const std::string wrapped = a.keys->wrap(id, live_key);
  const std::string topic = events::keys_topic_of(s.group.options.topic);
  events::detail::topic_ptr rkt{rd_kafka_topic_new(live.get(), topic.c_str(), nullptr)};
  REQUIRE(rkt);
  REQUIRE(rd_kafka_produce(rkt.get(), p(), RD_KAFKA_MSG_F_COPY, const_cast<char*>(wrapped.data()),
                           wrapped.size(), id().data(), id().size(), nullptr) == 0);
  REQUIRE_FALSE(error_ptr{rd_kafka_commit_transaction(live.get(), 60000)});

  // The zombie allocates the same id: its key is refused, not committed, not stored.
  auto zombie = a.keys->create(id);
  REQUIRE_FALSE(zombie.has_value());
  INFO(zombie.error().message());
  CHECK((zombie.error().code == events::errc::fenced ||
         zombie.error().code == events::errc::outcome_unknown));
  const std::string expected(live_key.view());
  CHECK(b.key_of(id) == expected);
  CHECK(a.key_of(id) == expected);
  // Everything p's keys partition holds is applied: still the live key on both.
  REQUIRE(b.replica->catch_up(p, 30s).has_value());
  REQUIRE(a.replica->catch_up(p, 30s).has_value());
  CHECK(b.key_of(id) == expected);
  CHECK(a.key_of(id) == expected);
}

TEST_CASE("a server whose master key is not the group's is refused, naming the setting") {
  test::group_setup g("keys");
  auto first_log = g.open();
  auto second_log = g.open();
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  key_server first(*first_log, dir.sub("first"), master);  // publishes the check
  auto ks = projections::key_store::open(dir.sub("second"), events::secret_key::random());
  REQUIRE(ks.has_value());
  auto refused = projections::key_replica::start(*second_log->keys(), *ks.value(),
                                                 events::secret_key::random());
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == events::errc::bad_config);
  CHECK(refused.error().message().find("--master-key-file") != std::string::npos);
  CHECK(refused.error().message().find("CASELINE_MASTER_KEY") != std::string::npos);
  // With the group's master key the same server joins.
  ks.value().reset();
  key_server second(*second_log, dir.sub("second-again"), master);
  CHECK(second.replica->failure() == std::nullopt);
}

namespace {

// The check records keys partition 0 holds now, in order (the value of each).
std::vector<std::string> check_records(events::event_log& log) {
  auto* keys = log.keys();
  auto end = keys->end_offset(events::partition_id{0});
  REQUIRE(end.has_value());
  std::mutex mu;
  std::vector<std::string> found;
  std::int64_t next = 0;
  auto sub = keys->subscribe({}, [&](std::span<const events::log_record> batch) {
    std::lock_guard lk(mu);
    for (const auto& r : batch) {
      if (r.position.partition() != 0) continue;
      if (r.key.starts_with(projections::key_replica::check_id)) found.push_back(r.value);
      next = r.position.offset() + 1;
    }
    return success();
  });
  REQUIRE(sub.has_value());
  REQUIRE(test::eventually(
      [&] {
        std::lock_guard lk(mu);
        return next >= end.value()();
      },
      30s));
  sub.value().reset();
  return found;
}

}  // namespace

TEST_CASE("two first servers with different master keys at the same instant: one is refused") {
  // A race: both must publish a check record for the test to say anything; a round in which one
  // saw the other's record first is the ordinary case (tested above) and is run again.
  test::temp_dir dir;
  bool raced = false;
  for (int round = 0; round < 6 && !raced; ++round) {
    test::group_setup g("keys");
    auto a_log = g.open();
    auto b_log = g.open();
    const std::array masters{events::secret_key::random(), events::secret_key::random()};
    std::array<std::unique_ptr<projections::key_store>, 2> stores;
    for (std::size_t i = 0; i < 2; ++i) {
      auto ks = projections::key_store::open(dir.sub(fmt::format("r{}-{}", round, i)), masters[i]);
      REQUIRE(ks.has_value());
      stores[i] = std::move(ks).value();
    }
    std::array<events::event_log*, 2> logs{a_log.get(), b_log.get()};
    std::array<std::optional<result<std::unique_ptr<projections::key_replica>>>, 2> started;
    std::latch go(2);
    {
      std::array<std::jthread, 2> servers;
      for (std::size_t i = 0; i < 2; ++i)
        servers[i] = std::jthread([&, i] {
          go.arrive_and_wait();
          started[i] = projections::key_replica::start(*logs[i]->keys(), *stores[i], masters[i]);
        });
    }
    const auto checks = check_records(*a_log);
    REQUIRE_FALSE(checks.empty());
    raced = checks.size() >= 2;
    MESSAGE("round " << round << ": " << checks.size() << " check record(s) in partition 0");
    // Exactly one of the two starts; the other is refused, naming the setting.
    REQUIRE(started[0].has_value());
    REQUIRE(started[1].has_value());
    const bool a_ok = started[0]->has_value();
    const bool b_ok = started[1]->has_value();
    CHECK(a_ok != b_ok);
    for (auto& s : started)
      if (!s->has_value()) {
        CHECK(s->error().code == events::errc::bad_config);
        CHECK(s->error().message().find("--master-key-file") != std::string::npos);
        CHECK(s->error().message().find("CASELINE_MASTER_KEY") != std::string::npos);
      }
    // The one that started holds the first check record: a server started later with its master
    // key joins, one with the other's is refused, whatever compaction keeps.
    const std::size_t winner = a_ok ? 0 : 1;
    // It is the first check record of partition 0 that counts, not the last.
    auto kept = stores[winner]->stored_record(projections::key_replica::check_id);
    REQUIRE(kept.has_value());
    CHECK(kept.value() == checks.front());
    started[0].reset();
    started[1].reset();
    auto c_log = g.open();
    key_server later(*c_log, dir.sub(fmt::format("r{}-later", round)), masters[winner]);
    CHECK(later.replica->failure() == std::nullopt);
    auto ks =
        projections::key_store::open(dir.sub(fmt::format("r{}-other", round)), masters[1 - winner]);
    REQUIRE(ks.has_value());
    auto refused =
        projections::key_replica::start(*c_log->keys(), *ks.value(), masters[1 - winner]);
    CHECK_FALSE(refused.has_value());
  }
  CHECK_MESSAGE(raced, "no round had both servers publish a check record");
}

TEST_CASE("a new owner publishes the keys it held before the group shared them, never a shred") {
  test::two_servers s("keys");  // A owns every partition; B is no member

  // Keys made while the server kept its keys to itself: a case's, the registry's, a staged
  // recording's, and a case's that another server shredded meanwhile (a tombstone in the topic).
  const case_id before{"410100-20261201-000011"};
  const case_id registry{projections::personal_data::registry_key};
  const case_id staging{"recording:00aa"};
  const case_id shredded{"410100-20261201-000012"};
  {
    auto ks = projections::key_store::open(s.dir.sub("a"), s.master);
    REQUIRE(ks.has_value());
    for (const auto& id : {before, registry, staging, shredded})
      REQUIRE(ks.value()->create(id).has_value());
  }
  std::promise<result<events::log_position>> tombstone;
  s.a_log->keys()->commit(events::partition_for(shredded(), partitions), shredded(), "",
                          [&](const result<events::log_position>& r) { tombstone.set_value(r); });
  REQUIRE(tombstone.get_future().get().has_value());

  key_server a(*s.a_log, s.dir.sub("a"), s.master);
  const auto local = a.key_of(before);
  REQUIRE(local.has_value());
  CHECK_FALSE(a.key_of(shredded).has_value());  // the topic's tombstone applied
  std::size_t published = 0;
  for (std::int32_t p = 0; p < partitions; ++p) {
    auto n = a.replica->publish_local(events::partition_id{p}, 30s);
    REQUIRE_MESSAGE(n.has_value(), (n ? std::string{} : n.error().message()));
    published += n.value();
  }
  CHECK(published == 2);  // the case's and the registry's
  // Idempotent: nothing more the second time.
  for (std::int32_t p = 0; p < partitions; ++p) {
    auto n = a.replica->take_over(events::partition_id{p}, 30s);
    REQUIRE(n.has_value());
    auto again = a.replica->publish_local(events::partition_id{p}, 30s);
    REQUIRE(again.has_value());
    CHECK(again.value() == 0);
  }

  // Another server (a fresh store) reads them; the shredded key and the staged one it never has.
  auto b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master);
  CHECK(b->key_of(before) == local);
  CHECK(b->key_of(registry) == a.key_of(registry));
  CHECK_FALSE(b->key_of(shredded).has_value());
  CHECK_FALSE(b->key_of(staging).has_value());

  // A key B holds after its first start that the topic does not name (as a shredded key is when
  // B was away past the tombstone's retention and compaction removed both records): B never
  // publishes it.
  b.reset();
  const case_id gone{"410100-20261201-000013"};
  {
    auto ks = projections::key_store::open(s.dir.sub("b"), s.master);
    REQUIRE(ks.has_value());
    REQUIRE(ks.value()->create(gone).has_value());  // local only: no replica
  }
  b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master);
  for (std::int32_t p = 0; p < partitions; ++p) {
    auto n = b->replica->publish_local(events::partition_id{p}, 30s);
    REQUIRE(n.has_value());
    CHECK(n.value() == 0);
  }
  auto c_log = s.group.open();
  key_server c(*c_log, s.dir.sub("c"), s.master);
  CHECK_FALSE(c.key_of(gone).has_value());
}

namespace {

// A key made in `dir`'s store with no replica: what a server finds there after an absence when
// the topic shredded that key and compaction removed both its records.
void key_the_topic_no_longer_names(const std::string& dir, const events::secret_key& master,
                                   const case_id& id) {
  auto ks = projections::key_store::open(dir, master);
  REQUIRE(ks.has_value());
  REQUIRE(ks.value()->create(id).has_value());
}

// A key_replication that breaks a shred between its two steps: the tombstone is committed
// through the real replica (or, `commit_it` false, not at all), then the shred is told it
// failed, as a server that died there would never learn otherwise.
class broken_after_tombstone final : public projections::key_replication {
 public:
  broken_after_tombstone(projections::key_replica& real, bool commit_it)
      : real_(real), commit_it_(commit_it) {}
  bool commit(const case_id& id, const std::string& wrapped,
              std::function<void(result<void>)>& done) override {
    std::function<void(result<void>)> then = [done = std::move(done)](result<void> r) {
      if (!r) return done(std::move(r).error());
      done(make_error(events::errc::outcome_unknown, "the server died after the tombstone"));
    };
    if (commit_it_) return real_.commit(id, wrapped, then);
    then(make_error(events::errc::unavailable, "the server died before the tombstone"));
    return true;
  }
  result<void> await(const case_id& id, std::chrono::steady_clock::time_point deadline) override {
    return real_.await(id, deadline);
  }

 private:
  projections::key_replica& real_;
  bool commit_it_;
};

}  // namespace

TEST_CASE(
    "a server back after the tombstones' retention drops the keys the topic no longer names; "
    "after a short absence it reads nothing from the start") {
  test::two_servers s("keys");  // A owns every partition; B is no member
  // The topic's own setting: 7 days.
  auto retention = s.b_log->keys()->tombstone_retention(30s);
  REQUIRE_MESSAGE(retention.has_value(), (retention ? std::string{} : retention.error().message()));
  CHECK(retention.value() == std::chrono::milliseconds{604'800'000});

  projections::manual_clock clock(timestamp{1'800'000'000'000});
  projections::away_options away{.server_clock = &clock, .away = std::chrono::hours(1)};
  key_server a(*s.a_log, s.dir.sub("a"), s.master);
  const case_id live{"410100-20261201-000021"};
  REQUIRE(a.keys->create(live).has_value());
  // B's first start: it holds a key from before the group (marked, to be published: kept).
  const case_id before{"410100-20261201-000022"};
  key_the_topic_no_longer_names(s.dir.sub("b"), s.master, before);
  auto b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master, away);
  CHECK(b->replica->reconciled() == std::nullopt);
  CHECK(b->key_of(live).has_value());
  const case_id staging{"recording:00bb"};  // never in the topic: kept
  REQUIRE(b->keys->create(staging).has_value());
  b.reset();  // records when it was last up to date

  const case_id gone{"410100-20261201-000023"};
  key_the_topic_no_longer_names(s.dir.sub("b"), s.master, gone);

  SUBCASE("a short absence: no read from the start, nothing dropped") {
    clock.set(timestamp{clock.now().ms + 60'000});
    b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master, away);
    CHECK(b->replica->reconciled() == std::nullopt);
    CHECK(b->key_of(gone).has_value());
  }
  SUBCASE("longer than the threshold given: the shredded key is dropped, the others kept") {
    clock.set(timestamp{clock.now().ms + std::int64_t{2} * 3'600'000});
    b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master, away);
    CHECK(b->replica->reconciled() == std::size_t{1});
    CHECK_FALSE(b->key_of(gone).has_value());
    CHECK(b->key_of(live) == a.key_of(live));
    CHECK(b->key_of(before).has_value());
    CHECK(b->key_of(staging).has_value());
    // Up to date again: the next start reads nothing from the start.
    b.reset();
    b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master, away);
    CHECK(b->replica->reconciled() == std::nullopt);
  }
  SUBCASE("with the topic's delete.retention.ms: 1 day is short, 8 days is too long") {
    away.away.reset();
    clock.set(timestamp{clock.now().ms + std::int64_t{24} * 3'600'000});
    b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master, away);
    CHECK(b->replica->reconciled() == std::nullopt);
    b.reset();
    clock.set(timestamp{clock.now().ms + std::int64_t{8} * 24 * 3'600'000});
    b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master, away);
    CHECK(b->replica->reconciled() == std::size_t{1});
    CHECK_FALSE(b->key_of(gone).has_value());
  }
}

TEST_CASE("a shred broken between its tombstone and its local delete leaves the key on no server") {
  test::two_servers s("keys");  // A owns every partition; B is no member
  auto a = std::make_unique<key_server>(*s.a_log, s.dir.sub("a"), s.master);
  key_server b(*s.b_log, s.dir.sub("b"), s.master);
  const case_id id{"410100-20261201-000031"};
  REQUIRE(a->keys->create(id).has_value());
  REQUIRE(b.key_of(id).has_value());

  SUBCASE("before the tombstone: the key stays on every server, and a retry shreds it") {
    broken_after_tombstone broken(*a->replica, false);
    a->keys->replicate(&broken);
    CHECK_FALSE(a->keys->shred({id}).has_value());
    a->keys->replicate(a->replica.get());
    CHECK(a->key_of(id).has_value());  // not deleted here while the others keep it
    REQUIRE(b.replica->catch_up(events::partition_for(id(), partitions), 30s).has_value());
    CHECK(b.key_of(id).has_value());
    REQUIRE(a->keys->shred({id}).has_value());
    CHECK_FALSE(a->key_of(id).has_value());
    CHECK(test::eventually([&] { return !b.key_of(id).has_value(); }, 30s));
  }
  SUBCASE("after the tombstone: every server applies it, the one that broke too") {
    broken_after_tombstone broken(*a->replica, true);
    a->keys->replicate(&broken);
    CHECK_FALSE(a->keys->shred({id}).has_value());
    a->keys->replicate(a->replica.get());
    CHECK(test::eventually([&] { return !b.key_of(id).has_value(); }, 30s));
    CHECK(test::eventually([&] { return !a->key_of(id).has_value(); }, 30s));
    // And after a restart from its own offsets.
    a.reset();
    a = std::make_unique<key_server>(*s.a_log, s.dir.sub("a"), s.master);
    CHECK_FALSE(a->key_of(id).has_value());
  }
}

TEST_CASE("a handover reads the keys partition from its start only for a key marked unpublished") {
  test::two_servers s("keys");  // A owns every partition; B is no member
  const case_id marked{"410100-20261201-000041"};
  key_the_topic_no_longer_names(s.dir.sub("a"), s.master, marked);  // from before the group
  key_server a(*s.a_log, s.dir.sub("a"), s.master);
  // A key in every partition: reading one from its start takes time.
  std::set<std::int32_t> filled;
  for (int n = 50; filled.size() < static_cast<std::size_t>(partitions); ++n) {
    const case_id id{fmt::format("410100-20261201-{:06}", n)};
    REQUIRE(a.keys->create(id).has_value());
    filled.insert(events::partition_for(id(), partitions)());
  }
  const auto q = events::partition_for(marked(), partitions);
  // With no time at all to read a partition: only one with a marked key needs to.
  for (std::int32_t x = 0; x < partitions; ++x) {
    const events::partition_id px{x};
    auto n = a.replica->publish_local(px, 0ms);
    if (px == q) {
      REQUIRE_FALSE(n.has_value());
      CHECK(n.error().code == events::errc::timed_out);
    } else {
      REQUIRE_MESSAGE(n.has_value(), (n ? std::string{} : n.error().message()));
      CHECK(n.value() == 0);
    }
  }
  auto published = a.replica->publish_local(q, 30s);
  REQUIRE(published.has_value());
  CHECK(published.value() == 1);
  auto again = a.replica->publish_local(q, 0ms);  // unmarked now: no read
  REQUIRE(again.has_value());
  CHECK(again.value() == 0);
}
