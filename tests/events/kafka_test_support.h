#pragma once

// The Kafka side of the event-log tests: the broker comes from KAFKA_BOOTSTRAP, which
// tools/kafka-local.sh run exports. Without it the Kafka tests fail: they are never skipped.

#include <cstdlib>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "events/kafka_event_log.h"
#include "tests/support/environment.h"

namespace caseline::events::testing {

using test::kafka_bootstrap;
using test::unique_topic;

inline kafka_log_options kafka_options(std::string topic, std::int32_t partitions) {
  kafka_log_options o;
  o.brokers = kafka_bootstrap();
  o.topic = std::move(topic);
  o.partitions = partitions;
  o.client_id = "caseline-test";
  return o;
}

}  // namespace caseline::events::testing
