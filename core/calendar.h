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

// The working-day calendar of mainland China: weekends, statutory holidays and the make-up
// working days (调休) of each year that the loaded data covers. Immutable after construction,
// so it is safe to share between threads. A date in a year without data is an error, never a
// guess.
class calendar {
 public:
  // Parses the calendar data file format (see core/data/cn-workdays.txt). A malformed line is
  // errc::invalid_argument naming the line.
  static result<calendar> parse(std::string_view text);
  // Reads and parses a data file; the deployment passes its path (a file it may replace).
  static result<calendar> load_file(const std::string& path);

  result<day_kind> kind(civil_date d) const;
  result<bool> is_workday(civil_date d) const;
  // "Within N working days from day D" (Civil Code Art. 201): D itself is not counted; the
  // answer is the Nth working day after D. n >= 1.
  result<civil_date> add_working_days(civil_date d, working_days n) const;
  // Working days in (from, to]: 0 when to <= from.
  result<int> working_days_between(civil_date from, civil_date to) const;
  // The covered years, ascending.
  std::vector<int> years() const;
  // The source the data file names for a covered year ("" if none or not covered).
  std::string source(int year) const;
  // The holiday or make-up day's name ("春节"), "" for a plain workday or weekend.
  std::string name_of(civil_date d) const;

 private:
  struct special_day {
    day_kind kind{day_kind::holiday};
    std::string name;
  };
  result<void> check_covered(civil_date d) const;

  std::map<int, std::string> covered_;  // year -> source
  // Dates (days since the epoch) whose kind differs from the plain weekday/weekend rule.
  std::map<std::int64_t, special_day> special_;
};

}  // namespace caseline::core
