#include "tools/bench_produce.h"

#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "tests/events/kafka_test_support.h"

using namespace caseline;
using namespace caseline::events::testing;

TEST_CASE("bench produce sends the records to the real broker and prints its figures") {
  tools::bench_produce_options o;
  o.brokers = kafka_bootstrap();
  o.topic = unique_topic("bench");
  o.partitions = 4;
  o.max_records = 2000;
  o.duration = std::chrono::seconds{60};
  o.record_size = 600;
  std::ostringstream out;
  REQUIRE(tools::run_bench_produce(o, out) == 0);
  INFO(out.str());
  CHECK(out.str().find("records/s") != std::string::npos);
  CHECK(out.str().find("\n2000  2000  0  ") != std::string::npos);  // produced, ok, failed

  // What it wrote is in the topic, as the log sees it.
  auto log = events::open_kafka_log(kafka_options(o.topic, o.partitions));
  REQUIRE(log.has_value());
  std::int64_t total = 0;
  for (std::int32_t p = 0; p < o.partitions; ++p) {
    total += log.value()->end_offset(events::partition_id{p}).value()();
  }
  CHECK(total == 2000);
}

TEST_CASE("bench produce refuses options it cannot run with") {
  tools::bench_produce_options o;  // no brokers
  std::ostringstream out;
  CHECK(tools::run_bench_produce(o, out) == 2);
}
