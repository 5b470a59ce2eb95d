#include "core/calendar.h"

#include <fstream>
#include <sstream>

#include "core/errc.h"

namespace caseline::core {

std::string_view to_string(day_kind k) {
  switch (k) {
    case day_kind::workday: return "workday";
    case day_kind::weekend: return "weekend";
    case day_kind::holiday: return "holiday";
    case day_kind::makeup_workday: return "makeup_workday";
  }
  return "unknown";
}

namespace {

// A holiday range longer than this is a typo, not a holiday (the longest so far: 10 days, 2020).
constexpr std::int64_t max_holiday_span_days = 31;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits off the next whitespace-delimited word of `rest`.
std::string_view next_word(std::string_view& rest) {
  rest = trim(rest);
  const auto end = rest.find_first_of(" \t");
  const std::string_view word = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : trim(rest.substr(end));
  return word;
}

bool is_weekend(civil_date d) { return d.iso_weekday() >= 5; }

error line_error(int line_no, std::string what) {
  return make_error(errc::invalid_argument,
                    "calendar line " + std::to_string(line_no) + ": " + std::move(what));
}

}  // namespace

result<calendar> calendar::parse(std::string_view text) {
  calendar cal;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;

    std::string_view rest = line;
    const std::string_view first = next_word(rest);
    if (first == "year") {
      const std::string_view year_text = next_word(rest);
      const std::string_view covered = next_word(rest);
      const auto probe = civil_date::parse(std::string(year_text) + "-01-01");
      if (!probe || covered != "covered")
        return line_error(line_no, "expected `year YYYY covered <source>`");
      if (!cal.covered_.emplace(probe->year, std::string(rest)).second)
        return line_error(line_no, "year " + std::string(year_text) + " is covered twice");
      continue;
    }

    const auto dots = first.find("..");
    const auto from = civil_date::parse(first.substr(0, dots));
    const auto to = dots == std::string_view::npos ? from : civil_date::parse(first.substr(dots + 2));
    if (!from || !to || *to < *from)
      return line_error(line_no, "expected a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD");
    const std::string_view kind_text = next_word(rest);
    day_kind kind{};
    if (kind_text == "holiday") {
      kind = day_kind::holiday;
    } else if (kind_text == "makeup_workday") {
      kind = day_kind::makeup_workday;
      if (from != to) return line_error(line_no, "a make-up working day is one date, not a range");
      if (!is_weekend(*from))
        return line_error(line_no, from->to_string() + " is not a weekend day, so it cannot be a "
                                                       "make-up working day");
    } else {
      return line_error(line_no, "expected `holiday` or `makeup_workday`");
    }
    const std::int64_t first_day = from->days_since_epoch();
    const std::int64_t last_day = to->days_since_epoch();
    if (last_day - first_day >= max_holiday_span_days)
      return line_error(line_no, "a holiday range longer than 31 days");
    for (std::int64_t day = first_day; day <= last_day; ++day) {
      if (!cal.special_.emplace(day, special_day{kind, std::string(rest)}).second)
        return line_error(line_no, civil_date::from_days_since_epoch(day).to_string() +
                                       " is listed twice");
    }
  }
  return cal;
}

result<calendar> calendar::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::calendar_unreadable, path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(errc::calendar_unreadable, path);
  auto cal = parse(text.str());
  if (!cal) return make_error(cal.error().code, path + ": " + cal.error().detail);
  return cal;
}

result<void> calendar::check_covered(civil_date d) const {
  if (!d.valid()) return make_error(errc::invalid_argument, "not a valid date");
  if (!covered_.contains(d.year))
    return make_error(errc::no_calendar_for_year, "no calendar for " + std::to_string(d.year));
  return success();
}

result<day_kind> calendar::kind(civil_date d) const {
  if (auto ok = check_covered(d); !ok) return ok.error();
  if (const auto it = special_.find(d.days_since_epoch()); it != special_.end()) return it->second.kind;
  return is_weekend(d) ? day_kind::weekend : day_kind::workday;
}

result<bool> calendar::is_workday(civil_date d) const {
  auto k = kind(d);
  if (!k) return k.error();
  return k.value() == day_kind::workday || k.value() == day_kind::makeup_workday;
}

result<civil_date> calendar::add_working_days(civil_date d, working_days n) const {
  if (n() < 1) return make_error(errc::invalid_argument, "working-day count must be at least 1");
  if (auto ok = check_covered(d); !ok) return ok.error();
  civil_date day = d;
  for (int counted = 0; counted < n();) {
    day = day.plus_days(1);
    auto work = is_workday(day);
    if (!work) return work.error();
    if (work.value()) ++counted;
  }
  return day;
}

result<int> calendar::working_days_between(civil_date from, civil_date to) const {
  if (auto ok = check_covered(from); !ok) return ok.error();
  int count = 0;
  for (civil_date day = from.plus_days(1); day <= to; day = day.plus_days(1)) {
    auto work = is_workday(day);
    if (!work) return work.error();
    if (work.value()) ++count;
  }
  return count;
}

std::vector<int> calendar::years() const {
  std::vector<int> out;
  for (const auto& [year, source] : covered_) out.push_back(year);
  return out;
}

std::string calendar::source(int year) const {
  const auto it = covered_.find(year);
  return it == covered_.end() ? std::string{} : it->second;
}

std::string calendar::name_of(civil_date d) const {
  const auto it = special_.find(d.days_since_epoch());
  return it == special_.end() ? std::string{} : it->second.name;
}

}  // namespace caseline::core
