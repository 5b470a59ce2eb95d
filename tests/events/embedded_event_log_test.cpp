#include "events/embedded_event_log.h"

#include <string>

#include <doctest/doctest.h>

#include "tests/events/event_log_conformance.h"
#include "tests/support/temp_dir.h"

namespace caseline::events::testing {

// A fresh RocksDB folder per test case, removed afterwards; open() reopens the same folder.
struct embedded_backend {
  static constexpr std::int32_t partitions = 4;

  result<std::unique_ptr<event_log>> open() {
    return open_embedded_log({.dir = dir.sub("log"), .partitions = partitions});
  }

  test::temp_dir dir;
};

}  // namespace caseline::events::testing

TEST_CASE_TEMPLATE_INVOKE(event_log_conformance, caseline::events::testing::embedded_backend);
