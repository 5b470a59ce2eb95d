#pragma once

#include <string>

namespace caseline::test {

// What the test command gives every test: ctest sets CASELINE_SOURCE_DIR (tests/CMakeLists.txt),
// and `tools/kafka-local.sh run` exports KAFKA_BOOTSTRAP. A missing one fails the test: a test
// is never skipped for want of it.

// The source tree (its calendar data, its scripts). Throws when unset: it is also read
// outside a test case (a calendar loaded once for a whole binary).
std::string source_dir();
// The Kafka bootstrap address of the real broker the test command started; fails the test when
// it is missing.
std::string kafka_bootstrap();
// A topic name no other test or test case uses.
std::string unique_topic(const std::string& prefix);

}  // namespace caseline::test
