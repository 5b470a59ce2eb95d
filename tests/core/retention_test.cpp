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

TEST_CASE("Art. 38: retain-until dates: audio 1 year from the call, text 5 years from archiving") {
  const case_state s = archived_call();
  const retention_policy p;
  CHECK(recording_retain_until(s, p) == civil_date{2027, 3, 2});
  CHECK(text_retain_until(s, p) == civil_date{2031, 3, 3});
  CHECK(add_years(civil_date{2024, 2, 29}, 1) == civil_date{2025, 2, 28});
  CHECK(retention_policy{2, 7}.check());
  CHECK(retention_policy{0, 5}.check().error().code == errc::retention_too_short);
  CHECK(retention_policy{1, 4}.check().error().code == errc::retention_too_short);
  case_state not_archived = s;
  not_archived.archived_on.reset();
  CHECK_FALSE(text_retain_until(not_archived, p).has_value());
}

TEST_CASE("Art. 38: nothing is purged on or before its retain-until day, and it is the day after") {
  const case_state s = archived_call();
  const struct {
    const char* name;
    command cmd;
    civil_date on;
    errc expected;
  } table[] = {
      {"audio on its last day", purge_recording{}, civil_date{2027, 3, 2}, errc::retention_not_over},
      {"audio the day before", purge_recording{}, civil_date{2027, 3, 1}, errc::retention_not_over},
      {"audio the day after", purge_recording{}, civil_date{2027, 3, 3}, errc::ok},
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
  CHECK(e.retain_until == civil_date{2027, 3, 2});
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
