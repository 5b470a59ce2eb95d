#include "events/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <string>

#include <doctest/doctest.h>

#include "events/burst_source.h"
#include "events/detail/rdkafka_handle.h"
#include "events/errc.h"
#include "tests/events/event_log_conformance.h"
#include "tests/events/event_log_test_support.h"
#include "tests/events/kafka_test_support.h"
#include "tests/support/eventually.h"

namespace caseline::events::testing {

// A new topic per test case on the real broker; open() is a new client of that topic.
struct kafka_backend {
  static constexpr std::int32_t partitions = 4;

  kafka_backend() : options(kafka_options(unique_topic("conformance"), partitions)) {}

  result<std::unique_ptr<event_log>> open() { return open_kafka_log(options); }

  kafka_log_options options;
};

namespace {

// Creates `topic` behind the log's back, as an operator might have, with one config set.
void create_topic_with(const std::string& topic, int partitions,
                       const std::map<std::string, std::string>& configs) {
  auto conf = detail::make_conf({{"bootstrap.servers", kafka_bootstrap()}});
  REQUIRE(conf.has_value());
  auto rk = detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  REQUIRE(rk.has_value());
  char errstr[256];
  detail::rdkafka_ptr<rd_kafka_NewTopic_t> nt{
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr)};
  REQUIRE(nt);
  for (const auto& [name, value] : configs) {
    REQUIRE(rd_kafka_NewTopic_set_config(nt.get(), name.c_str(), value.c_str()) == 0);
  }
  detail::queue_ptr q{rd_kafka_queue_new(rk.value().get())};
  rd_kafka_NewTopic_t* topics[] = {nt.get()};
  rd_kafka_CreateTopics(rk.value().get(), topics, 1, nullptr, q.get());
  detail::event_ptr ev{rd_kafka_queue_poll(q.get(), 30000)};
  REQUIRE(ev);
  REQUIRE(rd_kafka_event_error(ev.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
  REQUIRE(n == 1);
  REQUIRE(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

void require_refused(const kafka_log_options& o, const std::string& naming) {
  auto log = open_kafka_log(o);
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code == errc::bad_config);
  INFO(log.error().message());
  CHECK(log.error().detail.find(naming) != std::string::npos);
}

}  // namespace

}  // namespace caseline::events::testing

TEST_CASE_TEMPLATE_INVOKE(event_log_conformance, caseline::events::testing::kafka_backend);

using namespace caseline::events;
using namespace caseline::events::testing;

TEST_CASE("settings that would lose acknowledged events are refused at open, naming them") {
  auto o = kafka_options(unique_topic("refused"), 2);
  SUBCASE("acks other than all") {
    o.properties["acks"] = "1";
    require_refused(o, "acks");
  }
  SUBCASE("the same through its librdkafka alias") {
    o.properties["request.required.acks"] = "0";
    require_refused(o, "request.required.acks");
  }
  SUBCASE("a producer that is not idempotent") {
    o.properties["enable.idempotence"] = "false";
    require_refused(o, "enable.idempotence");
  }
  SUBCASE("an infinite delivery timeout, under which appends hang") {
    o.properties["message.timeout.ms"] = "0";
    require_refused(o, "message.timeout.ms");
  }
  SUBCASE("readers that would jump over records") {
    o.properties["auto.offset.reset"] = "latest";
    require_refused(o, "auto.offset.reset");
  }
}

TEST_CASE("an existing topic is checked: partition count and unlimited retention") {
  SUBCASE("a topic the log created is accepted again with the same partition count") {
    auto o = kafka_options(unique_topic("existing"), 3);
    REQUIRE(open_kafka_log(o).has_value());
    auto again = open_kafka_log(o);
    REQUIRE_MESSAGE(again.has_value(), (again ? std::string{} : again.error().message()));
    CHECK(again.value()->partition_count() == 3);
  }
  SUBCASE("another partition count is refused") {
    auto o = kafka_options(unique_topic("existing"), 3);
    REQUIRE(open_kafka_log(o).has_value());
    o.partitions = 5;
    require_refused(o, "partitions");
  }
  SUBCASE("a finite retention.ms is refused") {
    auto o = kafka_options(unique_topic("retention"), 2);
    create_topic_with(o.topic, 2, {{"retention.ms", "86400000"}, {"retention.bytes", "-1"}});
    require_refused(o, "retention.ms");
  }
  SUBCASE("a finite retention.bytes is refused") {
    auto o = kafka_options(unique_topic("retention"), 2);
    create_topic_with(o.topic, 2, {{"retention.ms", "-1"}, {"retention.bytes", "1073741824"}});
    require_refused(o, "retention.bytes");
  }
  SUBCASE("a compacted topic is refused") {
    auto o = kafka_options(unique_topic("compacted"), 2);
    create_topic_with(o.topic, 2,
                      {{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "compact"}});
    require_refused(o, "cleanup.policy");
  }
  SUBCASE("unclean leader election is refused") {
    auto o = kafka_options(unique_topic("unclean"), 2);
    create_topic_with(o.topic, 2,
                      {{"retention.ms", "-1"}, {"retention.bytes", "-1"},
                       {"unclean.leader.election.enable", "true"}});
    require_refused(o, "unclean.leader.election.enable");
  }
}

TEST_CASE("a broker that cannot be reached fails open in bounded time") {
  kafka_log_options o;
  o.brokers = "127.0.0.1:1";  // nothing listens on port 1
  o.topic = unique_topic("unreachable");
  o.timeouts.open = std::chrono::seconds{3};
  const auto start = std::chrono::steady_clock::now();
  auto log = open_kafka_log(o);
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code == errc::unavailable);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{20});
}

// Replay and audit read ranges (events/log_reader.h scan_partition, the rebuild, the
// checkpointer). A range read must return as soon as it holds the records up to the end of the
// partition (or `max`), and a read elsewhere in the partition must not wait for a fetch left
// waiting at the old position. A read's requests queue behind the reader's fetch in flight,
// which the broker holds for fetch.wait.max.ms (librdkafka's default: 500 ms) at the end of the
// partition: paid once per call, that is >= 250 s for 500 records read one per call and >= 25 s
// for 50 scattered reads (measured before the fix: 258 s and 49 s; after: 1.4 s for the three
// subcases together). The bounds sit far below the first and far above the second, so a slow
// shared machine does not fail them and a wait per call does.
// Alone on Kafka the producer asks the claim's lease (the write gate) right before it queues a
// record, and once more after. Closed before: the record is refused. Closed meanwhile (the
// process may have stopped between the two asks, and would send the record on waking, after a
// replacement's records): what is queued is purged. Neither is written, and each says so.
TEST_CASE("a write gate refuses a record before it is queued and purges one queued as it closed") {
  auto o = kafka_options(unique_topic("gate"), 1);
  // A record waits a second for others before it is sent: the purge, a few microseconds after
  // the queueing, comes first.
  o.timeouts.linger = 1000ms;
  auto log = open_kafka_log(o);
  REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
  event_log& l = *log.value();
  std::atomic<int> asked{0};
  std::atomic<int> open_asks{0};  // the asks answered true, then false
  l.set_write_gate([&] { return asked.fetch_add(1) < open_asks.load(); });
  const auto append_one = [&](const std::string& value) {
    ack_collector acks;
    acks.append(l, "case-1", value);
    return acks.wait_for(1).front().outcome;
  };

  SUBCASE("closed before the queueing") {
    const auto r = append_one("refused");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::not_owner);
    CHECK(asked.load() == 1);
  }
  SUBCASE("closed between the two asks") {
    open_asks = 1;
    const auto r = append_one("purged");
    REQUIRE_FALSE(r.has_value());
    CHECK_MESSAGE(r.error().code != errc::outcome_unknown, r.error().message());
    CHECK(asked.load() == 2);
  }
  REQUIRE(l.flush(30s).has_value());
  auto end = l.end_offset(partition_id{0});
  REQUIRE(end.has_value());
  CHECK(end.value()() == 0);

  // Open: written as without a gate.
  asked = 0;
  open_asks = 2;
  const auto written = append_one("written");
  REQUIRE_MESSAGE(written.has_value(), (written ? std::string{} : written.error().message()));
  CHECK(written.value().offset() == 0);
  CHECK(asked.load() == 2);
}

TEST_CASE("a range read does not wait a poll interval per record, nor a read elsewhere") {
  constexpr int records = 500;
  auto o = kafka_options(unique_topic("range-read"), 2);
  auto log = open_kafka_log(o);
  REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
  event_log& l = *log.value();
  ack_collector acks;
  // One key: every record in one partition.
  for (int i = 0; i < records; ++i) acks.append(l, "case-1", "record " + std::to_string(i));
  const auto acked = acks.wait_for(records);
  for (const auto& a : acked) REQUIRE(a.outcome.has_value());
  const partition_id p = acked.front().outcome.value().partition;

  SUBCASE("one read of the whole range") {
    const auto start = std::chrono::steady_clock::now();
    auto got = l.read(p, log_offset{0}, 10'000, 0ms);
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(got.has_value());
    CHECK(got.value().size() == records);
    CHECK(took < 5s);
  }
  SUBCASE("the partition record by record, as a scan does in small batches") {
    const auto start = std::chrono::steady_clock::now();
    std::int64_t next = 0;
    while (next < records) {
      auto got = l.read(p, log_offset{next}, 1, 0ms);
      REQUIRE(got.has_value());
      REQUIRE(got.value().size() == 1);
      CHECK(got.value().front().position.offset() == next);
      ++next;
    }
    CHECK(std::chrono::steady_clock::now() - start < 60s);
  }
  SUBCASE("scattered reads, each at another offset") {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) {
      const std::int64_t at = (i * 97) % records;  // jumps back and forth
      auto got = l.read(p, log_offset{at}, 1, 0ms);
      REQUIRE(got.has_value());
      REQUIRE(got.value().size() == 1);
      CHECK(got.value().front().position.offset() == at);
      CHECK(got.value().front().value == "record " + std::to_string(at));
    }
    CHECK(std::chrono::steady_clock::now() - start < 10s);
  }
}

TEST_CASE("a burst subscription gets what a poll fetched of several partitions as one batch") {
  using namespace caseline::events;
  using namespace caseline::events::testing;
  using namespace std::chrono_literals;
  auto log = open_kafka_log(kafka_options(unique_topic("bursts"), 4));
  REQUIRE(log.has_value());
  ack_collector acks;
  std::size_t appended = 0;
  const auto append_round = [&](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i, ++appended)
      acks.append(*log.value(), "410100-20260101-" + std::to_string(100000 + appended),
                  "record " + std::to_string(appended));
    for (const auto& a : acks.wait_for(appended)) REQUIRE(a.outcome.has_value());
  };
  append_round(200);  // before either subscription: fetched together
  auto* source = bursts_of(*log.value());
  REQUIRE(source != nullptr);
  batch_collector bursts;
  batch_collector runs;
  auto burst_sub = source->subscribe_bursts({}, bursts.handler());
  REQUIRE(burst_sub.has_value());
  auto run_sub = log.value()->subscribe({}, runs.handler());
  REQUIRE(run_sub.has_value());
  CHECK(caseline::test::eventually(
      [&] {
        bursts.wait_for(appended);
        if (bursts.mixed_batch()) return true;
        append_round(64);
        return false;
      },
      30s));
  const auto records = bursts.wait_for(appended);
  runs.wait_for(appended);
  CHECK_FALSE(burst_sub.value()->failure().has_value());
  burst_sub.value().reset();
  // The plain subscription still hands over one partition per batch.
  CHECK_FALSE(runs.mixed_batch());
  // Every record once, in offset order per partition, as the log holds it.
  std::map<std::int32_t, std::vector<log_record>> delivered;
  for (const auto& r : records) delivered[r.position.partition()].push_back(r);
  std::size_t total = 0;
  for (std::int32_t p = 0; p < 4; ++p) {
    const auto stored = read_all(*log.value(), partition_id{p});
    const auto& got = delivered[p];
    REQUIRE(got.size() == stored.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].position.offset() == stored[i].position.offset());
      CHECK(got[i].key == stored[i].key);
      CHECK(got[i].value == stored[i].value);
    }
    total += got.size();
  }
  CHECK(total == appended);
}
