// A group's data keys shared through the keys topic (projections/key_replica.h), on the real
// broker the test command starts and real RocksDB key stores in temporary folders: two servers'
// key stores on one keys topic, shredding across them, a fenced writer's key, a wrong master key.
#include "projections/key_replica.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "events/detail/rdkafka_group.h"
#include "events/detail/rdkafka_handle.h"
#include "events/errc.h"
#include "events/kafka_event_log.h"
#include "events/key_log.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "projections/registry_projection.h"
#include "tests/events/kafka_test_support.h"
#include "tests/privacy/group_support.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

constexpr std::int32_t partitions = test::group_partitions;
using test::accepting_listener;
using test::own_everything;

// One server's key store and its replica of the keys topic.
struct key_server {
  std::unique_ptr<projections::key_store> keys;
  std::unique_ptr<projections::key_replica> replica;

  key_server(events::event_log& log, const std::string& dir, const events::secret_key& master) {
    auto ks = projections::key_store::open(dir, master);
    REQUIRE_MESSAGE(ks.has_value(), (ks ? std::string{} : ks.error().message()));
    keys = std::move(ks).value();
    auto r = projections::key_replica::start(*log.keys(), *keys, master);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message()));
    replica = std::move(r).value();
  }
  ~key_server() {
    replica.reset();  // before the store it writes to
    keys.reset();
  }
  std::optional<std::string> key_of(const case_id& id) {
    auto k = keys->get(id);
    REQUIRE_MESSAGE(k.has_value(), (k ? std::string{} : k.error().message()));
    if (!k.value()) return std::nullopt;
    return std::string(k.value()->view());
  }
};

}  // namespace

TEST_CASE(
    "a key committed on one server of a group is read on another, and its shred deletes "
    "it there for good") {
  test::group_setup g("keys");
  accepting_listener listener;
  auto a_log = g.open();
  own_everything(*a_log, listener);
  auto b_log = g.open();  // not a member: it writes nothing, it reads the keys
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  key_server a(*a_log, dir.sub("a"), master);
  auto b = std::make_unique<key_server>(*b_log, dir.sub("b"), master);

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
    b = std::make_unique<key_server>(*b_log, dir.sub("b"), master);
    CHECK(b->keys->applied_offsets(partitions).value() == before.value());
    CHECK_FALSE(b->key_of(id).has_value());
    // A retried shred is harmless.
    CHECK(a.keys->shred({id}).has_value());
  }
}

TEST_CASE("a fenced writer's key is never applied and never replaces the live owner's") {
  test::group_setup g("keys");
  accepting_listener listener;
  auto a_log = g.open();
  own_everything(*a_log, listener);
  auto b_log = g.open();
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  key_server a(*a_log, dir.sub("a"), master);
  key_server b(*b_log, dir.sub("b"), master);

  const case_id id{"410100-20261201-000007"};
  const auto p = events::partition_for(id(), partitions);
  // The live owner of p (a newer producer of p's transactional.id, as a new owner's writer is)
  // fences A's writer, then commits its key for the case id it allocated.
  auto conf =
      events::detail::make_conf({{"bootstrap.servers", events::testing::kafka_bootstrap()},
                                 {"transactional.id", events::detail::kafka_group::transactional_id(
                                                          g.options.group, g.options.topic, p)},
                                 {"enable.idempotence", "true"},
                                 {"acks", "all"}});
  REQUIRE(conf.has_value());
  auto live = events::detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  REQUIRE(live.has_value());
  using error_ptr = events::detail::rdkafka_ptr<rd_kafka_error_t>;
  REQUIRE_FALSE(error_ptr{rd_kafka_init_transactions(live.value().get(), 60000)});
  REQUIRE_FALSE(error_ptr{rd_kafka_begin_transaction(live.value().get())});
  const auto live_key = events::secret_key::random();
  const std::string wrapped = a.keys->wrap(id, live_key);
  const std::string topic = events::keys_topic_of(g.options.topic);
  events::detail::topic_ptr rkt{rd_kafka_topic_new(live.value().get(), topic.c_str(), nullptr)};
  REQUIRE(rkt);
  REQUIRE(rd_kafka_produce(rkt.get(), p(), RD_KAFKA_MSG_F_COPY, const_cast<char*>(wrapped.data()),
                           wrapped.size(), id().data(), id().size(), nullptr) == 0);
  REQUIRE_FALSE(error_ptr{rd_kafka_commit_transaction(live.value().get(), 60000)});

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
