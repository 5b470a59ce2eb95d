#include "events/detail/rdkafka_producer.h"

#include <librdkafka/rdkafka_mock.h>

#include <doctest/doctest.h>

#include "events/errc.h"
#include "tests/events/event_log_test_support.h"

// Faults a real single broker cannot produce on demand (a broker going down mid-produce, a fatal
// idempotent-producer error), injected with librdkafka's built-in mock cluster. The real-broker
// behaviour is covered by the conformance suite.

using namespace caseline;
using namespace caseline::events;
using namespace caseline::events::testing;

namespace {

constexpr auto delivery_timeout = std::chrono::milliseconds{3000};
const std::string topic = "cases.events";

// The same producer settings as the Kafka log, on an in-process mock cluster of one broker.
std::unique_ptr<detail::rdkafka_producer> mock_producer() {
  detail::properties props{
      {"test.mock.num.brokers", "1"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"socket.nagle.disable", "true"},
      {"message.timeout.ms", std::to_string(delivery_timeout.count())},
  };
  auto p = detail::rdkafka_producer::open(topic, props, std::chrono::seconds{5});
  REQUIRE_MESSAGE(p.has_value(), (p ? std::string{} : p.error().message()));
  rd_kafka_mock_cluster_t* mc = rd_kafka_handle_mock_cluster(p.value()->native_handle());
  REQUIRE(mc != nullptr);
  // The mock may have auto-created it already (its default is 4 partitions as well).
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, topic.c_str(), 4, 1);
  REQUIRE((err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS));
  return std::move(p).value();
}

void produce(detail::rdkafka_producer& p, ack_collector& acks, int i) {
  const std::string key = "case-" + std::to_string(i);
  p.produce(partition_id{i % 4}, key, "value", acks.handler(key, "value"));
}

}  // namespace

TEST_CASE("appends to a cluster that went down fail with unavailable in bounded time") {
  auto producer = mock_producer();
  ack_collector warmup;
  produce(*producer, warmup, 0);
  const auto first = warmup.wait_for(1, std::chrono::seconds{30});
  REQUIRE_MESSAGE(first[0].outcome.has_value(), first[0].outcome.error().message());

  rd_kafka_mock_cluster_t* mc = rd_kafka_handle_mock_cluster(producer->native_handle());
  REQUIRE(rd_kafka_mock_broker_set_down(mc, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);

  ack_collector acks;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) produce(*producer, acks, i);
  // The delivery timeout plus librdkafka's 1 s timeout scan and some slack for a busy machine.
  const auto got = acks.wait_for(20, delivery_timeout + std::chrono::seconds{10});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < delivery_timeout + std::chrono::seconds{10});
  for (const auto& a : got) {
    REQUIRE_FALSE(a.outcome.has_value());  // never reported as written
    INFO(a.outcome.error().message());
    CHECK(a.outcome.error().code == errc::unavailable);
    CHECK(is_retriable(a.outcome.error().code));
  }
}

TEST_CASE("a fatal producer error fails the unacknowledged appends and a new producer takes over") {
  auto producer = mock_producer();
  rd_kafka_mock_cluster_t* mc = rd_kafka_handle_mock_cluster(producer->native_handle());
  // Records stay queued while the broker is down, so that they are in flight at the fatal error.
  REQUIRE(rd_kafka_mock_broker_set_down(mc, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  ack_collector acks;
  for (int i = 0; i < 5; ++i) produce(*producer, acks, i);
  REQUIRE(rd_kafka_test_fatal_error(producer->native_handle(),
                                    RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                    "injected by the test") == RD_KAFKA_RESP_ERR_NO_ERROR);
  // Well before the delivery timeout: fatal errors do not wait for it.
  const auto got = acks.wait_for(5, delivery_timeout);
  for (const auto& a : got) {
    REQUIRE_FALSE(a.outcome.has_value());
    INFO(a.outcome.error().message());
    CHECK(a.outcome.error().code == errc::fatal);
  }
  REQUIRE(eventually([&] { return producer->clients_created() == 2; }, std::chrono::seconds{10}));

  // The fresh client (its own mock cluster, up) acknowledges again.
  ack_collector after;
  produce(*producer, after, 1);
  const auto ok = after.wait_for(1, std::chrono::seconds{30});
  REQUIRE_MESSAGE(ok[0].outcome.has_value(), ok[0].outcome.error().message());
}

TEST_CASE("flush waits for the reports of earlier appends, and times out when they cannot come") {
  auto producer = mock_producer();
  ack_collector acks;
  for (int i = 0; i < 10; ++i) produce(*producer, acks, i);
  REQUIRE(producer->flush(std::chrono::seconds{30}).has_value());
  CHECK(acks.size() == 10);

  rd_kafka_mock_cluster_t* mc = rd_kafka_handle_mock_cluster(producer->native_handle());
  REQUIRE(rd_kafka_mock_broker_set_down(mc, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  ack_collector stuck;
  produce(*producer, stuck, 1);
  auto r = producer->flush(std::chrono::milliseconds{200});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::timed_out);
  stuck.wait_for(1, delivery_timeout + std::chrono::seconds{10});  // then it does fail
}
