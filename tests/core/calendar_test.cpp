#include "core/calendar.h"

#include <doctest/doctest.h>

#include <set>

#include "core/errc.h"
#include "tests/core/test_support.h"

using namespace caseline;
using namespace caseline::core;
using caseline::core::testing::date;
using caseline::core::testing::repo_calendar;

namespace {

struct holiday_period {
  const char* first;
  int days;
};
struct makeup_day {
  const char* date;
  unsigned iso_weekday;
};

// Holiday periods: first day and length in days as the notices count them (an independent check
// of the data file's ranges).
constexpr holiday_period holiday_periods[] = {
    {"2017-12-30", 3},
    {"2018-02-15", 7},
    {"2018-04-05", 3},
    {"2018-04-29", 3},
    {"2018-06-16", 3},
    {"2018-09-22", 3},
    {"2018-10-01", 7},
    {"2018-12-30", 3},
    {"2019-02-04", 7},
    {"2019-04-05", 3},
    {"2019-05-01", 4},
    {"2019-06-07", 3},
    {"2019-09-13", 3},
    {"2019-10-01", 7},
    {"2020-01-01", 1},
    {"2020-01-24", 10},
    {"2020-04-04", 3},
    {"2020-05-01", 5},
    {"2020-06-25", 3},
    {"2020-10-01", 8},
    {"2021-01-01", 3},
    {"2021-02-11", 7},
    {"2021-04-03", 3},
    {"2021-05-01", 5},
    {"2021-06-12", 3},
    {"2021-09-19", 3},
    {"2021-10-01", 7},
    {"2022-01-01", 3},
    {"2022-01-31", 7},
    {"2022-04-03", 3},
    {"2022-04-30", 5},
    {"2022-06-03", 3},
    {"2022-09-10", 3},
    {"2022-10-01", 7},
    {"2022-12-31", 3},
    {"2023-01-21", 7},
    {"2023-04-05", 1},
    {"2023-04-29", 5},
    {"2023-06-22", 3},
    {"2023-09-29", 8},
    {"2023-12-30", 3},
    {"2024-02-10", 8},
    {"2024-04-04", 3},
    {"2024-05-01", 5},
    {"2024-06-08", 3},
    {"2024-09-15", 3},
    {"2024-10-01", 7},
    {"2025-01-01", 1},
    {"2025-01-28", 8},
    {"2025-04-04", 3},
    {"2025-05-01", 5},
    {"2025-05-31", 3},
    {"2025-10-01", 8},
    {"2026-01-01", 3},
    {"2026-02-15", 9},
    {"2026-04-04", 3},
    {"2026-05-01", 5},
    {"2026-06-19", 3},
    {"2026-09-25", 3},
    {"2026-10-01", 7},
};
// Make-up working days with the weekday the notices give (5 = Saturday, 6 = Sunday).
constexpr makeup_day makeup_days[] = {
    {"2018-02-11", 6},
    {"2018-02-24", 5},
    {"2018-04-08", 6},
    {"2018-04-28", 5},
    {"2018-09-29", 5},
    {"2018-09-30", 6},
    {"2018-12-29", 5},
    {"2019-02-02", 5},
    {"2019-02-03", 6},
    {"2019-04-28", 6},
    {"2019-05-05", 6},
    {"2019-09-29", 6},
    {"2019-10-12", 5},
    {"2020-01-19", 6},
    {"2020-04-26", 6},
    {"2020-05-09", 5},
    {"2020-06-28", 6},
    {"2020-09-27", 6},
    {"2020-10-10", 5},
    {"2021-02-07", 6},
    {"2021-02-20", 5},
    {"2021-04-25", 6},
    {"2021-05-08", 5},
    {"2021-09-18", 5},
    {"2021-09-26", 6},
    {"2021-10-09", 5},
    {"2022-01-29", 5},
    {"2022-01-30", 6},
    {"2022-04-02", 5},
    {"2022-04-24", 6},
    {"2022-05-07", 5},
    {"2022-10-08", 5},
    {"2022-10-09", 6},
    {"2023-01-28", 5},
    {"2023-01-29", 6},
    {"2023-04-23", 6},
    {"2023-05-06", 5},
    {"2023-06-25", 6},
    {"2023-10-07", 5},
    {"2023-10-08", 6},
    {"2024-02-04", 6},
    {"2024-02-18", 6},
    {"2024-04-07", 6},
    {"2024-04-28", 6},
    {"2024-05-11", 5},
    {"2024-09-14", 5},
    {"2024-09-29", 6},
    {"2024-10-12", 5},
    {"2025-01-26", 6},
    {"2025-02-08", 5},
    {"2025-04-27", 6},
    {"2025-09-28", 6},
    {"2025-10-11", 5},
    {"2026-01-04", 6},
    {"2026-02-14", 5},
    {"2026-02-28", 5},
    {"2026-05-09", 5},
    {"2026-09-20", 6},
    {"2026-10-10", 5},
};

}  // namespace

TEST_CASE("every holiday of 2018-2026 is a holiday, in covered years") {
  const calendar& cal = repo_calendar();
  for (const auto& p : holiday_periods) {
    const civil_date first = date(p.first);
    for (int i = 0; i < p.days; ++i) {
      const civil_date d = first.plus_days(i);
      CAPTURE(d.to_string());
      if (d.year < 2018) {  // a year without data: the weekday alone
        CHECK(cal.status(d.year) == year_status::weekends_only);
        CHECK(cal.kind(d).value() == (d.iso_weekday() >= 5 ? day_kind::weekend : day_kind::workday));
        continue;
      }
      REQUIRE(cal.kind(d));
      CHECK(cal.kind(d).value() == day_kind::holiday);
      CHECK_FALSE(cal.is_workday(d).value());
    }
    // The days just around a period are not part of it (the ranges are not too long).
    const civil_date after = first.plus_days(p.days);
    if (after.year <= 2026) CHECK(cal.kind(after).value() != day_kind::holiday);
  }
}

TEST_CASE("every make-up working day of 2018-2026 is a working weekend day") {
  const calendar& cal = repo_calendar();
  for (const auto& m : makeup_days) {
    const civil_date d = date(m.date);
    CAPTURE(std::string(m.date));
    CHECK(d.iso_weekday() == m.iso_weekday);
    REQUIRE(cal.kind(d));
    CHECK(cal.kind(d).value() == day_kind::makeup_workday);
    CHECK(cal.is_workday(d).value());
  }
}

TEST_CASE("the data file says nothing the notices do not") {
  // Every special date of 2018-2026 is in the tables above, and the counts match.
  std::set<std::int64_t> holidays, makeups;
  for (const auto& p : holiday_periods)
    for (int i = 0; i < p.days; ++i) holidays.insert(date(p.first).plus_days(i).days_since_epoch());
  for (const auto& m : makeup_days) makeups.insert(date(m.date).days_since_epoch());
  const calendar& cal = repo_calendar();
  int holiday_count = 0, makeup_count = 0;
  for (civil_date d{2018, 1, 1}; d.year <= 2026; d = d.plus_days(1)) {
    const day_kind k = cal.kind(d).value();
    CAPTURE(d.to_string());
    if (k == day_kind::holiday) {
      ++holiday_count;
      CHECK(holidays.contains(d.days_since_epoch()));
    } else if (k == day_kind::makeup_workday) {
      ++makeup_count;
      CHECK(makeups.contains(d.days_since_epoch()));
    } else {
      CHECK(k == (d.iso_weekday() >= 5 ? day_kind::weekend : day_kind::workday));
    }
  }
  CHECK(makeup_count == static_cast<int>(makeups.size()));
  CHECK(holiday_count == static_cast<int>(holidays.size()) - 2);  // 2017-12-30, 2017-12-31
  CHECK(cal.years() == std::vector<int>{2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025, 2026, 2027, 2028, 2029, 2030, 2031});
  CHECK(cal.source(2026).find("gov.cn") != std::string::npos);
  CHECK(cal.name_of(date("2026-10-01")) == "国庆节");
}

TEST_CASE("2020: the Spring Festival extension ran to 02-02 and cancelled the 02-01 make-up day") {
  const calendar& cal = repo_calendar();
  CHECK(cal.kind(date("2020-01-31")).value() == day_kind::holiday);
  CHECK(cal.kind(date("2020-02-01")).value() == day_kind::holiday);
  CHECK(cal.kind(date("2020-02-02")).value() == day_kind::holiday);
  CHECK(cal.kind(date("2020-02-03")).value() == day_kind::workday);
  CHECK(cal.add_working_days(date("2020-01-23"), working_days{1}).value() == date("2020-02-03"));
}

TEST_CASE("a make-up day of next year's notice in late December counts in its own year") {
  const calendar& cal = repo_calendar();
  CHECK(cal.kind(date("2018-12-29")).value() == day_kind::makeup_workday);
  CHECK(cal.kind(date("2018-12-31")).value() == day_kind::holiday);
  // Friday 2018-12-28 + 1 wd = Saturday 2018-12-29 (make-up), + 2 wd = 2019-01-02.
  CHECK(cal.add_working_days(date("2018-12-28"), working_days{1}).value() == date("2018-12-29"));
  CHECK(cal.add_working_days(date("2018-12-28"), working_days{2}).value() == date("2019-01-02"));
}

TEST_CASE("Civil Code Art. 201: day D is not counted, deadlines cross Spring Festival") {
  const calendar& cal = repo_calendar();
  struct row {
    const char* from;
    int n;
    const char* due;
  };
  const row rows[] = {
      {"2026-11-27", 1, "2026-11-30"},  // Friday + 1 wd = Monday
      {"2026-11-30", 3, "2026-12-03"},  // plain week, D not counted
      {"2026-02-13", 1, "2026-02-14"},  // Friday -> Saturday make-up day
      {"2026-02-14", 1, "2026-02-24"},  // over the 9-day Spring Festival
      {"2026-02-12", 3, "2026-02-24"},  // Art. 27 transfer window across it
      {"2025-01-24", 5, "2025-02-07"},  // 2025: make-up 01-26, 01-27, festival 01-28..02-04
      {"2024-02-08", 2, "2024-02-18"},  // 2024: 02-09 Fri, festival, 02-18 Sunday make-up
      {"2026-09-30", 1, "2026-10-08"},  // National Day
      {"2026-09-29", 5, "2026-10-12"},  // 09-30, 10-08, 10-09, 10-10 (Saturday make-up), 10-12
      {"2025-09-26", 5, "2025-10-10"},  // 09-28 make-up, 09-29, 09-30, 10-09, 10-10
      {"2023-09-27", 3, "2023-10-08"},  // 09-28, then two weekend make-up days after the holiday
      {"2026-01-01", 1, "2026-01-04"},  // Sunday make-up after New Year
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.from));
    CAPTURE(r.n);
    CHECK(cal.add_working_days(date(r.from), working_days{r.n}).value() == date(r.due));
    CHECK(cal.working_days_between(date(r.from), date(r.due)).value() == r.n);
  }
  // A 30 wd complaint clock across National Day 2026.
  CHECK(cal.add_working_days(date("2026-09-15"), working_days{30}).value() == date("2026-11-02"));
  CHECK(cal.working_days_between(date("2026-10-09"), date("2026-10-01")).value() == 0);
}

TEST_CASE("a year without its notice is provisional, never refused") {
  const calendar& cal = repo_calendar();
  CHECK(cal.status(2026) == year_status::official);
  for (int y = 2027; y <= 2031; ++y) CHECK(cal.status(y) == year_status::provisional);
  CHECK(cal.status(2032) == year_status::weekends_only);
  CHECK(cal.status(2017) == year_status::weekends_only);
  // The statutory days the law fixes (Decree No. 795), and nothing else: no bridging days, no
  // make-up days, no substitute day for one that falls on a weekend.
  CHECK(cal.kind(date("2027-01-01")).value() == day_kind::holiday);
  CHECK(cal.kind(date("2027-02-05")).value() == day_kind::holiday);  // 除夕
  CHECK(cal.kind(date("2027-02-08")).value() == day_kind::holiday);
  CHECK(cal.kind(date("2027-02-09")).value() == day_kind::workday);
  CHECK(cal.kind(date("2027-02-13")).value() == day_kind::weekend);  // no make-up day
  CHECK(cal.kind(date("2027-10-04")).value() == day_kind::workday);  // no bridging day
  CHECK(cal.kind(date("2028-10-03")).value() == day_kind::holiday);  // 中秋 inside 国庆
  CHECK(cal.name_of(date("2027-09-15")) == "中秋节");
  // Beyond the data: weekends only, still answered.
  CHECK(cal.kind(date("2032-01-01")).value() == day_kind::workday);
  CHECK(cal.kind(date("2032-01-03")).value() == day_kind::weekend);
  CHECK(cal.kind(civil_date{2027, 2, 30}).error().code == errc::invalid_argument);

  // A deadline that runs into 2027 is computed, and says it is provisional.
  auto due = cal.add_working_days(date("2026-12-28"), working_days{5});
  REQUIRE(due);
  CHECK(due.value() == date("2027-01-05"));  // 12-29, 30, 31, (1 Jan holiday), 01-04, 01-05
  CHECK_FALSE(cal.official_between(date("2026-12-28"), due.value()));
  CHECK(cal.official_between(date("2026-12-28"), date("2026-12-31")));
  CHECK(cal.official_between(date("2026-12-31"), date("2026-12-31")));  // nothing counted
  CHECK(cal.add_working_days(date("2026-12-28"), working_days{3}).value() == date("2026-12-31"));
  CHECK(cal.add_working_days(date("2026-12-28"), working_days{0}).error().code ==
        errc::invalid_argument);
  // How long deadlines stay final.
  CHECK(cal.official_until(date("2026-11-30")) == date("2026-12-31"));
  CHECK(official_days_left(cal, date("2026-11-30")) == 31);
  CHECK(official_days_left(cal, date("2027-01-04")) == 0);
  CHECK(cal.official_until(date("2019-05-01")) == date("2026-12-31"));
}

TEST_CASE("the early warning starts on 1 October while next year has no notice") {
  const calendar& cal = repo_calendar();
  CHECK_FALSE(next_year_provisional(cal, date("2026-09-30")));
  CHECK(next_year_provisional(cal, date("2026-10-01")));
  CHECK(next_year_provisional(cal, date("2026-12-31")));
  CHECK_FALSE(next_year_provisional(cal, date("2025-10-01")));  // 2026's notice is in
  CHECK_FALSE(next_year_provisional(cal, date("2027-03-01")));  // not before October
}

TEST_CASE("a calendar's version names its content") {
  const calendar& cal = repo_calendar();
  CHECK(cal.version().size() == 16);
  auto again = calendar::load_file(caseline::core::testing::source_dir() + "/core/data/cn-workdays.txt");
  REQUIRE(again);
  CHECK(again.value().version() == cal.version());
  auto other = calendar::parse("year 2027 covered a\n2027-01-01 holiday 元旦\n");
  auto same_days_other_status = calendar::parse("year 2027 provisional a\n2027-01-01 holiday 元旦\n");
  REQUIRE(other);
  REQUIRE(same_days_other_status);
  CHECK(other.value().version() != same_days_other_status.value().version());
  CHECK(other.value().version() != cal.version());
}

TEST_CASE("the data file splits into its years, and a published year is checked alone and with the others") {
  const std::string text = "# notices\n"
                           "year 2026 covered n26\n"
                           "2026-01-01 holiday 元旦  # a comment\n"
                           "\n"
                           "# next\n"
                           "year 2027 covered n27\n"
                           "2026-12-26 makeup_workday 元旦\n"
                           "2027-01-01 holiday 元旦\n";
  auto blocks = calendar::split_years(text);
  REQUIRE(blocks);
  REQUIRE(blocks.value().size() == 2);
  CHECK(blocks.value().at(2026) == "year 2026 covered n26\n2026-01-01 holiday 元旦  # a comment\n");
  CHECK(blocks.value().at(2027) == "year 2027 covered n27\n2026-12-26 makeup_workday 元旦\n2027-01-01 holiday 元旦\n");
  auto whole = calendar::compose(blocks.value());
  REQUIRE(whole);
  CHECK(whole.value().kind(date("2026-12-26")).value() == day_kind::makeup_workday);
  CHECK(whole.value().version() == calendar::parse(text).value().version());

  CHECK(calendar::split_years("2026-01-01 holiday x\nyear 2026 covered a\n").error().detail ==
        "calendar line 1: a date before the first `year` line");
  CHECK(calendar::split_years("year 2026 covered a\nyear 2026 covered b\n").error().detail ==
        "calendar line 2: year 2026 is covered twice");

  CHECK(calendar::parse_year(2027, blocks.value().at(2027)));
  auto wrong_year = calendar::parse_year(2028, blocks.value().at(2027));
  REQUIRE_FALSE(wrong_year);
  CHECK(wrong_year.error().code == errc::invalid_argument);
  // The request's field, typed: the text published for the year.
  CHECK(wrong_year.error().field == "calendar");
  CHECK(wrong_year.error().detail ==
        "calendar: the text must have exactly one `year 2028 covered <source>` line (or "
        "`provisional`)");
  CHECK(calendar::parse_year(2027, "2027-01-01 holiday x\n").error().code == errc::invalid_argument);
  auto far = calendar::parse_year(2027, "year 2027 covered a\n2029-01-01 holiday x\n");
  REQUIRE_FALSE(far);
  CHECK(far.error().detail == "calendar line 2: 2029-01-01 is not a date of 2027 or the years beside it");
  CHECK(far.error().field.empty());
  auto bad_line = calendar::parse_year(2027, "year 2027 covered a\n2027-13-01 holiday x\n");
  REQUIRE_FALSE(bad_line);
  CHECK(bad_line.error().detail.find("calendar line 2:") == 0);

  // Two years that list the same date do not compose.
  auto clash = blocks.value();
  clash[2026] += "2026-12-26 holiday x\n";
  auto conflict = calendar::compose(clash);
  REQUIRE_FALSE(conflict);
  CHECK(conflict.error().detail.find("2026-12-26 is listed twice") != std::string::npos);
}

TEST_CASE("a new year is added by adding lines") {
  auto cal = calendar::parse(
      "year 2027 covered https://example.invalid/notice\n"
      "2027-01-01 holiday 元旦  # a comment\n"
      "2027-02-06..2027-02-12 holiday 春节\n"
      "2027-02-13 makeup_workday 春节\n");
  REQUIRE(cal);
  CHECK(cal.value().kind(date("2027-01-01")).value() == day_kind::holiday);
  CHECK(cal.value().kind(date("2027-02-13")).value() == day_kind::makeup_workday);
  CHECK(cal.value().kind(date("2027-02-14")).value() == day_kind::weekend);
  CHECK(cal.value().kind(date("2027-02-15")).value() == day_kind::workday);
  CHECK(cal.value().status(2027) == year_status::official);
  CHECK(cal.value().status(2026) == year_status::weekends_only);
  CHECK(cal.value().kind(date("2026-02-16")).value() == day_kind::workday);
}

TEST_CASE("malformed data files are rejected with the line") {
  const char* bad[] = {
      "year 20x6 covered x\n",
      "year 2026 covered a\nyear 2026 covered b\n",
      "2026-02-30 holiday x\n",
      "2026-10-07..2026-10-01 holiday x\n",
      "2026-10-01 vacation x\n",
      "2026-10-08 makeup_workday x\n",  // a Thursday
      "2026-10-01 holiday a\n2026-10-01 holiday b\n",
      "2026-01-01..2026-03-01 holiday x\n",
  };
  for (const char* text : bad) {
    CAPTURE(text);
    auto cal = calendar::parse(text);
    REQUIRE_FALSE(cal);
    CHECK(cal.error().code == errc::invalid_argument);
    CHECK(cal.error().detail.find("calendar line") == 0);
  }
  CHECK(calendar::load_file("/nonexistent/cn-workdays.txt").error().code == errc::calendar_unreadable);
}
