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
