#include "core/calendar.h"

#include <fstream>
#include <sstream>

#include "core/errc.h"
#include "core/sla.h"

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

std::string_view to_string(year_status s) {
  switch (s) {
    case year_status::official: return "official";
    case year_status::provisional: return "provisional";
    case year_status::weekends_only: return "weekends_only";
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
      const std::string_view status = next_word(rest);
      const auto probe = civil_date::parse(std::string(year_text) + "-01-01");
      if (!probe || (status != "covered" && status != "provisional"))
        return line_error(line_no, "expected `year YYYY covered <source>` (a year with its "
                                   "notice) or `year YYYY provisional <source>`");
      const year_status st = status == "covered" ? year_status::official : year_status::provisional;
      if (!cal.covered_.emplace(probe->year, year_info{st, std::string(rest)}).second)
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
  cal.compute_version();
  return cal;
}

result<std::map<int, std::string>> calendar::split_years(std::string_view text) {
  std::map<int, std::string> blocks;
  std::string* current = nullptr;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    const std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::string_view line = raw;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;  // comments between years belong to neither
    std::string_view rest = line;
    if (next_word(rest) == "year") {
      const auto probe = civil_date::parse(std::string(next_word(rest)) + "-01-01");
      if (!probe) return line_error(line_no, "expected `year YYYY covered <source>`");
      current = &blocks[probe->year];
      if (!current->empty())
        return line_error(line_no, "year " + std::to_string(probe->year) + " is covered twice");
    } else if (current == nullptr) {
      return line_error(line_no, "a date before the first `year` line");
    }
    (*current += trim(raw)) += '\n';
  }
  return blocks;
}

result<calendar> calendar::parse_year(int year, std::string_view text) {
  auto cal = parse(text);
  if (!cal) return cal;
  const auto years = cal.value().years();
  if (years.size() != 1 || years.front() != year)
    return make_field_error(errc::invalid_argument, "calendar",
                            "the text must have exactly one `year " + std::to_string(year) +
                                " covered <source>` line (or `provisional`)");
  // Dates far from the year are a typo, not part of its notice.
  int line_no = 0;
  for (std::string_view rest_text = text; !rest_text.empty();) {
    ++line_no;
    const auto nl = rest_text.find('\n');
    std::string_view line = rest_text.substr(0, nl);
    rest_text = nl == std::string_view::npos ? std::string_view{} : rest_text.substr(nl + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::string_view rest = trim(line);
    const std::string_view first = next_word(rest);
    if (first.empty() || first == "year") continue;
    const auto dots = first.find("..");
    for (auto part : {first.substr(0, dots),
                      dots == std::string_view::npos ? first : first.substr(dots + 2)}) {
      const auto d = civil_date::parse(part);
      if (d && (d->year < year - 1 || d->year > year + 1))
        return line_error(line_no, d->to_string() + " is not a date of " +
                                       std::to_string(year) + " or the years beside it");
    }
  }
  return cal;
}

result<calendar> calendar::compose(const std::map<int, std::string>& blocks) {
  std::string text;
  for (const auto& [year, block] : blocks) (text += block) += '\n';
  auto cal = parse(text);
  if (!cal)
    return make_error(errc::invalid_argument,
                      "the years' data conflict: " + cal.error().detail);
  return cal;
}

void calendar::compute_version() {
  std::string canonical;
  for (const auto& [year, info] : covered_)
    canonical += std::to_string(year) + ' ' + std::string(to_string(info.status)) + ' ' +
                 info.source + '\n';
  for (const auto& [day, sd] : special_)
    canonical += std::to_string(day) + ' ' + std::string(to_string(sd.kind)) + ' ' + sd.name + '\n';
  static constexpr char digits[] = "0123456789abcdef";
  std::uint64_t h = stable_hash(canonical);
  version_.assign(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) version_[static_cast<std::size_t>(i)] = digits[h & 0xf];
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

result<day_kind> calendar::kind(civil_date d) const {
  if (!d.valid()) return make_error(errc::invalid_argument, "not a valid date");
  // A special day listed for a year without data (2017-12-30 under 2018's notice) is not
  // answered: that year's days are counted from the weekday alone.
  if (covered_.contains(d.year))
    if (const auto it = special_.find(d.days_since_epoch()); it != special_.end())
      return it->second.kind;
  return is_weekend(d) ? day_kind::weekend : day_kind::workday;
}

result<bool> calendar::is_workday(civil_date d) const {
  auto k = kind(d);
  if (!k) return k.error();
  return k.value() == day_kind::workday || k.value() == day_kind::makeup_workday;
}

result<civil_date> calendar::add_working_days(civil_date d, working_days n) const {
  if (n() < 1) return make_error(errc::invalid_argument, "working-day count must be at least 1");
  if (!d.valid()) return make_error(errc::invalid_argument, "not a valid date");
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
  if (!from.valid() || !to.valid()) return make_error(errc::invalid_argument, "not a valid date");
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
  return it == covered_.end() ? std::string{} : it->second.source;
}

year_status calendar::status(int year) const {
  const auto it = covered_.find(year);
  return it == covered_.end() ? year_status::weekends_only : it->second.status;
}

bool calendar::official_between(civil_date from, civil_date to) const {
  for (int y = from.plus_days(1).year; y <= to.year; ++y)
    if (status(y) != year_status::official) return false;
  return true;
}

civil_date calendar::official_until(civil_date d) const {
  if (status(d.year) != year_status::official) return d;
  int y = d.year;
  while (status(y + 1) == year_status::official) ++y;
  return civil_date{y, 12, 31};
}

std::string calendar::name_of(civil_date d) const {
  const auto it = special_.find(d.days_since_epoch());
  return it == special_.end() ? std::string{} : it->second.name;
}

bool next_year_provisional(const calendar& cal, civil_date today) {
  return today.month >= 10 && cal.status(today.year + 1) != year_status::official;
}

int official_days_left(const calendar& cal, civil_date today) {
  return static_cast<int>(cal.official_until(today).days_since_epoch() - today.days_since_epoch());
}

}  // namespace caseline::core
