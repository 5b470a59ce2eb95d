// Replay on the real broker: a case written through the real write side to a Kafka topic, with a
// checkpoint, replays and verifies through the same library function `caseline replay --kafka`
// runs. Needs KAFKA_BOOTSTRAP (tools/kafka-local.sh run); fails without it, never skips.
#include "tools/replay_cmd.h"

#include <sstream>

#include <doctest/doctest.h>

#include "events/checkpoint.h"
#include "tests/audit/audit_test_support.h"
#include "tests/events/kafka_test_support.h"
#include "tools/audit_cmd.h"

using namespace caseline;
using namespace caseline::audit_testing;

TEST_CASE("a case written to Kafka replays with its chain and checkpoint verified") {
  const std::string brokers = events::testing::kafka_bootstrap();
  const std::string topic = events::testing::unique_topic("caseline.audit");
  temp_dir dir;
  std::string id;
  {
    auto log = events::open_kafka_log(events::testing::kafka_options(topic, 3));
    REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
    history h(dir.path(), 3, std::move(log).value());
    id = h.one_case("the bus skipped the stop", "2025-03-03");
    events::checkpointer cp(h.log());
    auto t = cp.tick();
    REQUIRE_MESSAGE(t.has_value(), (t ? std::string{} : t.error().message()));
    CHECK(t.value().written == 1);
    h.catch_up();  // the projection skips the checkpoint on Kafka too
    REQUIRE_FALSE(h.runner().failure().has_value());
  }

  tools::replay_options o;
  o.store.data_dir = dir.path().string();
  o.store.kafka = brokers;
  o.store.topic = topic;
  o.store.partitions = 3;
  o.case_id = id;
  o.verify = true;
  o.now = local("2025-03-20T12:00");
  std::ostringstream out, err;
  CHECK(tools::run_replay(o, out, err) == 0);
  INFO(out.str() << err.str());
  CHECK(out.str().find("verified: 4 event(s), sequence 1..4") != std::string::npos);
  CHECK(out.str().find("1 checkpoint(s) of partition") != std::string::npos);

  o.as_of = "2025-03-03T11:30:00+08:00";
  auto log = tools::open_log(o.store);
  REQUIRE(log.has_value());
  auto r = tools::replay_case(*log.value(), o);
  REQUIRE(r.has_value());
  CHECK_FALSE(r.value().problem.has_value());
  CHECK(r.value().events.size() == 2);
  CHECK(r.value().state.status == core::case_status::classified);
}
