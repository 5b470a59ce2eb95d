#include "tools/calendar_cmd.h"

#include <charconv>
#include <optional>
#include <string>

#include "core/errc.h"

namespace caseline::tools {

namespace {

constexpr int exit_ok = 0;
constexpr int exit_unanswerable = 1;
constexpr int exit_usage = 2;

// Parses a decimal in [lo, hi]; nullopt otherwise.
std::optional<int> parse_int(std::string_view text, int lo, int hi) {
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<civil_date> parse_date(std::string_view text, std::ostream& err) {
  auto d = civil_date::parse(text);
  if (!d) err << "not a date (YYYY-MM-DD): " << text << '\n';
  return d;
}

int report(const error& e, std::ostream& err) {
  err << e.message() << '\n';
  return e.code == core::errc::no_calendar_for_year ? exit_unanswerable : exit_usage;
}

// "official", or "provisional" for a year without its notice (weekends only beyond the data).
std::string_view status_word(const core::calendar& cal, int year) {
  return cal.status(year) == core::year_status::official ? "official" : "provisional";
}

// JSON string escaping for the names and sources of the data file (UTF-8 passes through).
void write_json_string(std::ostream& out, std::string_view s) {
  out << '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out << '\\' << c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char hex[] = "0123456789abcdef";
      out << "\\u00" << hex[(c >> 4) & 0xf] << hex[c & 0xf];
    } else {
      out << c;
    }
  }
  out << '"';
}

}  // namespace

int calendar_is_workday(const core::calendar& cal, std::string_view date, std::ostream& out,
                        std::ostream& err) {
  const auto d = parse_date(date, err);
  if (!d) return exit_usage;
  auto kind = cal.kind(*d);
  if (!kind) return report(kind.error(), err);
  const bool work = kind.value() == core::day_kind::workday ||
                    kind.value() == core::day_kind::makeup_workday;
  out << d->to_string() << ' ' << core::to_string(kind.value()) << ' ' << (work ? "yes" : "no")
      << ' ' << status_word(cal, d->year) << '\n';
  return exit_ok;
}

int calendar_add(const core::calendar& cal, std::string_view date, std::string_view n,
                 std::ostream& out, std::ostream& err) {
  const auto d = parse_date(date, err);
  if (!d) return exit_usage;
  const auto count = parse_int(n, 1, 3660);
  if (!count) {
    err << "not a working-day count (1..3660): " << n << '\n';
    return exit_usage;
  }
  auto due = cal.add_working_days(*d, working_days{*count});
  if (!due) return report(due.error(), err);
  out << due.value().to_string() << ' '
      << (cal.official_between(*d, due.value()) ? "official" : "provisional") << '\n';
  return exit_ok;
}

int calendar_show(const core::calendar& cal, std::string_view year, bool json, std::ostream& out,
                  std::ostream& err) {
  const auto y = parse_int(year, 1, 9999);
  if (!y) {
    err << "not a year: " << year << '\n';
    return exit_usage;
  }
  // Check the whole year first so that nothing is printed for a date that cannot be answered.
  if (auto first = cal.kind(civil_date{*y, 1, 1}); !first) return report(first.error(), err);
  if (json) {
    out << "{\"year\":" << *y << ",\"status\":\"" << core::to_string(cal.status(*y))
        << "\",\"source\":";
    write_json_string(out, cal.source(*y));
    out << ",\"days\":[";
  } else {
    out << "# " << *y << ' ' << core::to_string(cal.status(*y));
    if (!cal.source(*y).empty()) out << ' ' << cal.source(*y);
    out << '\n';
  }
  bool first_day = true;
  for (civil_date d{*y, 1, 1}; d.year == *y; d = d.plus_days(1)) {
    const core::day_kind kind = cal.kind(d).value();  // a valid date: checked above
    const std::string name = cal.name_of(d);
    if (json) {
      out << (first_day ? "" : ",") << "{\"date\":\"" << d.to_string() << "\",\"kind\":\""
          << core::to_string(kind) << '"';
      if (!name.empty()) {
        out << ",\"name\":";
        write_json_string(out, name);
      }
      out << '}';
    } else {
      out << d.to_string() << ' ' << core::to_string(kind);
      if (!name.empty()) out << ' ' << name;
      out << '\n';
    }
    first_day = false;
  }
  if (json) out << "]}\n";
  return exit_ok;
}

}  // namespace caseline::tools
