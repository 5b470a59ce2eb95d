#include "tools/calendar_cmd.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <sstream>

#include "tests/core/test_support.h"

using namespace caseline;
using caseline::core::testing::repo_calendar;

namespace {

struct run_result {
  int code;
  std::string out;
  std::string err;
};

template <class F>
run_result run(F f) {
  std::ostringstream out, err;
  const int code = f(out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("calendar is-workday names the kind of the day") {
  const auto& cal = repo_calendar();
  const struct {
    const char* date;
    const char* line;
  } rows[] = {
      {"2026-10-01", "2026-10-01 holiday no official\n"},
      {"2026-10-10", "2026-10-10 makeup_workday yes official\n"},
      {"2026-10-11", "2026-10-11 weekend no official\n"},
      {"2026-10-12", "2026-10-12 workday yes official\n"},
      {"2020-02-01", "2020-02-01 holiday no official\n"},
      {"2027-01-04", "2027-01-04 workday yes provisional\n"},
      {"2027-02-05", "2027-02-05 holiday no provisional\n"},
      {"2032-01-03", "2032-01-03 weekend no provisional\n"},
  };
  for (const auto& r : rows) {
    auto res = run([&](auto& o, auto& e) { return tools::calendar_is_workday(cal, r.date, o, e); });
    CHECK(res.code == 0);
    CHECK(res.out == r.line);
  }
  auto bad = run([&](auto& o, auto& e) { return tools::calendar_is_workday(cal, "2026-1-4", o, e); });
  CHECK(bad.code == 2);
}

TEST_CASE("calendar add prints the Nth working day after the date") {
  const auto& cal = repo_calendar();
  auto res = run([&](auto& o, auto& e) { return tools::calendar_add(cal, "2026-09-30", "1", o, e); });
  CHECK(res.code == 0);
  CHECK(res.out == "2026-10-08 official\n");
  res = run([&](auto& o, auto& e) { return tools::calendar_add(cal, "2026-02-12", "3", o, e); });
  CHECK(res.out == "2026-02-24 official\n");
  CHECK(run([&](auto& o, auto& e) { return tools::calendar_add(cal, "2026-02-12", "0", o, e); }).code == 2);
  CHECK(run([&](auto& o, auto& e) { return tools::calendar_add(cal, "2026-02-12", "x", o, e); }).code == 2);
  // A complaint transferred on 2026-11-20 (30 wd) runs into 2027: answered, provisional.
  res = run([&](auto& o, auto& e) { return tools::calendar_add(cal, "2026-11-20", "30", o, e); });
  CHECK(res.code == 0);
  CHECK(res.out == "2027-01-04 provisional\n");
}

TEST_CASE("calendar show --json lists every date of every covered year with its kind") {
  const auto& cal = repo_calendar();
  for (int year = 2018; year <= 2026; ++year) {
    CAPTURE(year);
    auto res = run([&](auto& o, auto& e) {
      return tools::calendar_show(cal, std::to_string(year), true, o, e);
    });
    REQUIRE(res.code == 0);
    const boost::json::object doc = boost::json::parse(res.out).as_object();
    CHECK(doc.at("year").as_int64() == year);
    const auto& days = doc.at("days").as_array();
    const bool leap = (year % 4 == 0);
    CHECK(days.size() == (leap ? 366u : 365u));
    civil_date d{year, 1, 1};
    for (const auto& v : days) {
      const auto& day = v.as_object();
      CHECK(day.at("date").as_string() == d.to_string());
      CHECK(day.at("kind").as_string() == core::to_string(cal.kind(d).value()));
      d = d.plus_days(1);
    }
  }
  auto text = run([&](auto& o, auto& e) { return tools::calendar_show(cal, "2026", false, o, e); });
  CHECK(text.out.find("2026-10-01 holiday 国庆节\n") != std::string::npos);
  CHECK(text.out.rfind("# 2026 official https://", 0) == 0);
  auto provisional = run([&](auto& o, auto& e) { return tools::calendar_show(cal, "2027", true, o, e); });
  REQUIRE(provisional.code == 0);
  const boost::json::object doc = boost::json::parse(provisional.out).as_object();
  CHECK(doc.at("status").as_string() == "provisional");
  CHECK(doc.at("days").as_array().size() == 365u);
  auto beyond = run([&](auto& o, auto& e) { return tools::calendar_show(cal, "2040", false, o, e); });
  CHECK(beyond.code == 0);
  CHECK(beyond.out.rfind("# 2040 weekends_only\n", 0) == 0);
}
