#pragma once

// The Kafka side of the event-log tests: the broker comes from KAFKA_BOOTSTRAP, which
// tools/kafka-local.sh run exports. Without it the Kafka tests fail: they are never skipped.

#include <cstdlib>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "events/kafka_event_log.h"

namespace caseline::events::testing {

inline std::string kafka_bootstrap() {
  const char* b = std::getenv("KAFKA_BOOTSTRAP");
  if (b == nullptr || *b == '\0') {
    FAIL("KAFKA_BOOTSTRAP is not set: the Kafka tests need a real broker; run them as "
         "tools/kafka-local.sh run -- ctest --test-dir <build> -L kafka");
  }
  return b;
}

// A topic name no other test case uses.
inline std::string unique_topic(const std::string& prefix) {
  static std::random_device rd;
  return prefix + "." + std::to_string(rd()) + "." + std::to_string(rd());
}

inline kafka_log_options kafka_options(std::string topic, std::int32_t partitions) {
  kafka_log_options o;
  o.brokers = kafka_bootstrap();
  o.topic = std::move(topic);
  o.partitions = partitions;
  o.client_id = "caseline-test";
  return o;
}

}  // namespace caseline::events::testing
