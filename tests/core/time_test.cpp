#include "core/time.h"

#include <doctest/doctest.h>

using caseline::civil_date;
using caseline::timestamp;

TEST_CASE("civil dates round-trip through days since the epoch") {
  for (std::int64_t d = -1000; d < 30000; d += 7) {
    const civil_date c = civil_date::from_days_since_epoch(d);
    CHECK(c.valid());
    CHECK(c.days_since_epoch() == d);
  }
  CHECK(civil_date{2026, 11, 29}.iso_weekday() == 6);  // a Sunday
  CHECK(civil_date{2024, 2, 29}.valid());
  CHECK_FALSE(civil_date{2025, 2, 29}.valid());
}

TEST_CASE("Shanghai dates change at 16:00 UTC") {
  const auto before = caseline::parse_rfc3339("2026-09-30T15:59:59Z");
  const auto after = caseline::parse_rfc3339("2026-09-30T16:00:00Z");
  REQUIRE(before);
  REQUIRE(after);
  CHECK(caseline::shanghai_date(*before) == civil_date{2026, 9, 30});
  CHECK(caseline::shanghai_date(*after) == civil_date{2026, 10, 1});
  CHECK(caseline::shanghai_start_of_day(civil_date{2026, 10, 1}) == *after);
}

TEST_CASE("RFC 3339 parsing is strict and formatting is in +08:00") {
  const auto t = caseline::parse_rfc3339("2025-09-26T10:00:00+08:00");
  REQUIRE(t);
  CHECK(caseline::to_rfc3339_shanghai(*t) == "2025-09-26T10:00:00.000+08:00");
  CHECK(caseline::parse_rfc3339("2025-09-26T10:00:00.5Z")->ms % 1000 == 500);
  CHECK_FALSE(caseline::parse_rfc3339("2025-09-26 10:00:00Z"));
  CHECK_FALSE(caseline::parse_rfc3339("2025-09-26T25:00:00Z"));
  CHECK_FALSE(caseline::parse_rfc3339("2025-02-30T10:00:00Z"));
  CHECK_FALSE(caseline::parse_rfc3339("2025-09-26T10:00:00"));
  CHECK(civil_date::parse("2026-13-01") == std::nullopt);
  CHECK(civil_date::parse("2026-01-01")->to_string() == "2026-01-01");
}

TEST_CASE("dates and times are written with every digit padded, as printf's %04d and %02u") {
  CHECK(civil_date{987, 1, 9}.to_string() == "0987-01-09");
  CHECK(civil_date{2026, 12, 31}.to_string() == "2026-12-31");
  CHECK(civil_date{-1, 1, 1}.to_string() == "-001-01-01");  // outside 0-9999: printf's form
  const auto last = caseline::parse_rfc3339("2026-12-31T23:59:59.999+08:00");
  REQUIRE(last);
  CHECK(caseline::to_rfc3339_shanghai(*last) == "2026-12-31T23:59:59.999+08:00");
  CHECK(caseline::to_rfc3339_shanghai(timestamp{0}) == "1970-01-01T08:00:00.000+08:00");
  CHECK(caseline::to_rfc3339_shanghai(timestamp{-28'800'000 + 7}) ==
        "1970-01-01T00:00:00.007+08:00");
  for (std::int64_t d = -1000; d < 30000; d += 13) {
    const civil_date c = civil_date::from_days_since_epoch(d);
    CHECK(civil_date::parse(c.to_string()) == c);
  }
}
