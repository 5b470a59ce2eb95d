#include "tests/support/environment.h"

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include <doctest/doctest.h>
#include <unistd.h>

namespace caseline::test {

std::string source_dir() {
  const char* dir = std::getenv("CASELINE_SOURCE_DIR");
  if (dir == nullptr || *dir == '\0')
    throw std::runtime_error("CASELINE_SOURCE_DIR is not set (ctest sets it)");
  return dir;
}

std::string kafka_bootstrap() {
  const char* b = std::getenv("KAFKA_BOOTSTRAP");
  if (b == nullptr || *b == '\0') {
    FAIL(
        "KAFKA_BOOTSTRAP is not set: the Kafka tests need a real broker; run them as "
        "tools/kafka-local.sh run -- ctest --test-dir <build> -L kafka");
  }
  return b;
}

std::string unique_topic(const std::string& prefix) {
  static std::atomic<int> n{0};
  std::random_device rd;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000) + "-" +
         std::to_string(n++);
}

}  // namespace caseline::test
