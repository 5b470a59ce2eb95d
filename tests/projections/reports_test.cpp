#include "projections/reports.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/errc.h"
#include "events/errc.h"
#include "events/storage/counter_merge.h"
#include "events/storage/key.h"
#include "events/storage/scan.h"
#include "projections/sla_index.h"

#include "projections/report_render.h"
#include "tests/projections/october_scenario.h"
#include "tests/projections/report_text.h"

namespace caseline::projections::testing {
namespace {

// One row of expected figures: (domain, category) and the counters in metric order:
// received, answered, not_accepted, redirected, reply_due, replied_on_time, replied,
// replied_revisited, revisits, revisits_reached, satisfied, basically_satisfied, dissatisfied.
struct expected_row {
  const char* domain;
  const char* category;
  std::array<std::int64_t, static_cast<std::size_t>(metric::count_)> n;
};

// Worked out by hand from october_scenario(): see the comments there.
const expected_row october_zz[] = {
    {"highway", "complaint", {1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0}},            // E
    {"road_transport", "complaint", {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},      // H, J
    {"road_transport", "inquiry", {3, 0, 0, 0, 3, 2, 2, 1, 1, 0, 0, 0, 0}},        // D, G, I
    {"unclassified", "unclassified", {4, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}},     // A, B, C, K
    {"waterway", "suggestion", {1, 0, 0, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1}},           // F
};

std::optional<double> r4(std::optional<double> v) {
  return v ? std::optional<double>(round4(*v)) : std::nullopt;
}

TEST_CASE("the monthly report's figures equal the hand-computed ones") {
  stack s;
  const auto ids = play(s, october_scenario());
  const report_reader rd(s.db());
  const auto& reg = s.world().reg;

  auto r = build_report(rd, reg, monthly_request(2026, 10, center_code{"410100"}));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  const report& m = r.value();

  REQUIRE(m.rows.size() == std::size(october_zz));
  for (std::size_t i = 0; i < m.rows.size(); ++i) {
    INFO(m.rows[i].domain << "/" << m.rows[i].category);
    CHECK(m.rows[i].domain == october_zz[i].domain);
    CHECK(m.rows[i].category == october_zz[i].category);
    CHECK(m.rows[i].current.n == october_zz[i].n);
  }
  const figures& t = m.total;
  CHECK(t[metric::received] == 11);
  CHECK(t.accepted() == 9);                              // 11 - 1 not accepted - 1 redirected
  CHECK(r4(t.immediate_answer_rate()) == round4(1.0 / 9));  // A
  CHECK(t.on_time_rate() == 0.5);                         // D, G of D, G, I, F
  CHECK(t.revisit_rate() == 0.75);                        // E, G, F of D, E, G, F
  CHECK(t.satisfaction_rate() == 0.5);                    // E satisfied; F dissatisfied; G not reached
  CHECK(m.month_on_month == 4.5);                         // 11 vs 2 in September
  CHECK(m.year_on_year == 10.0);                          // 11 vs 1 in October 2025
  CHECK(m.due == date("2026-11-02"));                     // before the 3rd (Art. 40(1))
  CHECK(m.previous == period{date("2026-09-01"), date("2026-09-30")});

  REQUIRE(m.hot_topics.size() == 4);
  CHECK(m.hot_topics[0].topic == "出租车");
  CHECK(m.hot_topics[0].count == 3);
  CHECK(m.hot_topics[0].previous == 1);
  CHECK(m.hot_topics[0].change == 2.0);
  CHECK(m.hot_topics[1].count == 1);
  CHECK_FALSE(m.hot_topics[1].change.has_value());  // new this month

  REQUIRE(m.urgent.size() == 1);
  CHECK(m.urgent[0].case_id == ids.at("H")());

  SUBCASE("Art. 32-33 — per unit: reply deadlines met and returns") {
    REQUIRE(m.units.size() == 2);
    const unit_row& gl = m.units[0];
    CHECK(gl.unit == "u-zz-gl");
    CHECK(gl.name == "郑州市公路事业发展中心");
    CHECK(gl.current[unit_metric::reply_due] == 1);        // F (E, J due later)
    CHECK(gl.current[unit_metric::replied_on_time] == 0);  // F late
    CHECK(gl.current[unit_metric::returns] == 0);
    const unit_row& yg = m.units[1];
    CHECK(yg.unit == "u-zz-yg");
    CHECK(yg.current[unit_metric::reply_due] == 3);        // D, G, I (H due in November)
    CHECK(yg.current[unit_metric::replied_on_time] == 2);  // D, G
    CHECK(yg.current[unit_metric::returns] == 1);          // J, within its window
    CHECK(yg.current[unit_metric::late_returns] == 0);
    const auto json = report_text(m);
    CHECK(
        json.find(
            R"({"center":"410100","unit":"u-zz-yg","name":"郑州市道路运输管理局","reply_due":3,)"
            R"("replied_on_time":2,"returns":1,"late_returns":0,"overdue_reported":0,"on_time_rate":0.6667})") !=
        std::string::npos);
    CHECK(render_html(m).find("逾期退回 Late returns") != std::string::npos);
  }

  SUBCASE("complaints are shown apart: E was replied and revisited") {
    const auto json = report_text(m);
    CHECK(json.find(R"("complaints":{"replied":1,"revisited":1,"revisit_rate":1,)") != std::string::npos);
  }

  SUBCASE("province-wide adds every center, and ranks the city and county centers") {
    auto p = build_report(rd, reg, monthly_request(2026, 10, std::nullopt));
    REQUIRE(p);
    CHECK(p.value().total[metric::received] == 12);         // + N at Kaifeng
    CHECK(p.value().total.immediate_answer_rate() == 0.2);  // A, N of 10 accepted
    REQUIRE(p.value().assessment.size() == reg.centers().size() - 1);
    const auto& a = p.value().assessment;
    CHECK(a[0].center == "410200");  // immediate answer 100%, no other rate
    CHECK(a[0].score == 1.0);
    CHECK(a[0].rank == 1);
    CHECK(a[1].center == "410100");
    CHECK(a[1].score == round4((1.0 / 9 + 0.5 + 0.75 + 0.5) / 4));
    CHECK(a[1].rank == 2);
    CHECK(a[2].rank == 3);  // no figures: ranked last, together
    CHECK(a.back().rank == 3);
  }

  SUBCASE("the assessment weights are configuration: a hand-computed weighted score") {
    auto w = parse_assessment_weights("immediate_answer=0,on_time=2");  // revisit, satisfaction: 1
    REQUIRE(w);
    auto preq = monthly_request(2026, 10, std::nullopt);
    preq.weights = w.value();
    auto p = build_report(rd, reg, preq);
    REQUIRE(p);
    const auto& a = p.value().assessment;
    REQUIRE(a.size() == reg.centers().size() - 1);
    CHECK(a[0].center == "410100");
    CHECK(a[0].score == 0.5625);  // (2·0.5 + 1·0.75 + 1·0.5) / (2 + 1 + 1)
    CHECK(a[0].rank == 1);
    const auto kf = std::find_if(a.begin(), a.end(), [](const auto& x) { return x.center == "410200"; });
    REQUIRE(kf != a.end());
    CHECK_FALSE(kf->score.has_value());  // only the immediate-answer rate, weight 0: no score
    CHECK(kf->rank == 2);                // ranked last, with the centers without figures
    CHECK(a.back().rank == 2);
    const auto json = report_text(p.value());
    CHECK(json.find(R"("assessment_weights":{"immediate_answer":0,"on_time":2,"revisit":1,"satisfaction":1})") !=
          std::string::npos);
    CHECK(render_html(p.value()).find("immediate_answer=0,on_time=2,revisit=1,satisfaction=1") !=
          std::string::npos);
    // The same weights give the same report; the route takes them too.
    CHECK(monthly_text(s.db(), reg, "2026-10", "", w.value()).value() == json);
    auto rows = build_assessment(rd, reg, 2026, 10, w.value());
    REQUIRE(rows);
    const auto route =
        gateway::json_text(gateway::assessment_json("2026-10", rows.value(), w.value()));
    CHECK(route.find(
              R"("weights":{"immediate_answer":0,"on_time":2,"revisit":1,"satisfaction":1})") !=
          std::string::npos);
    CHECK(route.find(R"("score":0.5625})") != std::string::npos);
    // Defaults: every weight 1, the plain mean (as in the subcase above), and stated.
    auto d = monthly_text(s.db(), reg, "2026-10", "");
    REQUIRE(d);
    CHECK(d.value().find(R"("assessment_weights":{"immediate_answer":1,"on_time":1,"revisit":1,"satisfaction":1})") !=
          std::string::npos);
    CHECK(d.value().find(fmt::format(R"("score":{}}})", round4((1.0 / 9 + 0.5 + 0.75 + 0.5) / 4))) !=
          std::string::npos);
  }

  SUBCASE("a period report sums the days, and the same-day major-urgent report lists H") {
    auto p = build_report(
        rd, reg, period_request({date("2026-10-12"), date("2026-10-14")}, center_code{"410100"}));
    REQUIRE(p);
    CHECK(p.value().total[metric::received] == 8);  // A B C D E G (12th), F (13th), H (14th)
    CHECK(p.value().total[metric::replied] == 1);   // D
    CHECK(p.value().due == date("2026-10-16"));     // within 2 days of the end (Art. 40(3))
    auto u = build_report(rd, reg, urgent_request(date("2026-10-14"), std::nullopt));
    REQUIRE(u);
    REQUIRE(u.value().urgent.size() == 1);
    CHECK(u.value().urgent[0].center == "410100");
  }

  SUBCASE("the annual report sums the months; due before 10 January") {
    auto a = build_report(rd, reg, annual_request(2026, center_code{"410100"}));
    REQUIRE(a);
    CHECK(a.value().total[metric::received] == 13);  // 11 in October + 2 in September
    CHECK(a.value().due == date("2027-01-09"));
    CHECK(a.value().year_on_year == 12.0);           // 13 vs 1 in 2025
    CHECK_FALSE(a.value().month_on_month.has_value());
  }

  SUBCASE("renderings: JSON, CSV and one self-contained HTML file") {
    const auto csv = render_csv(m);
    CHECK(csv.find("410100,2026-10-01,2026-10-31,total,total,11,1,1,1,4,2,4,3,3,2,1,0,1,0,9,0.1111,"
                   "0.5,0.75,0.5\n") != std::string::npos);
    const auto html = render_html(m);
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("即时答复率 Immediate-answer rate") != std::string::npos);
    CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // no other link
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("src=") == std::string::npos);
  }

  SUBCASE("a center the registry does not know is a field error naming it") {
    auto unknown = build_report(rd, reg, monthly_request(2026, 10, center_code{"999999"}));
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == core::errc::invalid_argument);
    CHECK(unknown.error().field == "center");
    CHECK(build_report(rd, reg, annual_request(2026, std::nullopt)));
    CHECK(build_assessment(rd, reg, 2026, 10));
  }
}

TEST_CASE("assessment weights: parsed, and every bad entry named") {
  CHECK(parse_assessment_weights("").value() == assessment_weights{});
  const auto w = parse_assessment_weights("satisfaction=2.5,immediate_answer=0.1234");
  REQUIRE(w);
  CHECK(w.value() == assessment_weights{0.1234, 1, 1, 2.5});
  CHECK(to_string(w.value()) == "immediate_answer=0.1234,on_time=1,revisit=1,satisfaction=2.5");
  CHECK(parse_assessment_weights(to_string(w.value())).value() == w.value());
  CHECK(parse_assessment_weights("on_time=0,revisit=0,satisfaction=0").value().immediate_answer == 1);

  const struct {
    const char* text;
    const char* message;  // a part of the error
  } bad[] = {
      {"speed=1", R"("speed=1": unknown rate "speed")"},
      {"ten_second_answer=1", R"(unknown rate "ten_second_answer")"},
      {"on_time=-1", R"("on_time=-1": the weight is negative)"},
      {"on_time=abc", R"("on_time=abc": the weight is not a number)"},
      {"on_time=", R"("on_time=": the weight is not a number)"},
      {"on_time=1x", R"("on_time=1x": the weight is not a number)"},
      {"on_time=1e3", R"("on_time=1e3": the weight is not a number)"},
      {"on_time=inf", R"("on_time=inf": the weight is not a number)"},
      {"on_time=nan", R"("on_time=nan": the weight is not a number)"},
      {"on_time=0.00001", R"("on_time=0.00001": more than 4 decimals)"},
      {"on_time", R"("on_time": expected NAME=WEIGHT)"},
      {"on_time=1,,revisit=1", R"("": expected NAME=WEIGHT)"},
      {"revisit=1,revisit=2", R"("revisit=2": "revisit" given twice)"},
      {"immediate_answer=0,on_time=0,revisit=0,satisfaction=0", "every weight is 0"},
  };
  for (const auto& b : bad) {
    INFO(b.text);
    const auto r = parse_assessment_weights(b.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == core::errc::invalid_argument);
    CHECK(r.error().message().find(b.message) != std::string::npos);
  }
}

TEST_CASE("Art. 32 — late returns per unit, and a unit's on-time figure counts from its first transfer") {
  stack s;
  const auto agent = world::agent("410100");
  const auto yg = world::unit_member("u-zz-yg");
  const core::actor lead{user_id{"lead@410100"}, core::role::shift_lead, center_code{"410100"}, {}};
  // Transferred Monday 2 November: return window through the 4th, reply due the 9th (5 wd).
  auto ids = play(s, {{"2026-11-02", "X", recv("410100"), agent},
                      {"2026-11-02", "X", classify(core::category::inquiry, core::domain::highway, {}), agent},
                      {"2026-11-02", "X", transfer("u-zz-yg"), agent}});
  const case_id x = ids.at("X");
  auto refused = s.run(x, give_back(), yg, at(date("2026-11-05")));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == core::errc::return_window_passed);
  REQUIRE(s.run(x, core::accept_late_return{"late, but not its remit", "not our remit"}, lead,
                at(date("2026-11-05"), 1)));
  // The center sends it back to the same unit: its clock still runs from 2 November.
  auto again = s.run(x, transfer("u-zz-yg"), agent, at(date("2026-11-06")));
  REQUIRE(again);
  CHECK(again.value().state.reply_due == date("2026-11-09"));
  REQUIRE(s.run(x, reply(), yg, at(date("2026-11-10"))));  // late: it would be on time from the 6th

  const report_reader rd(s.db());
  auto units = rd.by_unit({date("2026-11-01"), date("2026-11-30")}, center_code{"410100"});
  REQUIRE(units);
  REQUIRE(units.value().size() == 1);
  const auto& [key, f] = *units.value().begin();
  CHECK(key == std::pair<std::string, std::string>{"410100", "u-zz-yg"});
  CHECK(f[unit_metric::reply_due] == 1);
  CHECK(f[unit_metric::replied_on_time] == 0);
  CHECK(f[unit_metric::returns] == 1);
  CHECK(f[unit_metric::late_returns] == 1);
  // Counted on the day of the return: a period report of that day shows it too.
  auto day = rd.by_unit({date("2026-11-05"), date("2026-11-05")}, std::nullopt);
  REQUIRE(day);
  REQUIRE(day.value().size() == 1);
  CHECK(day.value().begin()->second[unit_metric::late_returns] == 1);
  CHECK(day.value().begin()->second[unit_metric::reply_due] == 0);
  auto other = rd.by_unit({date("2026-11-01"), date("2026-11-30")}, center_code{"410200"});
  REQUIRE(other);
  CHECK(other.value().empty());
}

TEST_CASE(
    "Art. 35 — a reply deadline passed unmet is reported to the department: counts, list, report") {
  stack s;
  const auto agent = world::agent("410100");
  const core::actor sup{user_id{"sup@410100"}, core::role::supervisor, center_code{"410100"}, {}};
  const auto yg = world::unit_member("u-zz-yg");
  const auto gl = world::unit_member("u-zz-gl");
  const auto inquiry = classify(core::category::inquiry, core::domain::highway, {});
  // Transferred Monday 2 November: each reply due Monday the 9th (5 wd).
  auto ids = play(
      s, {{"2026-11-02", "X", recv("410100"), agent},
          {"2026-11-02", "X", inquiry, agent},
          {"2026-11-02", "X", transfer("u-zz-yg"), agent},
          {"2026-11-02", "Y", recv("410100"), agent},
          {"2026-11-02", "Y", inquiry, agent},
          {"2026-11-02", "Y", transfer("u-zz-yg"), agent},
          {"2026-11-02", "Z", recv("410100"), agent},
          {"2026-11-02", "Z", classify(core::category::inquiry, core::domain::waterway, {}), agent},
          {"2026-11-02", "Z", transfer("u-zz-gl"), agent},
          {"2026-11-02", "W", recv("410100"), agent},
          {"2026-11-02", "W", inquiry, agent},
          {"2026-11-02", "W", transfer("u-zz-gl"), agent}});
  const core::command overdue_9th = core::remind{core::deadline_kind::reply, date("2026-11-09")};
  REQUIRE(s.run(ids.at("W"), reply(), gl, at(date("2026-11-09"))));  // on time: never reported
  CHECK_FALSE(s.run(ids.at("W"), overdue_9th, sup, at(date("2026-11-10"))));
  for (const char* label : {"X", "Y", "Z"})
    REQUIRE(s.run(ids.at(label), overdue_9th, sup, at(date("2026-11-10"), 1)));
  // Sent again (a restarted scheduler): nothing more is reported.
  auto again = s.run(ids.at("X"), overdue_9th, sup, at(date("2026-11-10"), 2));
  REQUIRE(again);
  CHECK_FALSE(again.value().position);
  REQUIRE(s.run(ids.at("X"), reply(), yg, at(date("2026-11-11"))));  // late
  // X's caller is not satisfied and the matter goes back to the unit: a new cycle, due the 19th,
  // which passes unmet too: a second report of X.
  REQUIRE(s.run(ids.at("X"),
                core::revisit{true, core::satisfaction::dissatisfied, std::nullopt, true, "again"},
                world::revisit_officer("410100"), at(date("2026-11-12"))));
  // A reader made now reads the store as of now, whatever is applied after it.
  const report_reader before_second_report(s.db());
  auto reopened = s.run(ids.at("X"), core::remind{core::deadline_kind::reply, date("2026-11-19")},
                        sup, at(date("2026-11-20")));
  REQUIRE_MESSAGE(reopened, (reopened ? "" : reopened.error().message()));
  CHECK(s.count_in_log(core::overdue_reported::type_id) == 4);
  CHECK(s.count_in_log(core::reminded::type_id) == 4);

  const report_reader rd(s.db());
  const period november{date("2026-11-01"), date("2026-11-30")};
  auto units = rd.by_unit(november, center_code{"410100"});
  REQUIRE(units);
  using key = std::pair<std::string, std::string>;
  CHECK(units.value().at(key{"410100", "u-zz-yg"})[unit_metric::overdue_reported] == 3);
  CHECK(units.value().at(key{"410100", "u-zz-gl"})[unit_metric::overdue_reported] == 1);
  // Counted on the day reported: the 10th has three, the 20th one.
  auto tenth = rd.by_unit({date("2026-11-10"), date("2026-11-10")}, std::nullopt);
  REQUIRE(tenth);
  CHECK(tenth.value().at(key{"410100", "u-zz-yg"})[unit_metric::overdue_reported] == 2);

  // The list: by day reported, center, unit, case; what became of each cycle.
  auto all = rd.overdue(november, center_code{"410100"}, std::nullopt, "", 100);
  REQUIRE(all);
  const auto& items = all.value().items;
  REQUIRE(items.size() == 4);
  CHECK(all.value().next_cursor.empty());
  CHECK(items[0].case_id == ids.at("Z")());  // u-zz-gl sorts before u-zz-yg
  CHECK(items[0].dom == core::domain::waterway);
  CHECK(items[1].case_id == ids.at("X")());
  CHECK(items[1].due == date("2026-11-09"));
  CHECK(items[1].reported_on == date("2026-11-10"));
  CHECK(items[1].replied_on == date("2026-11-11"));
  CHECK(items[2].case_id == ids.at("Y")());
  CHECK_FALSE(items[2].replied_on);
  CHECK(items[3].case_id == ids.at("X")());
  CHECK(items[3].due == date("2026-11-19"));
  CHECK(items[3].reported_on == date("2026-11-20"));
  CHECK_FALSE(items[3].replied_on);

  SUBCASE("a reader made before the second report of X: its list, facts and report of then") {
    REQUIRE(s.run(ids.at("Y"), reply(), yg, at(date("2026-11-23"))));  // late, after both
    auto now =
        report_reader(s.db()).overdue(november, center_code{"410100"}, std::nullopt, "", 100);
    REQUIRE(now);
    REQUIRE(now.value().items.size() == 4);
    CHECK(now.value().items[2].replied_on == date("2026-11-23"));
    auto then =
        before_second_report.overdue(november, center_code{"410100"}, std::nullopt, "", 100);
    REQUIRE(then);
    REQUIRE(then.value().items.size() == 3);
    CHECK(then.value().items[2].case_id == ids.at("Y")());
    CHECK_FALSE(then.value().items[2].replied_on);  // Y's facts as of then too
    auto r = build_report(before_second_report, s.world().reg,
                          monthly_request(2026, 11, center_code{"410100"}));
    REQUIRE(r);
    CHECK(r.value().total[metric::overdue_reported] == 3);
    CHECK(r.value().overdue.size() == 3);
  }

  SUBCASE("paged with a cursor, filtered by unit and center") {
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
      auto page = rd.overdue(november, center_code{"410100"}, std::nullopt, cursor, 3);
      REQUIRE(page);
      for (const auto& c : page.value().items) seen.push_back(c.case_id);
      cursor = page.value().next_cursor;
      ++pages;
    } while (!cursor.empty() && pages < 10);
    CHECK(pages == 2);
    CHECK(seen == std::vector<std::string>{items[0].case_id, items[1].case_id, items[2].case_id,
                                           items[3].case_id});
    auto yg_only = rd.overdue(november, std::nullopt, unit_id{"u-zz-yg"}, "", 100);
    REQUIRE(yg_only);
    CHECK(yg_only.value().items.size() == 3);
    auto other = rd.overdue(november, center_code{"410200"}, std::nullopt, "", 100);
    REQUIRE(other);
    CHECK(other.value().items.empty());
    auto october =
        rd.overdue({date("2026-10-01"), date("2026-10-31")}, std::nullopt, std::nullopt, "", 100);
    REQUIRE(october);
    CHECK(october.value().items.empty());
    auto bad_cursor = rd.overdue(november, std::nullopt, std::nullopt, "zz", 100);
    REQUIRE_FALSE(bad_cursor);
    CHECK(bad_cursor.error().code == core::errc::invalid_argument);
    CHECK(bad_cursor.error().field == "cursor");
  }

  SUBCASE("the monthly report has the section, in JSON, CSV and HTML") {
    auto r = build_report(rd, s.world().reg, monthly_request(2026, 11, center_code{"410100"}));
    REQUIRE(r);
    const report& m = r.value();
    CHECK(m.total[metric::overdue_reported] == 4);
    REQUIRE(m.overdue.size() == 4);
    CHECK_FALSE(m.overdue_truncated);
    const auto json = report_text(m);
    CHECK(
        json.find(fmt::format(R"("overdue_reported":[{{"case_id":"{}","center":"410100",)"
                              R"("unit":"u-zz-gl","unit_name":"郑州市公路事业发展中心",)"
                              R"("due":"2026-11-09","reported_on":"2026-11-10","replied_on":null,)"
                              R"("domain":"waterway","category":"inquiry"}})",
                              ids.at("Z")())) != std::string::npos);
    CHECK(json.find(R"("late_returns":0,"overdue_reported":3,"on_time_rate")") !=
          std::string::npos);
    const auto csv = render_csv(m);
    CHECK(csv.find(",dissatisfied,overdue_reported,accepted,") != std::string::npos);
    CHECK(render_html(m).find("Reported to the department as overdue (Art. 35)") !=
          std::string::npos);
    auto q = gateway::parse_overdue("2026-11-01", "2026-11-30", "410100", "u-zz-gl", "", "");
    REQUIRE(q);
    auto listed = list_overdue(rd, s.world().reg, q.value());
    REQUIRE(listed);
    const auto text =
        gateway::json_text(gateway::overdue_page_json(q.value(), listed.value(), s.world().reg));
    CHECK(text.find(R"("center":"410100","unit":"u-zz-gl","items":[{"case_id")") !=
          std::string::npos);
    CHECK(text.find(R"("next_cursor":null)") != std::string::npos);
    q.value().center = center_code{"999999"};
    auto unknown = list_overdue(rd, s.world().reg, q.value());
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().field == "center");
  }
}

TEST_CASE("a case's shares added with a sign are its contributions, counted once per key") {
  report_facts f;
  f.id = case_id{"410100-20261005-000007"};
  f.received = true;
  f.center = center_code{"410100"};
  f.received_on = civil_date{2026, 10, 5};
  f.outcome = intake_outcome::none;
  f.topics = {"bus stop", "bus stop", ""};
  f.flagged_on = civil_date{2026, 10, 6};
  // Two cycles on two days, the second replied on time and revisited.
  f.cycles.push_back({center_code{"410100"}, civil_date{2026, 10, 12}, civil_date{2026, 10, 9},
                      true, civil_date{2026, 10, 10}, true, core::satisfaction::satisfied,
                      unit_id{"u-1"}});
  f.cycles.push_back({center_code{"410100"}, civil_date{2026, 10, 30}, std::nullopt, false,
                      std::nullopt, false, std::nullopt, unit_id{"u-2"}});
  // The same overdue report named twice, and another one.
  const report_overdue late{center_code{"410100"}, unit_id{"u-2"}, civil_date{2026, 10, 30},
                            civil_date{2026, 11, 2}};
  f.overdue = {
      late,
      late,
      {center_code{"410100"}, unit_id{"u-2"}, civil_date{2026, 10, 30}, civil_date{2026, 11, 3}}};
  const auto whole = contributions(f);
  // Counted once each, however often the facts name them.
  std::size_t once = 0;
  for (const auto& entry : whole) {
    const std::string& key = entry.first;
    if (!key.starts_with("o/") && !key.starts_with("u/") && !key.starts_with("t")) continue;
    INFO(key);
    CHECK(entry.second.n[0] == 1);
    ++once;
  }
  CHECK(once == 2 + 1 + 2);  // two overdue reports, the flag, the topic by month and by day
  // A day's figure holds every metric of that day: received on the 5th.
  const std::string received_day = keys::report_figure{keys::report_span::day, f.received_on,
                                                       "410100", "unclassified", "unclassified"}
                                       .encode();
  REQUIRE(whole.contains(received_day));
  CHECK(whole.at(received_day).n[static_cast<std::size_t>(metric::received)] == 1);
  // Added with +1, worked out by hand: each month's figure sums its days' metrics (the keys of a
  // day are reused across metrics, those of another day are not); the overdue figure counts
  // each report the facts name.
  std::unordered_map<std::string, counter_delta> shares;
  add_contributions(f, 1, shares);
  const auto month = [&](unsigned m) {
    const std::string key = keys::report_figure{keys::report_span::month, civil_date{2026, m, 1},
                                                "410100", "unclassified", "unclassified"}
                                .encode();
    REQUIRE(shares.contains(key));
    return shares.at(key);
  };
  const auto n = [](const counter_delta& d, metric m) { return d.n[static_cast<std::size_t>(m)]; };
  const counter_delta october = month(10);
  CHECK(n(october, metric::received) == 1);
  CHECK(n(october, metric::reply_due) == 2);
  CHECK(n(october, metric::replied_on_time) == 1);
  CHECK(n(october, metric::replied) == 1);
  CHECK(n(october, metric::replied_revisited) == 1);
  CHECK(n(october, metric::revisits) == 1);
  CHECK(n(october, metric::revisits_reached) == 1);
  CHECK(n(october, metric::satisfied) == 1);
  CHECK(n(october, metric::overdue_reported) == 0);
  CHECK(n(month(11), metric::overdue_reported) == 3);
  CHECK(n(month(11), metric::received) == 0);
  // Taken away: nothing left.
  add_contributions(f, -1, shares);
  CHECK(std::all_of(shares.begin(), shares.end(), [](const auto& s) { return s.second.zero(); }));
  // A case not received yet has none.
  report_facts unseen;
  CHECK(contributions(unseen).empty());
}

TEST_CASE("reclassification moves a case's counts; the counters equal a recount") {
  stack s;
  const auto agent = world::agent("410100");
  auto ids = play(s, {{"2026-10-12", "X", recv("410100"), agent},
                      {"2026-10-12", "X", classify(core::category::inquiry, core::domain::highway, {"a"}), agent}});
  REQUIRE(s.run(ids.at("X"), classify(core::category::complaint, core::domain::maritime, {"b"}), agent,
                at(date("2026-10-13"))));
  auto r = report_reader(s.db()).by_dimension({date("2026-10-01"), date("2026-10-31")}, std::nullopt);
  REQUIRE(r);
  REQUIRE(r.value().size() == 1);
  CHECK(r.value().begin()->first == std::pair<std::string, std::string>{"maritime", "complaint"});
  auto topics = report_reader(s.db()).topics({date("2026-10-01"), date("2026-10-31")}, std::nullopt);
  REQUIRE(topics);
  CHECK(topics.value() == std::map<std::string, std::int64_t>{{"b", 1}});
}

TEST_CASE("a report reader reads the counters as of its making, whatever is written after") {
  stack s;
  const auto agent = world::agent("410100");
  play(s, {{"2026-10-12", "X", recv("410100"), agent}});
  const period october{date("2026-10-01"), date("2026-10-31")};
  const auto received = [&](const report_reader& r) {
    auto by_center = r.by_center(october);
    REQUIRE(by_center);
    auto by_dimension = r.by_dimension(october, std::nullopt);
    REQUIRE(by_dimension);
    std::int64_t sum = 0;
    for (const auto& [dimension, f] : by_dimension.value()) sum += f[metric::received];
    const auto it = by_center.value().find("410100");
    return std::pair<std::int64_t, std::int64_t>{
        it == by_center.value().end() ? 0 : it->second[metric::received], sum};
  };

  const report_reader before(s.db());
  // Two more cases, applied by the runner while `before` is held.
  play(s, {{"2026-10-13", "Y", recv("410100"), agent}, {"2026-10-14", "Z", recv("410100"), agent}});
  CHECK(received(before) == std::pair<std::int64_t, std::int64_t>{1, 1});
  CHECK(received(report_reader(s.db())) == std::pair<std::int64_t, std::int64_t>{3, 3});
}

TEST_CASE("a day's figures of one center, domain and category are one key, its metrics cells") {
  stack s;
  const auto agent = world::agent("410100");
  // Two matters answered at once the same day: received and answered, counted in one key for
  // the day and one for the month.
  play(s, {{"2026-10-12", "A", recv("410100"), agent},
           {"2026-10-12", "A", answer(), agent},
           {"2026-10-12", "B", recv("410100"), agent},
           {"2026-10-12", "B", answer(), agent}});
  std::map<std::string, std::string> stored;
  REQUIRE(storage::scan(s.db().db(), s.db().cf(family::report_counters), {}, "read counters",
                        [&](std::string_view k, std::string_view v) {
                          stored.emplace(k, v);
                          return storage::scan_step::next;
                        }));
  // Cell 0 (received) and cell 1 (answered), 2 each: (u8 cell, be64 count) pairs.
  using namespace std::string_literals;
  const std::string two_and_two = "\x00\0\0\0\0\0\0\0\x02\x01\0\0\0\0\0\0\0\x02"s;
  CHECK(stored == std::map<std::string, std::string>{
                      {"d/2026-10-12/410100/unclassified/unclassified/", two_and_two},
                      {"m/2026-10/410100/unclassified/unclassified/", two_and_two}});
}

TEST_CASE("counters kept as merges give the reports that counters written as values give") {
  stack s;
  auto steps = october_scenario();
  const auto agent = world::agent("410100");
  steps.push_back({"2026-10-20", "X", recv("410100"), agent});
  steps.push_back(
      {"2026-10-20", "X", classify(core::category::inquiry, core::domain::highway, {"a"}), agent});
  auto ids = play(s, steps);
  // A reclassification takes from counters (a merge of a negative difference), the rest add.
  REQUIRE(s.run(ids.at("X"), classify(core::category::complaint, core::domain::maritime, {"b"}),
                agent, at(date("2026-10-21"))));
  store& merged = s.db();

  // The value-built counters: every case's contributions summed, written as Puts into a second
  // store with the same facts.
  std::map<std::string, counter_delta> recount;
  rocksdb::WriteBatch values;
  test::temp_dir other;
  auto built = store::open(other.sub("values"));
  REQUIRE(built);
  store& by_value = *built.value();
  REQUIRE(storage::scan(merged.db(), merged.cf(family::report_cases), {}, "read facts",
                        [&](std::string_view k, std::string_view v) -> result<storage::scan_step> {
                          auto f = detail::decode_row<report_facts>(v, "report facts");
                          REQUIRE(f);
                          for (const auto& [key, d] : contributions(f.value())) recount[key] += d;
                          values.Put(by_value.cf(family::report_cases), k, v);
                          return storage::scan_step::next;
                        }));
  REQUIRE_FALSE(recount.empty());
  // A figure key holds its counts by metric as cells; every other key one count.
  std::size_t cell_keys = 0;
  for (const auto& entry : recount) {
    const std::string& key = entry.first;
    const counter_delta& d = entry.second;
    const bool figure = keys::report_figure::decode(key) || keys::report_unit_figure::decode(key);
    CHECK_MESSAGE(d.cells == figure, key);
    cell_keys += d.cells ? 1 : 0;
    values.Put(by_value.cf(family::report_counters), key,
               d.cells ? storage::counter_cells_value(d.n)
                       : storage::be64_value(static_cast<std::uint64_t>(d.n[0])));
  }
  CHECK(cell_keys > 0);
  REQUIRE(by_value.db().Write(rocksdb::WriteOptions(), &values).ok());

  // The merged counters read back as the recount, key for key, but for those the
  // reclassification took back to zero: keys of zero, which no reader counts.
  std::map<std::string, counter_delta> read;
  std::set<std::string> zeros;
  REQUIRE(storage::scan(merged.db(), merged.cf(family::report_counters), {}, "read counters",
                        [&](std::string_view k, std::string_view v) {
                          if (storage::classify_counter(v) == storage::counter_value::zero) {
                            zeros.emplace(k);
                            return storage::scan_step::next;
                          }
                          counter_delta d;
                          const auto expected = recount.find(std::string(k));
                          REQUIRE_MESSAGE(expected != recount.end(), k);
                          d.cells = expected->second.cells;
                          if (d.cells) {
                            REQUIRE(storage::add_counter_cells(v, d.n));
                          } else {
                            const auto n = storage::parse_be64_value(v);
                            REQUIRE(n);
                            d.n[0] = static_cast<std::int64_t>(*n);
                          }
                          read[std::string(k)] = d;
                          return storage::scan_step::next;
                        }));
  CHECK(read == recount);
  // X's inquiry about a highway, the only one of its day: its day's keys went to zero.
  CHECK(zeros.contains("d/2026-10-20/410100/highway/inquiry/"));
  for (const auto& k : zeros) CHECK_MESSAGE(!recount.contains(k), k);

  const auto& reg = s.world().reg;
  for (const auto& req :
       {monthly_request(2026, 10, std::nullopt), monthly_request(2026, 10, center_code{"410100"}),
        annual_request(2026, std::nullopt),
        period_request({date("2026-10-01"), date("2026-10-07")}, std::nullopt)}) {
    auto a = build_report(report_reader(merged), reg, req);
    auto b = build_report(report_reader(by_value), reg, req);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a.value() == b.value());
  }
  // Compacted, the merges become values with the very bytes the Puts wrote.
  REQUIRE(merged.db()
              .CompactRange(rocksdb::CompactRangeOptions(), merged.cf(family::report_counters),
                            nullptr, nullptr)
              .ok());
  REQUIRE(merged.flush());
  REQUIRE(by_value.flush());
  auto diff = compare_stores(merged.dir(), by_value.dir(), {"report_counters", "report_cases"});
  REQUIRE(diff);
  for (const auto& d : diff.value()) MESSAGE(d.family << " " << d.key << ": " << d.what);
  CHECK(diff.value().empty());
}

TEST_CASE("holiday periods come from the calendar, for the special reports") {
  const auto periods = holiday_periods(core::testing::repo_calendar(), 2026);
  const auto national = std::find_if(periods.begin(), periods.end(),
                                     [](const auto& p) { return p.first == "国庆节"; });
  REQUIRE(national != periods.end());
  CHECK(national->second == period{date("2026-10-01"), date("2026-10-07")});
  CHECK(period_due(national->second.to) == date("2026-10-09"));
}

TEST_CASE("Art. 40(3) — a holiday period spanning the new year is one period and one report") {
  const struct {
    int year;
    std::vector<period> new_year;  // the 元旦 periods listed under that year
  } table[] = {
      {2022, {{date("2022-01-01"), date("2022-01-03")}, {date("2022-12-31"), date("2023-01-02")}}},
      {2023, {{date("2023-12-30"), date("2024-01-01")}}},  // 01-01..01-02 belong to 2022's
      {2024, {}},                                          // 01-01 belongs to 2023's
      {2025, {{date("2025-01-01"), date("2025-01-01")}}},
      {2026, {{date("2026-01-01"), date("2026-01-03")}}},
  };
  for (const auto& row : table) {
    CAPTURE(row.year);
    std::vector<period> found;
    for (const auto& [name, p] : holiday_periods(core::testing::repo_calendar(), row.year))
      if (name == "元旦") found.push_back(p);
    CHECK(found == row.new_year);
  }
  // Every holiday day of 2022-2025 lies in exactly one listed period.
  std::map<civil_date, int> covered;
  for (int y = 2022; y <= 2025; ++y)
    for (const auto& [name, p] : holiday_periods(core::testing::repo_calendar(), y))
      for (civil_date d = p.from; d <= p.to; d = d.plus_days(1)) ++covered[d];
  for (civil_date d = date("2022-01-01"); d <= date("2025-12-31"); d = d.plus_days(1)) {
    CAPTURE(d.to_string());
    const bool holiday =
        core::testing::repo_calendar().kind(d).value() == core::day_kind::holiday;
    CHECK(covered[d] == (holiday ? 1 : 0));
  }
  CHECK(period_due(date("2024-01-01")) == date("2024-01-03"));
}

TEST_CASE("a report counter below zero in a cell is a damaged store to every reader") {
  stack s;
  const auto agent = world::agent("410100");
  play(s, {{"2026-10-12", "A", recv("410100"), agent}});
  // More taken from a day's figures than was ever added: no projection writes that.
  std::array<std::int64_t, 2> minus_two{0, -2};
  REQUIRE(s.db()
              .db()
              .Merge(rocksdb::WriteOptions(), s.db().cf(family::report_counters),
                     "d/2026-10-12/410100/unclassified/unclassified/",
                     storage::counter_cells_value(minus_two))
              .ok());
  auto r = report_reader(s.db()).by_center({date("2026-10-12"), date("2026-10-12")});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == events::errc::corrupt_record);
  CHECK(r.error().message().find("report counter below zero") != std::string::npos);
}

}  // namespace
}  // namespace caseline::projections::testing
