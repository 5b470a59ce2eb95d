#include "core/time.h"

#include <cstdio>
#include <string>
#include <string_view>

namespace caseline {

namespace {

// Howard Hinnant's days_from_civil / civil_from_days algorithms (public domain).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int y, unsigned m) {
  static constexpr unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

}  // namespace

std::int64_t civil_date::days_since_epoch() const { return days_from_civil(year, month, day); }

civil_date civil_date::from_days_since_epoch(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return civil_date{static_cast<int>(y + (m <= 2)), m, d};
}

unsigned civil_date::iso_weekday() const {
  // 1970-01-01 was a Thursday (ISO index 3).
  const std::int64_t d = days_since_epoch();
  return static_cast<unsigned>(((d % 7) + 7 + 3) % 7);
}

bool civil_date::valid() const {
  return month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

namespace {
// `v` as exactly `width` decimal digits (zero-padded) at `p`; returns the end. The date and time
// forms below are written on every row of every list the API answers: snprintf's format parsing
// and locale were the larger part of a page's cost.
char* put_digits(char* p, unsigned v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// YYYY-MM-DD at `p` (10 characters) for a year of 0-9999; returns the end.
char* put_date(char* p, const civil_date& d) {
  p = put_digits(p, static_cast<unsigned>(d.year), 4);
  *p++ = '-';
  p = put_digits(p, d.month, 2);
  *p++ = '-';
  return put_digits(p, d.day, 2);
}

bool four_digit_form(const civil_date& d) {
  return d.year >= 0 && d.year <= 9999 && d.month <= 99 && d.day <= 99;
}
}  // namespace

std::string civil_date::to_string() const {
  if (!four_digit_form(*this)) {  // outside the dates a case holds: printf's form
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year, month, day);
    return buf;
  }
  std::string out(10, '\0');
  put_date(out.data(), *this);
  return out;
}

std::optional<civil_date> civil_date::parse(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  if (!all_digits(t.substr(0, 4)) || !all_digits(t.substr(5, 2)) || !all_digits(t.substr(8, 2)))
    return std::nullopt;
  civil_date d{to_int(t.substr(0, 4)), static_cast<unsigned>(to_int(t.substr(5, 2))),
               static_cast<unsigned>(to_int(t.substr(8, 2)))};
  if (!d.valid()) return std::nullopt;
  return d;
}

civil_date shanghai_date(timestamp t) {
  return civil_date::from_days_since_epoch(floor_div(t.ms + shanghai_utc_offset_ms, 86'400'000));
}

timestamp shanghai_start_of_day(civil_date d) {
  return timestamp{d.days_since_epoch() * 86'400'000 - shanghai_utc_offset_ms};
}

std::string to_rfc3339_shanghai(timestamp t) {
  const std::int64_t local = t.ms + shanghai_utc_offset_ms;
  const std::int64_t day = floor_div(local, 86'400'000);
  const std::int64_t in_day = local - day * 86'400'000;
  const civil_date d = civil_date::from_days_since_epoch(day);
  const auto ms = static_cast<unsigned>(in_day);
  if (!four_digit_form(d)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%sT%02u:%02u:%02u.%03u+08:00", d.to_string().c_str(),
                  ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
    return buf;
  }
  std::string out(29, '\0');  // YYYY-MM-DDTHH:MM:SS.fff+08:00
  char* p = put_date(out.data(), d);
  *p++ = 'T';
  p = put_digits(p, ms / 3'600'000, 2);
  *p++ = ':';
  p = put_digits(p, ms / 60'000 % 60, 2);
  *p++ = ':';
  p = put_digits(p, ms / 1000 % 60, 2);
  *p++ = '.';
  p = put_digits(p, ms % 1000, 3);
  for (const char c : std::string_view("+08:00")) *p++ = c;
  return out;
}

std::optional<timestamp> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z|(+|-)HH:MM
  if (t.size() < 20) return std::nullopt;
  auto date = civil_date::parse(t.substr(0, 10));
  if (!date || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':') return std::nullopt;
  if (!all_digits(t.substr(11, 2)) || !all_digits(t.substr(14, 2)) || !all_digits(t.substr(17, 2)))
    return std::nullopt;
  const int hh = to_int(t.substr(11, 2)), mm = to_int(t.substr(14, 2)), ss = to_int(t.substr(17, 2));
  if (hh > 23 || mm > 59 || ss > 59) return std::nullopt;
  std::size_t pos = 19;
  int millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    const std::size_t n = pos - start;
    if (n == 0 || n > 9) return std::nullopt;
    std::string_view frac = t.substr(start, n < 3 ? n : 3);
    millis = to_int(frac);
    for (std::size_t i = frac.size(); i < 3; ++i) millis *= 10;
  }
  std::int64_t offset_ms = 0;
  std::string_view zone = t.substr(pos);
  if (zone == "Z" || zone == "z") {
    offset_ms = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
             all_digits(zone.substr(1, 2)) && all_digits(zone.substr(4, 2))) {
    const int oh = to_int(zone.substr(1, 2)), om = to_int(zone.substr(4, 2));
    if (oh > 23 || om > 59) return std::nullopt;
    offset_ms = (oh * 60LL + om) * 60'000 * (zone[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  const std::int64_t local = date->days_since_epoch() * 86'400'000 +
                             ((hh * 60LL + mm) * 60 + ss) * 1000 + millis;
  return timestamp{local - offset_ms};
}

}  // namespace caseline
