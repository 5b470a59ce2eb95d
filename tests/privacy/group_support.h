#pragma once

// What the tests of a group's side topics (the keys, the call audio) share: a Kafka log in a
// consumer group on the broker the test command starts, a member that takes every partition,
// two servers' logs with their folder and master key, and the live owner that fences a writer.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "events/detail/rdkafka_group.h"
#include "events/detail/rdkafka_handle.h"
#include "events/event_log.h"
#include "events/field_crypto.h"
#include "events/kafka_event_log.h"
#include "tests/events/kafka_test_support.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace caseline::test {

inline constexpr std::int32_t group_partitions = 4;

// A listener that takes what the group gives: the stores are what these tests look at.
class accepting_listener final : public events::ownership_listener {
 public:
  void partition_assigned(events::partition_id) override {}
  void partition_revoked(events::partition_id, bool) override {}
};

// Logs of one topic and one group, `name` making both unique.
struct group_setup {
  events::kafka_log_options options;
  explicit group_setup(const std::string& name) {
    options = events::testing::kafka_options(unique_topic(name), group_partitions);
    options.group = unique_topic(name + "-group");
    options.advertise = "http://127.0.0.1:8081";
    options.session_timeout = std::chrono::milliseconds(6000);  // the broker's minimum
  }
  std::unique_ptr<events::event_log> open() const {
    auto log = events::open_kafka_log(options);
    REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
    REQUIRE(log.value()->keys() != nullptr);
    REQUIRE(log.value()->audio() != nullptr);
    return std::move(log).value();
  }
};

// `log` joins the group and owns every partition.
inline void own_everything(events::event_log& log, events::ownership_listener& l) {
  REQUIRE(log.join(l));
  REQUIRE(
      eventually([&] { return log.owned().size() == group_partitions; }, std::chrono::seconds(60)));
}

// Two servers' logs of one group: A's a member that owns every partition, B's open but not a
// member (it writes nothing, it reads the side topics); a folder for their stores and the
// group's master key. The servers a test makes over them are declared after it, so they go
// first.
struct two_servers {
  group_setup group;
  accepting_listener listener;  // outlives A's membership
  std::unique_ptr<events::event_log> a_log;
  std::unique_ptr<events::event_log> b_log;
  temp_dir dir;
  const events::secret_key master = events::secret_key::random();

  explicit two_servers(const std::string& name) : group(name), a_log(group.open()) {
    own_everything(*a_log, listener);
    b_log = group.open();
  }
};

// A newer producer of partition p's transactional.id, as a new owner's writer is: made, it has
// fenced the group's writer of p.
inline events::detail::handle_ptr live_owner_of(const group_setup& g, events::partition_id p) {
  auto conf =
      events::detail::make_conf({{"bootstrap.servers", events::testing::kafka_bootstrap()},
                                 {"transactional.id", events::detail::kafka_group::transactional_id(
                                                          g.options.group, g.options.topic, p)},
                                 {"enable.idempotence", "true"},
                                 {"acks", "all"}});
  REQUIRE(conf.has_value());
  auto live = events::detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  REQUIRE(live.has_value());
  REQUIRE_FALSE(events::detail::rdkafka_ptr<rd_kafka_error_t>{
      rd_kafka_init_transactions(live.value().get(), 60000)});
  return std::move(live).value();
}

}  // namespace caseline::test
