#include "events/detail/kafka_reader.h"

#include <librdkafka/rdkafka_mock.h>

#include <future>

#include <doctest/doctest.h>

#include "events/detail/rdkafka_producer.h"
#include "events/errc.h"
#include "tests/events/event_log_test_support.h"

// The Kafka log's reader (read and end_offset) when one partition's leader is slow, down or
// moved: faults the real broker cannot make for one partition alone, injected with librdkafka's
// mock cluster (three brokers, partition 0 led by broker 1, partition 1 by broker 2). The
// reader's behaviour on the real broker is covered by the conformance suite and the group test.

using namespace caseline;
using namespace caseline::events;
using namespace caseline::events::testing;

namespace {

using clock = std::chrono::steady_clock;

const std::string topic = "cases.events";
constexpr auto request = std::chrono::milliseconds{2000};

// A mock cluster of three brokers, owned by a client handle of its own.
struct mock_cluster {
  detail::handle_ptr owner;
  rd_kafka_mock_cluster_t* mc{nullptr};
  std::string bootstraps;

  mock_cluster() {
    auto conf = detail::make_conf({});
    REQUIRE(conf.has_value());
    auto rk = detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
    REQUIRE(rk.has_value());
    owner = std::move(rk).value();
    mc = rd_kafka_mock_cluster_new(owner.get(), 3);
    REQUIRE(mc != nullptr);
    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    REQUIRE(rd_kafka_mock_topic_create(mc, topic.c_str(), 2, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(mc, topic.c_str(), 0, 1) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(mc, topic.c_str(), 1, 2) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;
  ~mock_cluster() { rd_kafka_mock_cluster_destroy(mc); }
};

// `n` records in each partition, acknowledged.
void fill(const mock_cluster& cluster, int n) {
  auto producer = detail::rdkafka_producer::open(topic,
                                                 {{"bootstrap.servers", cluster.bootstraps},
                                                  {"enable.idempotence", "true"},
                                                  {"acks", "all"},
                                                  {"linger.ms", "5"}},
                                                 std::chrono::seconds{5});
  REQUIRE(producer.has_value());
  ack_collector acks;
  for (int i = 0; i < 2 * n; ++i) {
    const std::string key = "case-" + std::to_string(i);
    producer.value()->produce(partition_id{i % 2}, key, "value", acks.handler(key, "value"));
  }
  for (const auto& a : acks.wait_for(2 * static_cast<std::size_t>(n), std::chrono::seconds{30})) {
    REQUIRE_MESSAGE(a.outcome.has_value(), a.outcome.error().message());
  }
}

// The reader as the Kafka log opens it (read_committed, explicit offsets, no group).
std::unique_ptr<detail::kafka_reader> open_reader(const mock_cluster& cluster) {
  auto reader = detail::kafka_reader::open({.topic = topic,
                                            .partitions = 2,
                                            .consumer = {{"bootstrap.servers", cluster.bootstraps},
                                                         {"group.id", "caseline.reader.test"},
                                                         {"enable.auto.commit", "false"},
                                                         {"enable.auto.offset.store", "false"},
                                                         {"auto.offset.reset", "error"},
                                                         {"isolation.level", "read_committed"},
                                                         {"enable.partition.eof", "true"},
                                                         {"fetch.wait.max.ms", "10"}},
                                            .request = request});
  REQUIRE_MESSAGE(reader.has_value(), (reader ? std::string{} : reader.error().message()));
  return std::move(reader).value();
}

// Partition 0's end offset and records, each answered within its caller's deadline.
void partition_0_answers(detail::kafka_reader& reader, int n) {
  const auto asked = clock::now();
  auto end = reader.end_offset(partition_id{0});
  REQUIRE_MESSAGE(end.has_value(), end.error().message());
  CHECK(end.value()() == n);
  CHECK(clock::now() - asked < request + std::chrono::milliseconds{500});

  const auto read_at = clock::now();
  auto got = reader.read(partition_id{0}, log_offset{0}, 100, std::chrono::milliseconds{0});
  REQUIRE_MESSAGE(got.has_value(), got.error().message());
  REQUIRE(got.value().size() == static_cast<std::size_t>(n));
  CHECK(got.value().back().position.offset() == n - 1);
  CHECK(clock::now() - read_at < request + std::chrono::milliseconds{500});
}

}  // namespace

TEST_CASE("a partition whose leader is slow or down holds up no read of another partition") {
  mock_cluster cluster;
  constexpr int n = 5;
  fill(cluster, n);
  auto reader = open_reader(cluster);
  // Both partitions answer while every broker does.
  for (int p = 0; p < 2; ++p) {
    auto end = reader->end_offset(partition_id{p});
    REQUIRE_MESSAGE(end.has_value(), end.error().message());
    CHECK(end.value()() == n);
  }

  SUBCASE("slow: broker 2 answers after 30 s") {
    REQUIRE(rd_kafka_mock_broker_set_rtt(cluster.mc, 2, 30'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  SUBCASE("down: broker 2 refuses connections") {
    REQUIRE(rd_kafka_mock_broker_set_down(cluster.mc, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Partition 1's callers give up at their deadline while its call stays in librdkafka.
  const auto asked = clock::now();
  auto stuck = reader->end_offset(partition_id{1});
  REQUIRE_FALSE(stuck.has_value());
  CHECK(is_retriable(stuck.error().code));
  CHECK(clock::now() - asked < request + std::chrono::milliseconds{500});
  auto stuck_read = std::async(std::launch::async, [&] {
    return reader->read(partition_id{1}, log_offset{0}, 100, std::chrono::milliseconds{0});
  });

  // Meanwhile partition 0 answers, every time.
  for (int i = 0; i < 3; ++i) partition_0_answers(*reader, n);
  CHECK_FALSE(stuck_read.get().has_value());
}

TEST_CASE("an end offset finds the new leader of a partition whose leader moved") {
  mock_cluster cluster;
  constexpr int n = 3;
  fill(cluster, n);
  auto reader = open_reader(cluster);
  auto before = reader->end_offset(partition_id{1});
  REQUIRE_MESSAGE(before.has_value(), before.error().message());
  CHECK(before.value()() == n);

  SUBCASE("broker 2 stays up and answers \"not leader\": within the request timeout") {
    // Leadership of partition 1 moves from broker 2 to broker 3, as when broker 2 restarts; the
    // reader's metadata still names broker 2.
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, topic.c_str(), 1, 3) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < 3; ++i) {
      const auto asked = clock::now();
      auto after = reader->end_offset(partition_id{1});
      REQUIRE_MESSAGE(after.has_value(), after.error().message());
      CHECK(after.value()() == n);
      CHECK(clock::now() - asked < request + std::chrono::milliseconds{500});
    }
  }

  SUBCASE("broker 2 goes down: once the stuck call is given up") {
    // Broker 3 takes over partition 1. The request already bound for broker 2 stays stuck in
    // librdkafka (retried until broker 2 is back); a new lane asks broker 3.
    REQUIRE(rd_kafka_mock_broker_set_down(cluster.mc, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, topic.c_str(), 1, 3) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    std::optional<log_offset> after;
    const auto asked = clock::now();
    REQUIRE(eventually(
        [&] {
          auto r = reader->end_offset(partition_id{1});
          if (r) after = r.value();
          return r.has_value();
        },
        std::chrono::seconds{30}));
    CHECK(after.value()() == n);
    // The stuck call outlives its caller's deadline by one request timeout, then the new lane's
    // consumer answers within one more.
    CHECK(clock::now() - asked < 4 * request);
    partition_0_answers(*reader, n);
  }
}
