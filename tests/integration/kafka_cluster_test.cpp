// The log on a real three-broker KRaft cluster (tools/kafka-local.sh start --brokers 3, private to
// this test, on ports of its own beside the single broker of the test command): the topic gets
// replication factor 3 and min.insync.replicas 2, and with one broker stopped appends (acks=all)
// still succeed on the two in-sync replicas; once it is back every acknowledged record is in the
// log exactly once, where its acknowledgement said.
#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "events/detail/rdkafka_admin.h"
#include "events/detail/rdkafka_handle.h"
#include "events/kafka_event_log.h"
#include "tests/events/event_log_test_support.h"
#include "tests/support/environment.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace caseline::events;
using namespace std::chrono_literals;

namespace {

constexpr std::int32_t partitions = 3;

// One command of the script on the running cluster (stop-broker, start-broker, stop); fails the
// test with its output unless it exits 0 in time.
void script(const std::string& state, std::vector<std::string> args) {
  std::vector<std::string> argv{"/bin/bash", test::source_dir() + "/tools/kafka-local.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--state", state});
  test::child_process p(argv);
  const auto rc = p.wait(120s);
  INFO(p.output());
  REQUIRE(rc == 0);
}

// The topic as the cluster's admin API describes it.
detail::topic_description describe(const std::string& bootstrap, const std::string& topic) {
  auto conf = detail::make_conf({{"bootstrap.servers", bootstrap}});
  REQUIRE(conf.has_value());
  auto rk = detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  REQUIRE(rk.has_value());
  auto d = detail::describe_topic(rk.value().get(), topic, 20s);
  REQUIRE_MESSAGE(d.has_value(), (d ? std::string{} : d.error().message()));
  return std::move(d).value();
}

// Whether every partition of `topic` has exactly `n` in-sync replicas.
bool in_sync_everywhere(const std::string& bootstrap, const std::string& topic, std::size_t n) {
  const auto d = describe(bootstrap, topic);
  return !d.partitions.empty() &&
         std::all_of(d.partitions.begin(), d.partitions.end(),
                     [n](const detail::partition_replicas& p) { return p.in_sync.size() == n; });
}

// Appends `count` records keyed over a few case ids and requires every one acknowledged.
void append_acknowledged(event_log& log, testing::ack_collector& acks, const std::string& phase,
                         int count) {
  const std::size_t before = acks.size();
  for (int i = 0; i < count; ++i) {
    acks.append(log, "410100-20261201-" + std::to_string(100 + i % 7),
                phase + "-" + std::to_string(i));
  }
  const auto all = acks.wait_for(before + static_cast<std::size_t>(count), 60s);
  for (std::size_t i = before; i < all.size(); ++i) {
    INFO(all[i].value);
    REQUIRE_MESSAGE(all[i].outcome.has_value(),
                    (all[i].outcome ? std::string{} : all[i].outcome.error().message()));
  }
}

}  // namespace

TEST_CASE(
    "on three brokers, appends acknowledged while one is stopped are in the log exactly once") {
  test::temp_dir dir;
  const std::string state = dir.sub("kafka");
  test::child_process cluster({"/bin/bash", test::source_dir() + "/tools/kafka-local.sh", "start",
                               "--brokers", "3", "--state", state});
  auto line = cluster.wait_for_line("KAFKA_BOOTSTRAP=", 180s);
  REQUIRE_MESSAGE(line.has_value(), "the cluster did not start: " << cluster.output());
  // Whatever fails below, the launcher's own account (a broker it saw exit) goes with it.
  INFO("the cluster's launcher printed: " << cluster.output());
  const std::string bootstrap = line->substr(line->find('=') + 1);
  REQUIRE(std::count(bootstrap.begin(), bootstrap.end(), ',') == 2);

  kafka_log_options o;
  o.brokers = bootstrap;
  o.topic = test::unique_topic("cluster");
  o.partitions = partitions;
  o.client_id = "caseline-cluster-test";
  auto opened = open_kafka_log(o);
  REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message()));
  auto& log = *opened.value();

  {
    const auto d = describe(bootstrap, o.topic);
    CHECK(d.brokers == 3);
    REQUIRE(d.partitions.size() == static_cast<std::size_t>(partitions));
    for (const auto& p : d.partitions) {
      CHECK(p.replicas.size() == 3);
      CHECK(p.leader >= 0);
    }
    CHECK(d.configs.at("min.insync.replicas") == "2");
  }

  testing::ack_collector acks;
  append_acknowledged(log, acks, "three", 40);

  script(state, {"stop-broker", "2"});
  // A controlled shutdown takes the broker out of every ISR: what follows is acknowledged by two.
  CHECK(test::eventually([&] { return in_sync_everywhere(bootstrap, o.topic, 2); }, 30s));
  append_acknowledged(log, acks, "two", 40);
  std::size_t read_while_down = 0;
  for (std::int32_t p = 0; p < partitions; ++p) {
    read_while_down += testing::read_all(log, partition_id{p}).size();
  }
  CHECK(read_while_down == acks.size());

  script(state, {"start-broker", "2"});
  append_acknowledged(log, acks, "back", 40);
  CHECK(test::eventually([&] { return in_sync_everywhere(bootstrap, o.topic, 3); }, 60s));

  // Every acknowledged record once, at the position its acknowledgement gave; nothing else.
  std::map<std::pair<std::int32_t, std::int64_t>, std::pair<std::string, std::string>> in_log;
  for (std::int32_t p = 0; p < partitions; ++p) {
    for (const auto& r : testing::read_all(log, partition_id{p})) {
      in_log[{p, r.position.offset()}] = {r.key, r.value};
    }
  }
  const auto all = acks.wait_for(120);
  CHECK(in_log.size() == all.size());
  std::map<std::string, int> seen;
  for (const auto& r : in_log) ++seen[r.second.second];
  for (const auto& a : all) {
    const log_position at = a.outcome.value();
    const auto it = in_log.find({at.partition(), at.offset()});
    INFO(a.value);
    REQUIRE(it != in_log.end());
    CHECK(it->second == std::make_pair(a.key, a.value));
    CHECK(seen[a.value] == 1);
  }

  opened.value().reset();
  script(state, {"stop"});
  CHECK(cluster.wait(60s).has_value());
}
