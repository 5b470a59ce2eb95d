#include "core/retention.h"

#include <doctest/doctest.h>

#include "core/decide.h"
#include "core/errc.h"
#include "core/personal_fields.h"
#include "tests/core/test_support.h"

using namespace caseline;
using namespace caseline::core;
using caseline::core::testing::step;
using caseline::core::testing::world;

namespace {

const world w;

// A call with a recording on 2026-03-02, answered at once and archived on 2026-03-03.
case_state archived_call() {
  const civil_date call{2026, 3, 2};
  receive r{channel::phone, center_code{"410100"}, caller_info{"13800000000", "张三"}, "问路",
            recording_ref{"blob:abc", std::string(64, 'a'), 95}, case_id{"410100-20260302-000001"},
            ""};
  auto s = step({}, r, w.at(call, world::agent()));
  REQUIRE(s);
  s = step(s.value(), answer_immediately{"沿G4行驶"}, w.at(call, world::agent()));
  REQUIRE(s);
  s = step(s.value(), archive{}, w.at(civil_date{2026, 3, 3}, world::agent()));
  REQUIRE(s);
  return s.value();
}

errc code_of(const result<case_state>& r) {
  return r ? errc::ok : static_cast<errc>(r.error().code.value());
}

}  // namespace

TEST_CASE("Art. 38: retain-until dates: audio 1 year, text 5 years, both from archiving") {
  const case_state s = archived_call();
  const retention_policy p;
  CHECK(recording_retain_until(s, p) == civil_date{2027, 3, 3});
  CHECK(text_retain_until(s, p) == civil_date{2031, 3, 3});
  CHECK(add_years(civil_date{2024, 2, 29}, 1) == civil_date{2025, 2, 28});
  CHECK(retention_policy{2, 7}.check());
  CHECK(retention_policy{0, 5}.check().error().code == errc::retention_too_short);
  CHECK(retention_policy{1, 4}.check().error().code == errc::retention_too_short);
  case_state not_archived = s;
  not_archived.archived_on.reset();
  CHECK_FALSE(text_retain_until(not_archived, p).has_value());
  CHECK_FALSE(recording_retain_until(not_archived, p).has_value());
}

// A call with a recording on 2025-01-06 taken to the stage each row names; every purge, years
// later, is refused because the case is not archived (or is held).
TEST_CASE("Art. 38 — nothing of an open, reopened or held case is ever eligible for purge") {
  const civil_date call{2025, 1, 6};
  const actor unit = world::unit_member("u-zz-yg");
  const std::vector<command> open_steps = {
      receive{channel::phone, center_code{"410100"}, caller_info{"13800000000", "张三"}, "投诉",
              recording_ref{"blob:r", std::string(64, 'b'), 30}, case_id{"410100-20250106-000001"},
              ""},
      classify{category::complaint, domain::road_transport, {}, false, ""},
      transfer{unit_id{"u-zz-yg"}},
      reply{"事实", "过程", "依据", true},
      revisit{true, satisfaction::dissatisfied, timeliness::too_slow, true, "再办"},
  };
  const struct {
    const char* name;
    std::size_t steps;  // how many of open_steps were taken
    bool archived;
    bool held;
    civil_date on;
    errc recording, text;
  } table[] = {
      {"received, 3 years after the call", 1, false, false, {2028, 1, 10},
       errc::retention_not_over, errc::retention_not_over},
      {"with the unit, 2 years later", 3, false, false, {2027, 2, 1},
       errc::retention_not_over, errc::retention_not_over},
      {"replied, 10 years later", 4, false, false, {2035, 2, 1},
       errc::retention_not_over, errc::retention_not_over},
      {"reopened by the revisit, 10 years later", 5, false, false, {2035, 2, 1},
       errc::retention_not_over, errc::retention_not_over},
      {"reopened and held, 10 years later", 5, false, true, {2035, 2, 1},
       errc::retention_not_over, errc::retention_not_over},
      {"archived, 1 year after the call (audio runs from archiving)", 4, true, false,
       {2026, 1, 7}, errc::retention_not_over, errc::retention_not_over},
      {"archived and held, 10 years later", 4, true, true, {2035, 2, 1}, errc::legal_hold,
       errc::legal_hold},
      {"archived, 10 years later", 4, true, false, {2035, 2, 1}, errc::ok, errc::ok},
  };
  for (const auto& row : table) {
    CAPTURE(row.name);
    case_state s;
    civil_date day = call;
    for (std::size_t i = 0; i < row.steps; ++i) {
      const bool by_unit = std::holds_alternative<reply>(open_steps[i]);
      const bool by_officer = std::holds_alternative<revisit>(open_steps[i]);
      auto next = step(s, open_steps[i],
                       w.at(day, by_unit      ? unit
                                 : by_officer ? world::revisit_officer()
                                              : world::agent()));
      REQUIRE(next);
      s = next.value();
      day = day.plus_days(1);
    }
    if (row.steps == 5) CHECK(s.status == case_status::reopened);
    if (row.archived) {
      // A complaint is revisited before it is archived (Art. 23).
      auto revisited = step(s, revisit{true, satisfaction::satisfied, timeliness::timely, false, ""},
                            w.at(day, world::revisit_officer()));
      REQUIRE(revisited);
      auto next = step(revisited.value(), archive{}, w.at(day, world::agent()));
      REQUIRE(next);
      s = next.value();
    }
    if (row.held) {
      auto next = step(s, place_legal_hold{"诉讼"}, w.at(day, world::agent()));
      REQUIRE(next);
      s = next.value();
    }
    CHECK(code_of(step(s, purge_recording{}, w.at(row.on, world::agent()))) == row.recording);
    CHECK(code_of(step(s, shred_text{}, w.at(row.on, world::agent()))) == row.text);
    if (!row.archived) {
      CHECK_FALSE(recording_retain_until(s, retention_policy{}).has_value());
      CHECK_FALSE(text_retain_until(s, retention_policy{}).has_value());
    }
  }
}

TEST_CASE("Art. 38: nothing is purged on or before its retain-until day, and it is the day after") {
  const case_state s = archived_call();
  const struct {
    const char* name;
    command cmd;
    civil_date on;
    errc expected;
  } table[] = {
      {"audio on its last day", purge_recording{}, civil_date{2027, 3, 3}, errc::retention_not_over},
      {"audio the day before", purge_recording{}, civil_date{2027, 3, 2}, errc::retention_not_over},
      {"audio the day after", purge_recording{}, civil_date{2027, 3, 4}, errc::ok},
      {"text on its last day", shred_text{}, civil_date{2031, 3, 3}, errc::retention_not_over},
      {"text the day after", shred_text{}, civil_date{2031, 3, 4}, errc::ok},
  };
  for (const auto& row : table) {
    CAPTURE(row.name);
    const auto r = step(s, row.cmd, w.at(row.on, world::agent()));
    CHECK(code_of(r) == row.expected);
    if (!r) CHECK(r.error().message().find("Art. 38") != std::string::npos);
  }
}

TEST_CASE("Art. 38: a legal hold stops every purge until it is lifted") {
  const civil_date late{2032, 1, 5};
  auto held = step(archived_call(), place_legal_hold{"行政诉讼"}, w.at(late, world::agent()));
  REQUIRE(held);
  CHECK(held.value().legal_hold);
  CHECK(code_of(step(held.value(), shred_text{}, w.at(late, world::agent()))) == errc::legal_hold);
  CHECK(code_of(step(held.value(), purge_recording{}, w.at(late, world::agent()))) ==
        errc::legal_hold);
  CHECK(code_of(step(held.value(), place_legal_hold{"again"}, w.at(late, world::agent()))) ==
        errc::hold_state);
  auto lifted = step(held.value(), lift_legal_hold{"诉讼终结"}, w.at(late, world::agent()));
  REQUIRE(lifted);
  auto shredded = step(lifted.value(), shred_text{}, w.at(late, world::agent()));
  REQUIRE(shredded);
  const case_state& t = shredded.value();
  CHECK(t.text_shredded_on == late);
  // Personal text is gone from the state; the facts stay.
  CHECK(t.content.empty());
  CHECK(t.caller.phone.empty());
  CHECK(t.status == case_status::archived);
  CHECK(t.received_on == civil_date{2026, 3, 2});
  CHECK(code_of(step(t, shred_text{}, w.at(late, world::agent()))) == errc::nothing_to_purge);
}

TEST_CASE("Art. 38: a refused purge is recorded as an event") {
  const case_state s = archived_call();
  const auto on = civil_date{2026, 6, 1};
  auto events = decide(s, record_refused_purge{retained_item::recording, "retention not over"},
                       w.at(on, world::agent()));
  REQUIRE(events);
  REQUIRE(events.value().size() == 1);
  const auto& e = std::get<purge_refused>(events.value().front());
  CHECK(e.retain_until == civil_date{2027, 3, 3});
  CHECK(e.attempted_on == on);
  auto after = step(s, record_refused_purge{retained_item::recording, "x"}, w.at(on, world::agent()));
  REQUIRE(after);
  CHECK(after.value().purge_refusals == 1);
}

TEST_CASE("personal fields: every free-text field of every event is named") {
  event received = case_received{channel::sms, center_code{"410100"}, caller_info{"138", "张三"},
                                 "内容", std::nullopt, civil_date{}, civil_date{},
                                 case_id{"x"}, user_id{"a"}, {}};
  std::vector<std::string> names;
  for_each_personal_field(received, [&](std::string_view n, std::string& v) {
    names.emplace_back(n);
    v = "sealed";
  });
  CHECK(names == std::vector<std::string>{"caller.phone", "caller.name", "caller.account", "content"});
  CHECK(std::get<case_received>(received).content == "sealed");
  event rep = replied{"f", "p", "b", true, civil_date{}, true, false, user_id{"u"}};
  int n = 0;
  for_each_personal_field(rep, [&](std::string_view, std::string&) { ++n; });
  CHECK(n == 3);
  event arch = archived{civil_date{}, user_id{"u"}};
  for_each_personal_field(arch, [&](std::string_view, std::string&) { ++n; });
  CHECK(n == 3);
}
