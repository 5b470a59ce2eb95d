#include "events/embedded_event_log.h"

#include <filesystem>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "tests/events/event_log_conformance.h"

namespace caseline::events::testing {

// A fresh RocksDB folder per test case, removed afterwards; open() reopens the same folder.
struct embedded_backend {
  static constexpr std::int32_t partitions = 4;

  embedded_backend() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() /
          ("caseline-embedded-log-" + std::to_string(rd()) + "-" + std::to_string(rd()));
  }
  ~embedded_backend() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);  // best effort: a leftover temp folder is harmless
  }
  embedded_backend(const embedded_backend&) = delete;
  embedded_backend& operator=(const embedded_backend&) = delete;

  result<std::unique_ptr<event_log>> open() {
    return open_embedded_log({.dir = dir.string(), .partitions = partitions});
  }

  std::filesystem::path dir;
};

}  // namespace caseline::events::testing

TEST_CASE_TEMPLATE_INVOKE(event_log_conformance, caseline::events::testing::embedded_backend);
