#pragma once

// What the tests of a group's side topics (the keys, the call audio) share: a Kafka log in a
// consumer group on the broker the test command starts, and a member that takes every partition.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "events/event_log.h"
#include "events/kafka_event_log.h"
#include "tests/events/kafka_test_support.h"
#include "tests/support/eventually.h"

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

}  // namespace caseline::test
