#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caseline {

// An instant, in milliseconds since the Unix epoch (UTC). Core never reads a clock: every
// instant it sees was passed in.
struct timestamp {
  std::int64_t ms{0};

  // clang-tidy 14 takes the synthesized comparison with 0 for a null pointer constant.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend constexpr auto operator<=>(const timestamp&, const timestamp&) = default;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(ms);
  }
};

// A calendar date (proleptic Gregorian), as the regulation counts days: in Asia/Shanghai.
struct civil_date {
  int year{1970};
  unsigned month{1};
  unsigned day{1};

  // clang-tidy 14 takes the synthesized comparison with 0 for a null pointer constant.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend constexpr auto operator<=>(const civil_date&, const civil_date&) = default;

  // Days since 1970-01-01.
  std::int64_t days_since_epoch() const;
  static civil_date from_days_since_epoch(std::int64_t days);
  // 0 = Monday ... 6 = Sunday (ISO 8601).
  unsigned iso_weekday() const;
  civil_date plus_days(std::int64_t n) const { return from_days_since_epoch(days_since_epoch() + n); }
  bool valid() const;

  std::string to_string() const;                                   // YYYY-MM-DD
  static std::optional<civil_date> parse(std::string_view text);   // strict YYYY-MM-DD

  template <class Archive>
  void serialize(Archive& ar) {
    ar(year, month, day);
  }
};

// China Standard Time: UTC+8 all year (no daylight saving since 1991), so the conversion is
// arithmetic and needs no time-zone database.
inline constexpr std::int64_t shanghai_utc_offset_ms = 8LL * 3600 * 1000;

civil_date shanghai_date(timestamp t);
// 00:00 Asia/Shanghai of the given date.
timestamp shanghai_start_of_day(civil_date d);
// The end of a day as a deadline: 24:00 Asia/Shanghai, i.e. the start of the next day. An
// instant before it is on time.
inline timestamp shanghai_end_of_day(civil_date d) { return shanghai_start_of_day(d.plus_days(1)); }

// RFC 3339 with the +08:00 offset, e.g. 2025-09-26T10:00:00.000+08:00.
std::string to_rfc3339_shanghai(timestamp t);
// Accepts RFC 3339 with 'Z' or a numeric offset, seconds optional fraction up to milliseconds.
std::optional<timestamp> parse_rfc3339(std::string_view text);

inline timestamp from_chrono(std::chrono::system_clock::time_point tp) {
  return timestamp{std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count()};
}

}  // namespace caseline
