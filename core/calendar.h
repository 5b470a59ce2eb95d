#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.h"
#include "core/result.h"
#include "core/time.h"

namespace caseline::core {

enum class day_kind { workday, weekend, holiday, makeup_workday };
std::string_view to_string(day_kind k);

// How much of a year the calendar knows. `official`: the State Council notice of the year is
// loaded (holidays, bridging days and make-up working days). `provisional`: no notice yet, so
// only the statutory days off that the law fixes (全国年节及纪念日放假办法 Art. 2) and weekends;
// the notice may still add holidays and make-up working days. `weekends_only`: beyond the data,
// a date is still answered from the weekday alone, and counts as provisional.
enum class year_status { official, provisional, weekends_only };
std::string_view to_string(year_status s);

// The working-day calendar of mainland China: weekends, statutory holidays and the make-up
// working days (调休) of each year that the loaded data covers, official or provisional.
// Every valid date is answered: a hotline never refuses a citizen because a year's notice is
// not out; what a deadline was computed on is told by official_between() and version().
// Immutable after construction, so it is safe to share between threads.
class calendar {
 public:
  // Parses the calendar data file format (see core/data/cn-workdays.txt). A malformed line is
  // errc::invalid_argument naming the line.
  static result<calendar> parse(std::string_view text);
  // Reads and parses a data file; the deployment passes its path (a file it may replace).
  static result<calendar> load_file(const std::string& path);
  // Splits a data file into the blocks of its years: each `year` line with the lines that follow
  // it up to the next `year` line (what one notice says, as published in the log). A fact line
  // before the first `year` line is an error naming the line.
  static result<std::map<int, std::string>> split_years(std::string_view text);
  // Checks one year's block as an admin publishes it: it parses, has exactly one `year` line,
  // for `year`, and names only dates of the years year-1 .. year+1 (a notice may set a make-up
  // day in late December of the year before). Errors name the line.
  static result<calendar> parse_year(int year, std::string_view text);
  // The calendar of several years' blocks together; a date listed by two blocks is an error.
  static result<calendar> compose(const std::map<int, std::string>& blocks);

  // Fails only for an invalid date.
  result<day_kind> kind(civil_date d) const;
  result<bool> is_workday(civil_date d) const;
  // "Within N working days from day D" (Civil Code Art. 201): D itself is not counted; the
  // answer is the Nth working day after D. n >= 1.
  result<civil_date> add_working_days(civil_date d, working_days n) const;
  // Working days in (from, to]: 0 when to <= from.
  result<int> working_days_between(civil_date from, civil_date to) const;
  // Whether every day in (from, to] lies in an official year: a deadline counted over those
  // days is final; otherwise it is provisional and is revised when the notice is published.
  bool official_between(civil_date from, civil_date to) const;
  year_status status(int year) const;
  // The last day of the run of official years that holds `d` (d itself when its year is not
  // official): how long deadlines counted from `d` stay final.
  civil_date official_until(civil_date d) const;
  // The years with data (official or provisional), ascending.
  std::vector<int> years() const;
  // The source the data file names for a year ("" if none or no data).
  std::string source(int year) const;
  // The holiday or make-up day's name ("春节"), "" for a plain workday or weekend.
  std::string name_of(civil_date d) const;
  // Identifies the calendar's content (16 hex digits of a stable hash of every year, its status
  // and source, and every special day): equal calendars have equal versions, so a deadline
  // records the version it was computed with.
  const std::string& version() const { return version_; }

 private:
  struct special_day {
    day_kind kind{day_kind::holiday};
    std::string name;
  };
  struct year_info {
    year_status status{year_status::official};
    std::string source;
  };
  void compute_version();

  std::map<int, year_info> covered_;
  // Dates (days since the epoch) whose kind differs from the plain weekday/weekend rule.
  std::map<std::int64_t, special_day> special_;
  std::string version_;
};

// The early warning of a missing notice: from 1 October on, while next year is not official,
// deadlines counted into it are provisional. True then.
bool next_year_provisional(const calendar& cal, civil_date today);
// Days from `today` to the last day of its run of official years (0 when today's year is not
// official): how long deadlines counted from today stay final.
int official_days_left(const calendar& cal, civil_date today);

}  // namespace caseline::core
