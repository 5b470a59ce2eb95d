#pragma once

// The `caseline calendar ...` subcommands as library functions: tools/main.cpp wires them to
// CLI11, tests call them directly. Each writes its answer to `out`, a one-line error to `err`,
// and returns the process exit code: 0 success, 2 malformed arguments. Every valid date is
// answered; each answer says whether the year it stands on is official (its State Council
// notice is in) or provisional (only the statutory days off the law fixes, or weekends alone
// beyond the data).

#include <ostream>
#include <string_view>

#include "core/calendar.h"

namespace caseline::tools {

// `caseline calendar is-workday DATE`: prints "DATE workday|weekend|holiday|makeup_workday
// <is working day: yes|no> official|provisional", e.g. "2026-10-10 makeup_workday yes official".
int calendar_is_workday(const core::calendar& cal, std::string_view date, std::ostream& out,
                        std::ostream& err);

// `caseline calendar add DATE N`: prints the Nth working day after DATE (DATE not counted,
// Civil Code Art. 201) and whether every day counted is official, e.g. "2026-10-08 official",
// "2027-01-05 provisional".
int calendar_add(const core::calendar& cal, std::string_view date, std::string_view n,
                 std::ostream& out, std::ostream& err);

// `caseline calendar show YEAR [--json]`: every date of the year with its kind. JSON:
// {"year":2026,"status":"official","source":"...","days":[{"date":"2026-01-01","kind":"holiday",
// "name":"元旦"},...]} (status: official, provisional or weekends_only). Text: a first line
// "# YEAR status [source]", then one "DATE kind [name]" line per date.
int calendar_show(const core::calendar& cal, std::string_view year, bool json, std::ostream& out,
                  std::ostream& err);

}  // namespace caseline::tools
