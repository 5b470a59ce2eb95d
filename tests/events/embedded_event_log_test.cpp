#include "events/embedded_event_log.h"

#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "events/errc.h"
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

TEST_CASE("the embedded log's stored layout reads back what it writes and names what is corrupt") {
  using namespace caseline::events::embedded_layout;
  const std::string k = record_key{3, 0x0102030405}.encode();
  CHECK(k == std::string("\0\0\0\3\0\0\0\1\2\3\4\5", 12));
  const auto back = record_key::decode(k);
  REQUIRE(back.has_value());
  CHECK(back->partition == 3);
  CHECK(back->offset == 0x0102030405);
  CHECK_FALSE(record_key::decode(k.substr(0, 11)).has_value());
  CHECK_FALSE(record_key::decode(k + "x").has_value());
  // Keys order by partition, then offset.
  CHECK(record_key{0, 256}.encode() < record_key{1, 0}.encode());
  CHECK(record_key{1, 255}.encode() < record_key{1, 256}.encode());

  const std::string v = record_value{"C-1", "bytes"}.encode();
  CHECK(v == std::string("\0\0\0\3C-1bytes", 12));
  const auto r = record_value::decode(v);
  REQUIRE(r.has_value());
  CHECK(r.value().key == "C-1");
  CHECK(r.value().bytes == "bytes");
  CHECK(record_value::decode(std::string_view("\0\0\0", 3)).error().code ==
        caseline::events::errc::corrupt_record);
  const auto truncated = record_value::decode(std::string("\0\0\0\11C-1", 7));
  REQUIRE_FALSE(truncated.has_value());
  CHECK(truncated.error().detail.find("truncated") != std::string::npos);
}
