#include "core/decide.h"

#include <doctest/doctest.h>

#include "core/errc.h"
#include "tests/core/test_support.h"

using namespace caseline;
using namespace caseline::core;
using caseline::core::testing::date;
using caseline::core::testing::step;
using caseline::core::testing::world;

namespace {

const world w;

receive a_call(const char* center = "410100", const char* id = "410100-20261102-000001") {
  return receive{channel::phone, center_code{center}, caller_info{"13800000000", "张三"},
                 "出租车拒载", std::nullopt, case_id{id}, ""};
}

// Unwraps a step that must succeed.
case_state ok(const result<case_state>& r) {
  if (!r) FAIL(r.error().message());
  return r.value();
}

// The rule error of a step that must fail.
errc fails(const result<case_state>& r) {
  if (r) return errc::ok;
  // Every rule error names its article.
  const std::string m = r.error().message();
  if (r.error().code != errc::invalid_argument && r.error().code != errc::case_not_found)
    CHECK_MESSAGE(m.find("Art. ") != std::string::npos, m);
  return static_cast<errc>(r.error().code.value());
}

const reply a_reply{"经查属实", "现场核查", "《道路运输条例》", true};

case_state received_on(civil_date d) { return ok(step({}, a_call(), w.at(d, world::agent()))); }

case_state classified_as(category c, civil_date d) {
  return ok(step(received_on(d), classify{c, domain::road_transport, {"出租车"}, false, ""},
                 w.at(d, world::agent())));
}

case_state transferred_as(category c, civil_date d) {
  return ok(step(classified_as(c, d), transfer{unit_id{"u-zz-yg"}}, w.at(d, world::agent())));
}

const actor unit = world::unit_member("u-zz-yg");

}  // namespace

TEST_CASE("Art. 26: a matter is recorded once, with its transfer deadline") {
  const civil_date mon{2026, 11, 2};
  const case_state s = received_on(mon);
  CHECK(s.status == case_status::received);
  CHECK(s.id() == "410100-20261102-000001");
  CHECK(s.transfer_due == civil_date{2026, 11, 5});
  CHECK(s.owner_center() == "410100");
  CHECK(fails(step(s, a_call(), w.at(mon, world::agent()))) == errc::case_already_exists);
  CHECK(fails(step({}, a_call("419999"), w.at(mon, world::agent("419999")))) == errc::unknown_center);
  CHECK(fails(step({}, a_call(), w.at(mon, world::agent("410200")))) == errc::not_the_owning_center);
  CHECK(fails(step({}, answer_immediately{"x"}, w.at(mon, world::agent()))) == errc::case_not_found);
  // Received the day before National Day: the transfer deadline runs past the holiday.
  CHECK(received_on(civil_date{2026, 9, 30}).transfer_due == civil_date{2026, 10, 10});
}

TEST_CASE("Art. 26: what can be answered at once is answered and can be archived") {
  const civil_date d{2026, 11, 2};
  case_state s = ok(step(received_on(d), answer_immediately{"营业时间 8:00-18:00"}, w.at(d, world::agent())));
  CHECK(s.status == case_status::answered);
  CHECK(deadlines(s, w.at(d, world::agent()).now).empty());  // no transfer due any more
  s = ok(step(s, archive{}, w.at(d, world::agent())));
  CHECK(s.status == case_status::archived);
  CHECK(fails(step(s, archive{}, w.at(d, world::agent()))) == errc::case_archived);
}

TEST_CASE("Art. 39 — every matter is counted by domain and category, also one answered at once") {
  const civil_date d{2026, 11, 2};
  const auto agent = w.at(d, world::agent());
  receive named = a_call();
  named.cat = category::inquiry;
  named.dom = domain::waterway;
  const classify as_complaint{category::complaint, domain::highway, {"收费"}, false, ""};
  const answer_immediately answer{"营业时间 8:00-18:00"};
  const not_accept refuse{not_accepted_reason::outside_remit, "不属交通运输部门职责"};
  // Each row: how the matter is received, what happens to it, and what it ends as.
  const struct {
    const char* name;
    receive intake;
    std::vector<command> then;
    case_status status;
    std::optional<category> cat;
    std::optional<domain> dom;
    errc last;  // the outcome of the last command
  } rows[] = {
      {"named at intake, answered", named, {answer}, case_status::answered, category::inquiry,
       domain::waterway, errc::ok},
      {"answered, then classified: stays answered", a_call(), {answer, as_complaint},
       case_status::answered, category::complaint, domain::highway, errc::ok},
      {"named at intake, answered, reclassified", named, {answer, as_complaint},
       case_status::answered, category::complaint, domain::highway, errc::ok},
      {"named at intake, then classified for transfer", named, {as_complaint},
       case_status::classified, category::complaint, domain::highway, errc::ok},
      {"named at intake: still to be classified before transfer", named,
       {transfer{unit_id{"u-zz-yg"}}}, case_status::received, category::inquiry, domain::waterway,
       errc::not_classified},
      {"not accepted: not counted as accepted, not classified after", a_call(),
       {refuse, as_complaint}, case_status::not_accepted, std::nullopt, std::nullopt,
       errc::not_at_intake},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    case_state s = ok(step({}, r.intake, agent));
    errc last = errc::ok;
    for (const auto& c : r.then) {
      auto next = step(s, c, agent);
      last = fails(next);
      if (next) s = next.value();
    }
    CHECK(last == r.last);
    CHECK(s.status == r.status);
    CHECK(s.cat == r.cat);
    CHECK(s.dom == r.dom);
  }
  // Both or neither at intake.
  receive half = a_call();
  half.cat = category::complaint;
  CHECK(fails(step({}, half, agent)) == errc::invalid_argument);
  // An answered, classified matter is archived as an answered one.
  case_state s = ok(step(ok(step(ok(step({}, a_call(), agent)), answer, agent)), as_complaint, agent));
  CHECK(deadlines(s, agent.now).empty());
  CHECK(ok(step(s, archive{}, agent)).status == case_status::archived);
}

TEST_CASE("Art. 27 — the clock starts when the matter was received, at most 7 days back") {
  const civil_date mon{2026, 11, 2};
  const auto agent = w.at(mon, world::agent());  // recorded Mon 2 Nov 10:00
  constexpr std::int64_t hour = 3600 * 1000;
  const struct {
    const char* name;
    std::optional<timestamp> occurred;
    errc outcome;
    civil_date received_on;
    civil_date transfer_due;
  } rows[] = {
      {"recorded as it comes", std::nullopt, errc::ok, mon, {2026, 11, 5}},
      {"the same instant", agent.now, errc::ok, mon, {2026, 11, 5}},
      {"a message of Friday evening", timestamp{agent.now.ms - 64 * hour}, errc::ok, {2026, 10, 30},
       {2026, 11, 4}},
      {"exactly 7 days back", timestamp{agent.now.ms - 7 * 24 * hour}, errc::ok, {2026, 10, 26},
       {2026, 10, 29}},
      {"7 days and a millisecond back", timestamp{agent.now.ms - 7 * 24 * hour - 1},
       errc::received_out_of_range, {}, {}},
      {"a millisecond in the future", timestamp{agent.now.ms + 1}, errc::received_out_of_range, {}, {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    receive c = a_call();
    c.occurred_at = r.occurred;
    auto s = step({}, c, agent);
    REQUIRE(fails(s) == r.outcome);
    if (!s) {
      CHECK(s.error().message().find("(Art. 27)") != std::string::npos);
      continue;
    }
    CHECK(s.value().received_on == r.received_on);
    CHECK(s.value().transfer_due == r.transfer_due);
    CHECK(s.value().received_at == r.occurred.value_or(agent.now));
    CHECK(s.value().recorded_at == agent.now);
  }
  // A Friday message transferred on Thursday is late: the deadline was Wednesday.
  receive friday = a_call();
  friday.occurred_at = timestamp{agent.now.ms - 64 * hour};
  case_state s = ok(step({}, friday, agent));
  const civil_date thu{2026, 11, 5};
  s = ok(step(s, classify{category::inquiry, domain::road_transport, {}, false, ""}, w.at(thu, world::agent())));
  auto t = decide(s, transfer{unit_id{"u-zz-yg"}}, w.at(thu, world::agent()));
  REQUIRE(t);
  CHECK(std::get<transferred>(t.value().front()).late);
}

TEST_CASE("Art. 22(4), 23 — who receives and archives, and a way to answer the caller") {
  const civil_date d{2026, 11, 2};
  const actor city_rv = world::revisit_officer();
  const actor prov_rv = world::revisit_officer("410000");
  const actor prov_agent = world::agent("410000");
  const struct {
    const char* name;
    actor who;
    const char* center;
    channel via;
    const char* phone;
    const char* account;
    errc outcome;
  } intake[] = {
      {"an agent, by phone", world::agent(), "410100", channel::phone, "13800000000", "", errc::ok},
      {"the phone channel needs a phone", world::agent(), "410100", channel::phone, "", "wx-1",
       errc::invalid_argument},
      {"WeChat: the account answers", world::agent(), "410100", channel::wechat, "", "wx-1", errc::ok},
      {"the website with no way back", world::agent(), "410100", channel::website, "", "",
       errc::invalid_argument},
      {"provincial revisit officer, WeChat", prov_rv, "410000", channel::wechat, "", "wx-1", errc::ok},
      {"provincial revisit officer, app", prov_rv, "410000", channel::app, "13800000000", "", errc::ok},
      {"provincial revisit officer, website", prov_rv, "410000", channel::website, "", "u-42", errc::ok},
      {"provincial revisit officer, phone", prov_rv, "410000", channel::phone, "13800000000", "",
       errc::not_permitted},
      {"a city's revisit officer", city_rv, "410100", channel::wechat, "", "wx-1", errc::not_permitted},
  };
  for (const auto& r : intake) {
    CAPTURE(r.name);
    receive c = a_call(r.center, "x-1");
    c.via = r.via;
    c.caller = caller_info{r.phone, "", r.account};
    CHECK(fails(step({}, c, w.at(d, r.who))) == r.outcome);
  }

  // Archiving a closed work order.
  const answer_immediately answer{"营业时间 8:00-18:00"};
  const case_state by_agent =
      ok(step(ok(step({}, a_call(), w.at(d, world::agent()))), answer, w.at(d, world::agent())));
  receive online = a_call("410000", "410000-1");
  online.via = channel::wechat;
  online.caller = caller_info{"", "", "wx-1"};
  const case_state by_rv = ok(step(ok(step({}, online, w.at(d, prov_rv))), answer, w.at(d, prov_rv)));
  const case_state phone_at_prov =
      ok(step(ok(step({}, a_call("410000", "410000-2"), w.at(d, prov_agent))), answer, w.at(d, prov_agent)));
  const actor other_agent{user_id{"agent-2@410100"}, role::agent, center_code{"410100"}, {}};
  const actor supervisor{user_id{"sv@410100"}, role::supervisor, center_code{"410100"}, {}};
  const struct {
    const char* name;
    const case_state& s;
    actor who;
    errc outcome;
  } archiving[] = {
      {"the agent who handled it", by_agent, world::agent(), errc::ok},
      {"another agent", by_agent, other_agent, errc::not_permitted},
      {"the supervisor", by_agent, supervisor, errc::ok},
      {"the provincial revisit officer, a WeChat matter", by_rv, prov_rv, errc::ok},
      {"the provincial revisit officer, a phone matter", phone_at_prov, prov_rv, errc::not_permitted},
  };
  for (const auto& r : archiving) {
    CAPTURE(r.name);
    auto s = step(r.s, archive{}, w.at(d, r.who));
    CHECK(fails(s) == r.outcome);
    if (!s) CHECK(s.error().message().find("Art. 2") != std::string::npos);
  }
}

TEST_CASE("Art. 28: the five reasons for not accepting, told to the caller") {
  const civil_date d{2026, 11, 2};
  for (const auto reason : {not_accepted_reason::outside_remit, not_accepted_reason::no_clear_subject,
                            not_accepted_reason::handled_by_other_body,
                            not_accepted_reason::secrets_or_privacy, not_accepted_reason::excluded_by_law}) {
    CAPTURE(to_string(reason));
    const case_state s = ok(step(received_on(d), not_accept{reason, "已告知来电人"}, w.at(d, world::agent())));
    CHECK(s.status == case_status::not_accepted);
    CHECK(s.not_accepted_for == reason);
  }
  CHECK(fails(step(received_on(d), not_accept{not_accepted_reason::outside_remit, " "},
                   w.at(d, world::agent()))) == errc::invalid_argument);
  CHECK(fails(step(transferred_as(category::inquiry, d), not_accept{not_accepted_reason::outside_remit, "x"},
                   w.at(d, world::agent()))) == errc::not_at_intake);
}

TEST_CASE("Art. 29: rail, aviation, postal, expressway rescue and water distress are redirected") {
  const civil_date d{2026, 11, 2};
  const struct {
    redirect_target target;
    const char* number;
  } rows[] = {{redirect_target::rail, "12306"},
              {redirect_target::aviation, "12326"},
              {redirect_target::postal, "12305"},
              {redirect_target::expressway_rescue, "12122"},
              {redirect_target::water_distress, "12395"}};
  for (const auto& r : rows) {
    const case_state s = ok(step(received_on(d), redirect{r.target, r.number, false}, w.at(d, world::agent())));
    CHECK(s.status == case_status::redirected);
    CHECK(s.redirected_to == r.target);
  }
  CHECK(fails(step(received_on(d), redirect{redirect_target::rail, "", false}, w.at(d, world::agent()))) ==
        errc::invalid_argument);
  CHECK(fails(step(classified_as(category::inquiry, d), redirect{redirect_target::rail, "12306", false},
                   w.at(d, world::agent()))) == errc::not_at_intake);
}

TEST_CASE("Art. 5: expressway matters belong to the provincial center wherever received") {
  const civil_date d{2026, 11, 2};
  const case_state s = ok(step(received_on(d), classify{category::complaint, domain::highway, {"收费"}, true, ""},
                               w.at(d, world::agent())));
  CHECK(s.owner_center() == "410000");
  CHECK(fails(step(s, transfer{unit_id{"u-zz-yg"}}, w.at(d, world::agent()))) == errc::not_the_owning_center);
  CHECK(fails(step(s, transfer{unit_id{"u-zz-yg"}}, w.at(d, world::agent("410000")))) ==
        errc::unit_not_registered);
  const case_state t = ok(step(s, transfer{unit_id{"u-prov-gs"}}, w.at(d, world::agent("410000"))));
  CHECK(t.unit == unit_id{"u-prov-gs"});
  CHECK(fails(step(received_on(d), classify{category::complaint, domain::waterway, {}, true, ""},
                   w.at(d, world::agent()))) == errc::expressway_not_highway);
}

TEST_CASE("Art. 27: classified before transfer, transferred within 3 wd or marked late") {
  const civil_date mon{2026, 11, 2};
  CHECK(fails(step(received_on(mon), transfer{unit_id{"u-zz-yg"}}, w.at(mon, world::agent()))) ==
        errc::not_classified);
  const case_state c = classified_as(category::inquiry, mon);
  const struct {
    civil_date on;
    bool late;
    deadline_state state;
  } rows[] = {{mon, false, deadline_state::met},
              {civil_date{2026, 11, 5}, false, deadline_state::met},
              {civil_date{2026, 11, 6}, true, deadline_state::missed}};
  for (const auto& r : rows) {
    auto events = decide(c, transfer{unit_id{"u-zz-yg"}}, w.at(r.on, world::agent()));
    REQUIRE(events);
    CHECK(std::get<transferred>(events.value().front()).late == r.late);
    const case_state t = ok(step(c, transfer{unit_id{"u-zz-yg"}}, w.at(r.on, world::agent())));
    CHECK(deadlines(t, w.at(r.on, world::agent()).now).front().state == r.state);
  }
  CHECK(fails(step(c, transfer{unit_id{"u-kf-yg"}}, w.at(mon, world::agent()))) == errc::unit_not_registered);
  CHECK(fails(step(c, transfer{unit_id{"u-nobody"}}, w.at(mon, world::agent()))) == errc::unit_not_registered);
}

TEST_CASE("Art. 27: escalation goes to the upper center or the department") {
  const civil_date d{2026, 11, 2};
  const case_state c = classified_as(category::complaint, d);
  const case_state up = ok(step(c, escalate{escalation_target::upper_center, escalation_reason::cross_region, "郑汴"},
                                w.at(d, world::agent())));
  CHECK(up.status == case_status::escalated);
  CHECK(up.owner_center() == "410000");
  CHECK(fails(step(up, escalate{escalation_target::upper_center, escalation_reason::no_unit, ""},
                   w.at(d, world::agent("410000")))) == errc::no_upper_center);
  const case_state dept = ok(step(up, escalate{escalation_target::department, escalation_reason::no_unit, ""},
                                  w.at(d, world::agent("410000"))));
  CHECK(dept.owner_center() == "410000");
  CHECK(ok(step(dept, transfer{unit_id{"u-prov-gs"}}, w.at(d, world::agent("410000")))).status ==
        case_status::transferred);
  CHECK(fails(step(received_on(d), escalate{}, w.at(d, world::agent()))) == errc::not_classified);
}

TEST_CASE("Art. 31: a unit names a responsible contact to a known center") {
  registry reg = registry::henan();
  CHECK(reg.center(center_code{"410100"})->name == "郑州市");
  CHECK(reg.upper_center(center_code{"410100"}) == center_code{"410000"});
  CHECK_FALSE(reg.upper_center(center_code{"410000"}));
  CHECK(reg.check(unit_registered{unit_id{"u"}, "n", center_code{"410100"}, {"李四", "139", "", ""}}));
  CHECK(reg.check(unit_registered{unit_id{"u"}, "n", center_code{"410100"}, {"李四", "", "", ""}}).error().code ==
        errc::invalid_argument);
  CHECK(reg.check(unit_registered{unit_id{"u"}, "n", center_code{"999999"}, {"李四", "1", "", ""}}).error().code ==
        errc::unknown_center);
}

TEST_CASE("Art. 32 — a unit returns a matter within 2 wd; later only a shift lead accepts it") {
  const civil_date fri{2026, 10, 30};
  const case_state t = transferred_as(category::inquiry, fri);
  CHECK(t.return_by == civil_date{2026, 11, 3});
  const actor lead{user_id{"lead@410100"}, role::shift_lead, center_code{"410100"}, {}};
  const actor other_lead{user_id{"lead@410200"}, role::shift_lead, center_code{"410200"}, {}};
  const actor supervisor{user_id{"sup@410100"}, role::supervisor, center_code{"410100"}, {}};
  const return_case by_unit{"不属本单位职责"};
  const accept_late_return by_lead{"单位逾期退回，经核确非其职责", "不属本单位职责"};
  const civil_date in_window{2026, 11, 3};
  const civil_date after{2026, 11, 4};
  const struct {
    const char* what;
    command cmd;
    actor who;
    civil_date on;
    errc expected;
  } rows[] = {
      {"the unit within the window", by_unit, unit, in_window, errc::ok},
      {"the unit after the window", by_unit, unit, after, errc::return_window_passed},
      {"the shift lead within the window", by_lead, lead, in_window, errc::return_window_open},
      {"the shift lead after the window", by_lead, lead, after, errc::ok},
      {"a supervisor after the window", by_lead, supervisor, after, errc::ok},
      {"an agent after the window", by_lead, world::agent(), after, errc::not_permitted},
      {"the unit accepting its own late return", by_lead, unit, after, errc::not_permitted},
      {"another center's shift lead", by_lead, other_lead, after, errc::not_the_owning_center},
      {"the shift lead without a reason", accept_late_return{" ", "x"}, lead, after,
       errc::invalid_argument},
      {"the unit without reasons", return_case{""}, unit, in_window, errc::invalid_argument},
      {"another unit", return_case{"x"}, world::unit_member("u-zz-gl"), in_window,
       errc::not_the_handling_unit},
      {"an agent returning", return_case{"x"}, world::agent(), in_window, errc::not_permitted},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    const auto next = step(t, r.cmd, w.at(r.on, r.who));
    CHECK(fails(next) == r.expected);
    if (!next) continue;
    const case_state& s = next.value();
    CHECK(s.status == case_status::returned);
    CHECK_FALSE(s.unit);
    CHECK(s.returns == 1);
    const bool late = r.on > in_window;
    CHECK(s.late_returns == (late ? 1u : 0u));
    const auto window = return_window(s, w.at(r.on, r.who).now);
    REQUIRE(window);
    CHECK(window->state == (late ? deadline_state::missed : deadline_state::met));
    CHECK(window->met_on == r.on);
    // The event is the actor's: the unit's own return, or the shift lead's acceptance.
    auto events = decide(t, r.cmd, w.at(r.on, r.who));
    REQUIRE(events);
    const auto& e = std::get<returned>(events.value().front());
    CHECK(e.unit() == "u-zz-yg");
    CHECK(e.late == late);
    CHECK(e.by == r.who.id);
    CHECK(e.reasons == "不属本单位职责");
    CHECK(e.accepted_late_reason == (late ? by_lead.reason : std::string()));
  }
}

TEST_CASE("Art. 32 — the return window is pending, then closed when the unit keeps the matter") {
  const civil_date fri{2026, 10, 30};
  const case_state t = transferred_as(category::inquiry, fri);
  const struct {
    civil_date on;
    deadline_state state;
  } rows[] = {{fri, deadline_state::pending},
              {civil_date{2026, 11, 3}, deadline_state::pending},
              {civil_date{2026, 11, 4}, deadline_state::closed}};
  for (const auto& r : rows) {
    CAPTURE(r.on);
    const auto window = return_window(t, w.at(r.on, unit).now);
    REQUIRE(window);
    CHECK(window->due == civil_date{2026, 11, 3});
    CHECK(window->state == r.state);
    CHECK_FALSE(window->met_on);
  }
  CHECK_FALSE(return_window(classified_as(category::inquiry, fri), w.at(fri, unit).now));
  // Not a deadline the center reminds of (Art. 35).
  for (const auto& d : deadlines(t, w.at(civil_date{2026, 11, 4}, unit).now))
    CHECK(d.kind != deadline_kind::return_window);
}

TEST_CASE("Art. 32 — a re-transfer to the same unit does not restart its reply clock") {
  const civil_date fri{2026, 10, 30};
  const case_state t = transferred_as(category::inquiry, fri);  // reply due 2026-11-06
  CHECK(t.reply_due == civil_date{2026, 11, 6});
  const case_state back = ok(step(t, return_case{"不属本单位职责"}, w.at(civil_date{2026, 11, 2}, unit)));
  const civil_date thu{2026, 11, 5};
  const struct {
    const char* unit;
    civil_date reply_from;
    civil_date reply_due;
    bool from_first;
  } rows[] = {{"u-zz-yg", fri, civil_date{2026, 11, 6}, true},
              {"u-zz-gl", thu, civil_date{2026, 11, 12}, false}};
  for (const auto& r : rows) {
    CAPTURE(r.unit);
    auto events = decide(back, transfer{unit_id{r.unit}}, w.at(thu, world::agent()));
    REQUIRE(events);
    const auto& e = std::get<transferred>(events.value().front());
    CHECK(e.reply_due == r.reply_due);
    CHECK(e.reply_from.has_value() == r.from_first);
    CHECK(e.return_by == civil_date{2026, 11, 9});  // the window is the new transfer's
    const case_state again = ok(step(back, transfer{unit_id{r.unit}}, w.at(thu, world::agent())));
    CHECK(again.reply_due == r.reply_due);
    CHECK(again.reply_from == r.reply_from);
    CHECK(again.transferred_on == thu);
    // Replying on the day after the first transfer's deadline is late for the same unit.
    const actor member = world::unit_member(r.unit);
    const auto replied_state = ok(step(again, a_reply, w.at(civil_date{2026, 11, 9}, member)));
    CHECK(replied_state.replied_on_time == !r.from_first);
  }
}

TEST_CASE("Art. 33: reply limits of 5 / 10 / 30 wd by category, configurable") {
  const civil_date mon{2026, 11, 2};
  const struct {
    category cat;
    civil_date due;
  } rows[] = {{category::inquiry, {2026, 11, 9}},
              {category::suggestion, {2026, 11, 16}},
              {category::complaint, {2026, 12, 14}}};
  for (const auto& r : rows) CHECK(transferred_as(r.cat, mon).reply_due == r.due);
  world custom;
  custom.sla.inquiry_reply_days = working_days{7};
  const case_state c = classified_as(category::inquiry, mon);
  CHECK(ok(step(c, transfer{unit_id{"u-zz-yg"}}, custom.at(mon, world::agent()))).reply_due ==
        civil_date{2026, 11, 11});
}

TEST_CASE("Art. 34 — an extension of at most 30 wd, before the reply deadline, by the unit's head") {
  const civil_date mon{2026, 11, 2};
  const case_state t = transferred_as(category::inquiry, mon);  // due 2026-11-09
  const actor head = world::unit_member("u-zz-yg", role::unit_head);
  const extend ten{extension_reason::evidence, working_days{10}, "取证困难"};
  const case_state e = ok(step(t, ten, w.at(civil_date{2026, 11, 9}, head)));
  CHECK(e.reply_due == civil_date{2026, 11, 23});
  CHECK(e.extension_days == 10);
  // The approver is the head who acts: the event says so, whatever a client might have named.
  const auto ev = decide(t, ten, w.at(mon, head));
  REQUIRE(ev);
  const auto& x = std::get<extended>(ev.value().front());
  CHECK(x.approved_by == head.id());
  CHECK(x.by == head.id);
  CHECK(x.requested_by().empty());
  CHECK(x.explanation == "取证困难");
  auto late = step(t, ten, w.at(civil_date{2026, 11, 10}, head));
  CHECK(fails(late) == errc::extension_after_deadline);
  CHECK(late.error().message().find("extension must be requested before the reply deadline (Art. 34)") == 0);
  const extend twenty_one{extension_reason::other, working_days{21}, "x"};
  CHECK(fails(step(e, twenty_one, w.at(mon, head))) == errc::extension_too_long);
  const extend twenty{extension_reason::complex, working_days{20}, "x"};
  CHECK(ok(step(e, twenty, w.at(mon, head))).extension_days == 30);
  CHECK(fails(step(t, extend{extension_reason::complex, working_days{5}, " "}, w.at(mon, head))) ==
        errc::invalid_argument);
  CHECK(fails(step(t, ten, w.at(mon, world::agent()))) == errc::not_permitted);
  CHECK(fails(step(t, ten, w.at(mon, world::unit_member("u-zz-gl", role::unit_head)))) ==
        errc::not_the_handling_unit);
}

TEST_CASE("Art. 34 — the unit requests an extension, its head approves it") {
  const civil_date mon{2026, 11, 2};
  const case_state t = transferred_as(category::inquiry, mon);  // due 2026-11-09
  const actor head = world::unit_member("u-zz-yg", role::unit_head);
  const actor other_head = world::unit_member("u-zz-gl", role::unit_head);
  const extend five{extension_reason::appraisal, working_days{5}, "需技术鉴定"};
  // A staff member's extension is a request: the deadline does not move until the head approves.
  const case_state asked = ok(step(t, five, w.at(mon, unit)));
  CHECK(asked.reply_due == civil_date{2026, 11, 9});
  CHECK(asked.extension_days == 0);
  REQUIRE(asked.extension_request);
  CHECK(asked.extension_request->days() == 5);
  CHECK(asked.extension_request->by == unit.id);
  const struct {
    const char* what;
    case_state from;
    actor who;
    civil_date on;
    errc expected;
  } rows[] = {
      {"the head approves", asked, head, civil_date{2026, 11, 9}, errc::ok},
      {"the staff approve their own request", asked, unit, mon, errc::not_permitted},
      {"an agent", asked, world::agent(), mon, errc::not_permitted},
      {"another unit's head", asked, other_head, mon, errc::not_the_handling_unit},
      {"nothing was requested", t, head, mon, errc::no_extension_request},
      {"after the reply deadline", asked, head, civil_date{2026, 11, 10},
       errc::extension_after_deadline},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    const auto next = step(r.from, approve_extension{}, w.at(r.on, r.who));
    CHECK(fails(next) == r.expected);
    if (!next) continue;
    CHECK(next.value().reply_due == civil_date{2026, 11, 16});
    CHECK(next.value().extension_days == 5);
    CHECK_FALSE(next.value().extension_request);
    const auto ev = decide(r.from, approve_extension{}, w.at(r.on, r.who));
    REQUIRE(ev);
    const auto& x = std::get<extended>(ev.value().front());
    CHECK(x.approved_by == head.id());
    CHECK(x.by == head.id);
    CHECK(x.requested_by == unit.id);
    CHECK(x.reason == extension_reason::appraisal);
    CHECK(x.explanation.empty());  // it is the request's, sealed in its own event
  }
  // A request is checked like an extension: within 30 wd in total, before the deadline.
  CHECK(fails(step(t, extend{extension_reason::other, working_days{31}, "x"}, w.at(mon, unit))) ==
        errc::extension_too_long);
  CHECK(fails(step(t, five, w.at(civil_date{2026, 11, 10}, unit))) == errc::extension_after_deadline);
  // A later request replaces a pending one; a return drops it.
  const case_state again = ok(step(asked, extend{extension_reason::other, working_days{3}, "y"},
                                   w.at(mon, unit)));
  CHECK(again.extension_request->days() == 3);
  const case_state back = ok(step(asked, return_case{"不属本单位职责"}, w.at(mon, unit)));
  CHECK_FALSE(back.extension_request);
}

TEST_CASE("Art. 35: a reminder only for a deadline passed unmet, once per deadline") {
  const civil_date mon{2026, 11, 2};
  const case_state t = transferred_as(category::inquiry, mon);  // reply due 2026-11-09
  const remind r{deadline_kind::reply, civil_date{2026, 11, 9}};
  CHECK(fails(step(t, r, w.at(civil_date{2026, 11, 9}, world::agent()))) == errc::nothing_overdue);
  const case_state s = ok(step(t, r, w.at(civil_date{2026, 11, 10}, world::agent())));
  CHECK(s.reminders.size() == 1);
  CHECK(decide(s, r, w.at(civil_date{2026, 11, 11}, world::agent())).value().empty());
  CHECK(fails(step(t, remind{deadline_kind::reply, civil_date{2026, 11, 8}},
                   w.at(civil_date{2026, 11, 10}, world::agent()))) == errc::nothing_overdue);
  // The transfer deadline: received Monday, not transferred by Thursday.
  const case_state c = classified_as(category::inquiry, mon);
  CHECK(ok(step(c, remind{deadline_kind::transfer, civil_date{2026, 11, 5}},
                w.at(civil_date{2026, 11, 6}, world::agent()))).reminders.size() == 1);
  CHECK(fails(step(t, remind{deadline_kind::transfer, civil_date{2026, 11, 5}},
                   w.at(civil_date{2026, 11, 6}, world::agent()))) == errc::nothing_overdue);
}

TEST_CASE("Art. 35: a reply deadline passed unmet is reported to the department, once per cycle") {
  const civil_date mon{2026, 11, 2};
  const case_state t = transferred_as(category::inquiry, mon);  // reply due 2026-11-09
  const remind r{deadline_kind::reply, civil_date{2026, 11, 9}};
  const auto late = w.at(civil_date{2026, 11, 10}, world::agent());
  auto evs = decide(t, r, late);
  REQUIRE(evs);
  // The reminder and the report, in one append: both or neither.
  REQUIRE(evs.value().size() == 2);
  CHECK(std::holds_alternative<reminded>(evs.value()[0]));
  const auto* rep = std::get_if<overdue_reported>(&evs.value()[1]);
  REQUIRE(rep != nullptr);
  CHECK(rep->due == civil_date{2026, 11, 9});
  CHECK(rep->reported_on == civil_date{2026, 11, 10});
  CHECK(rep->unit == *t.unit);
  CHECK(rep->center == t.owner_center);
  CHECK(rep->by == late.who.id);
  const case_state s = ok(step(t, r, late));
  REQUIRE(s.overdue_reports.size() == 1);
  CHECK(s.overdue_reports[0] ==
        overdue_report{civil_date{2026, 11, 9}, civil_date{2026, 11, 10}, *t.unit});
  // The same cycle again: nothing, neither reminder nor report.
  CHECK(decide(s, r, w.at(civil_date{2026, 11, 12}, world::agent())).value().empty());
  // The center's own transfer deadline is reminded, not reported: no unit was late.
  const case_state c = classified_as(category::inquiry, mon);
  auto own = decide(c, remind{deadline_kind::transfer, civil_date{2026, 11, 5}},
                    w.at(civil_date{2026, 11, 6}, world::agent()));
  REQUIRE(own);
  REQUIRE(own.value().size() == 1);
  CHECK(std::holds_alternative<reminded>(own.value()[0]));
}

TEST_CASE("Art. 37: a reply states facts, process and basis") {
  const civil_date mon{2026, 11, 2};
  const case_state t = transferred_as(category::suggestion, mon);
  CHECK(fails(step(t, reply{"", "p", "b", true}, w.at(mon, unit))) == errc::reply_incomplete);
  CHECK(fails(step(t, reply{"f", "p", " ", true}, w.at(mon, unit))) == errc::reply_incomplete);
  const case_state r = ok(step(t, a_reply, w.at(civil_date{2026, 11, 16}, unit)));
  CHECK(r.status == case_status::replied);
  CHECK(r.replied_on_time);
  CHECK_FALSE(ok(step(t, a_reply, w.at(civil_date{2026, 11, 17}, unit))).replied_on_time);
  CHECK(deadlines(r, w.at(civil_date{2026, 12, 1}, unit).now).back().state == deadline_state::met);
}

TEST_CASE("Art. 23: revisits record the views, further handling reopens the case") {
  const civil_date mon{2026, 11, 2};
  const case_state r = ok(step(transferred_as(category::complaint, mon), a_reply, w.at(mon, unit)));
  CHECK(r.revisit_required);
  const actor rv = world::revisit_officer();
  CHECK(fails(step(transferred_as(category::complaint, mon), revisit{}, w.at(mon, rv))) == errc::not_replied);
  CHECK(fails(step(r, revisit{true, std::nullopt, std::nullopt, false, ""}, w.at(mon, rv))) ==
        errc::invalid_argument);
  CHECK(fails(step(r, revisit{false, std::nullopt, std::nullopt, false, ""}, w.at(mon, world::agent()))) ==
        errc::not_permitted);
  const case_state again = ok(step(
      r, revisit{true, satisfaction::dissatisfied, timeliness::too_slow, true, "未退费"}, w.at(mon, rv)));
  CHECK(again.status == case_status::reopened);
  CHECK(again.reply_due == civil_date{2026, 12, 14});
  CHECK(again.unit == unit_id{"u-zz-yg"});
  const case_state r2 = ok(step(again, a_reply, w.at(civil_date{2026, 11, 3}, unit)));
  const case_state done = ok(step(
      r2, revisit{true, satisfaction::satisfied, timeliness::acceptable, false, ""}, w.at(mon, rv)));
  CHECK(done.status == case_status::revisited);
  CHECK(ok(step(done, archive{}, w.at(mon, world::agent()))).status == case_status::archived);
}

TEST_CASE("Art. 23, 46: the sample picks a closure whenever the picks would fall below 30%") {
  CHECK(stable_hash("") == 14695981039346656037ULL);
  CHECK(stable_hash("a") == 0xaf63dc4c8601ec8cULL);  // FNV-1a 64 reference value (calendar versions)
  struct row {
    revisit_tally so_far;
    int percent;
    bool picked;
  };
  for (const row& r : std::initializer_list<row>{
           {{0, 0}, 30, true},     // the first closure of a month: 1 of 1 needs a pick
           {{1, 1}, 30, false},    // 1 of 2 >= 30%
           {{2, 1}, 30, false},    // 1 of 3 >= 30%
           {{3, 1}, 30, true},     // 1 of 4 < 30%
           {{9, 3}, 30, false},    // 3 of 10 = 30%
           {{10, 3}, 30, true},    // 3 of 11 < 30%
           {{299, 90}, 30, false}, // 90 of 300 = 30%
           {{286, 86}, 30, true},  // 86 of 287 < 30%: the old hash sample's 86 of 300 cannot happen
           {{1, 1}, 50, false},    // 1 of 2 = 50%
           {{2, 1}, 50, true},     // 1 of 3 < 50%
           {{4, 1}, 100, true}}) {
    CAPTURE(r.so_far.closed);
    CAPTURE(r.so_far.picked);
    CHECK(revisit_pick(r.so_far, r.percent) == r.picked);
  }
}

// Closes `pattern` matters in one center and month through decide, the tally kept as the writer
// keeps it (core::sample_closure_of): I an inquiry replied, S a suggestion replied, C a complaint
// replied, A an inquiry answered at once, Q a complaint answered at once, R an inquiry replied
// again after a reopening revisit. Checks the sample after every closure.
void check_sample_at_every_point(const std::string& pattern, int percent) {
  CAPTURE(pattern);
  world sw;
  sw.sla.revisit_sample_percent = percent;
  revisit_tally tally;
  int complaints = 0, complaint_picks = 0;
  int n = 0;
  const civil_date day{2026, 11, 2};
  const auto close = [&](case_state s, const command& c, const actor& who) {
    context ctx = sw.at(day, who);
    ctx.revisit_so_far = tally;
    auto events = decide(s, c, ctx);
    REQUIRE(events);
    for (const event& e : events.value()) {
      if (auto sample = sample_closure_of(s, e)) {
        CHECK(sample->center() == "410100");
        CHECK(sample->month == "2026-11");
        ++tally.closed;
        tally.picked += sample->picked;
      }
      s = evolve(std::move(s), e, ctx.now);
    }
    return s;
  };
  for (const char kind : pattern) {
    const std::string id = "410100-20261102-" + std::to_string(100000 + ++n);
    const category cat = kind == 'C' || kind == 'Q' ? category::complaint
                         : kind == 'S'              ? category::suggestion
                                                    : category::inquiry;
    if (kind == 'A' || kind == 'Q') {
      receive call = a_call("410100", id.c_str());
      call.cat = cat;  // named at intake (Art. 39)
      call.dom = domain::road_transport;
      case_state s = ok(step({}, call, sw.at(day, world::agent())));
      s = close(s, answer_immediately{"已答复"}, world::agent());
      complaints += cat == category::complaint;
      complaint_picks += cat == category::complaint && s.revisit_required;
    } else {
      case_state s = ok(step({}, a_call("410100", id.c_str()), sw.at(day, world::agent())));
      s = ok(step(s, classify{cat, domain::road_transport, {}, false, ""}, sw.at(day, world::agent())));
      s = ok(step(s, transfer{unit_id{"u-zz-yg"}}, sw.at(day, world::agent())));
      const revisit_tally before = tally;
      s = close(s, a_reply, unit);
      if (kind == 'R') {
        // Revisited with further handling and replied again: counted once, keeps its pick.
        const bool picked = s.revisit_required;
        s = ok(step(s, revisit{true, satisfaction::dissatisfied, std::nullopt, true, ""},
                    sw.at(day, world::revisit_officer())));
        s = close(s, a_reply, unit);
        CHECK(s.revisit_required == picked);
        CHECK(tally.closed == before.closed + 1);
      }
      complaints += cat == category::complaint;
      complaint_picks += cat == category::complaint && s.revisit_required;
    }
    // After every closure: picks >= ceil(percent% of the non-complaint closures so far), and no
    // more than that (the sample is not the whole).
    const auto p = static_cast<unsigned long long>(percent);
    CHECK(100ULL * tally.picked >= p * tally.closed);
    CHECK(100ULL * tally.picked < p * tally.closed + 100ULL);
  }
  CHECK(complaint_picks == complaints);  // every complaint
}

TEST_CASE("Art. 23, 46: at least 30% of closed non-complaint matters, at every point of the month") {
  // A pseudo-random mix (fixed seed) of 300 matters: the case of a month of 300.
  std::string mixed;
  std::uint32_t x = 12328;
  for (int i = 0; i < 300; ++i) {
    x = x * 1664525u + 1013904223u;
    mixed += "IIISSACQR"[(x >> 16) % 9];
  }
  for (const auto& [pattern, percent] : std::initializer_list<std::pair<std::string, int>>{
           {"I", 30},
           {"IIIIIIIIIIIIIIIIIIII", 30},
           {"AAAAAAAAAAAAAAAAAAAA", 30},  // answered at once are sampled too (Art. 23(1))
           {"CCCCCIIIIICCCCCAAAAA", 30},
           {"QAQAQAQAQSSS", 30},
           {"IRIRIRIRIRIR", 30},
           {mixed, 30},
           {mixed, 45},
           {"IIIIIIIIII", 100}})
    check_sample_at_every_point(pattern, percent);
}

TEST_CASE("Art. 23(1): a matter answered at once and picked is revisited before it is archived") {
  const civil_date mon{2026, 11, 2};
  world first_of_month;  // no closure yet this month: the first one is picked
  first_of_month.revisit_so_far = {};
  const case_state r = ok(step({}, a_call(), w.at(mon, world::agent())));
  const case_state picked = ok(step(r, answer_immediately{"已答复"}, first_of_month.at(mon, world::agent())));
  CHECK(picked.revisit_required);
  CHECK(fails(step(picked, archive{}, w.at(mon, world::agent()))) == errc::revisit_required);
  const actor rv = world::revisit_officer();
  CHECK(fails(step(picked, revisit{true, satisfaction::satisfied, std::nullopt, true, ""}, w.at(mon, rv))) ==
        errc::invalid_argument);  // no unit to reopen it for
  const case_state done =
      ok(step(picked, revisit{true, satisfaction::satisfied, timeliness::timely, false, ""}, w.at(mon, rv)));
  CHECK(done.status == case_status::revisited);
  CHECK(done.revisited);
  CHECK(ok(step(done, archive{}, w.at(mon, world::agent()))).status == case_status::archived);
  // Not picked (the sample is ahead): archived straight away; a complaint is always picked.
  const case_state not_picked = ok(step(r, answer_immediately{"已答复"}, w.at(mon, world::agent())));
  CHECK_FALSE(not_picked.revisit_required);
  CHECK(ok(step(not_picked, archive{}, w.at(mon, world::agent()))).status == case_status::archived);
  receive complaint_call = a_call();
  complaint_call.cat = category::complaint;
  complaint_call.dom = domain::road_transport;
  const case_state complaint =
      ok(step(ok(step({}, complaint_call, w.at(mon, world::agent()))), answer_immediately{"已答复"},
              w.at(mon, world::agent())));
  CHECK(complaint.revisit_required);
  world low;
  low.sla.revisit_sample_percent = 29;
  CHECK(fails(step(r, answer_immediately{"已答复"}, low.at(mon, world::agent()))) ==
        errc::sample_rate_too_low);
  const case_state t = transferred_as(category::inquiry, mon);
  CHECK(fails(step(t, a_reply, low.at(mon, unit))) == errc::sample_rate_too_low);
}

TEST_CASE("Art. 38: archived after the reply and, where required, the revisit") {
  const civil_date mon{2026, 11, 2};
  const case_state t = transferred_as(category::complaint, mon);
  CHECK(fails(step(t, archive{}, w.at(mon, world::agent()))) == errc::not_closable);
  const case_state r = ok(step(t, a_reply, w.at(mon, unit)));
  CHECK(fails(step(r, archive{}, w.at(mon, world::agent()))) == errc::revisit_required);
  // An inquiry the sample did not pick (w's sample is ahead) is archived straight after the reply.
  case_state s = ok(step(transferred_as(category::inquiry, mon), a_reply, w.at(mon, unit)));
  CHECK_FALSE(s.revisit_required);
  CHECK(ok(step(s, archive{}, w.at(mon, world::agent()))).status == case_status::archived);
}

TEST_CASE("Art. 40(4), 43: major urgent matters are flagged at intake, classification or later") {
  const civil_date d{2026, 11, 2};
  receive urgent = a_call();
  urgent.major_urgent_reason = "隧道内多车相撞";
  auto events = decide({}, urgent, w.at(d, world::agent()));
  REQUIRE(events);
  REQUIRE(events.value().size() == 2);
  const case_state s = ok(step({}, urgent, w.at(d, world::agent())));
  CHECK(s.major_urgent);
  CHECK(fails(step(s, flag_major_urgent{"again"}, w.at(d, world::agent()))) == errc::already_flagged);
  CHECK(ok(step(classified_as(category::complaint, d), flag_major_urgent{"x"}, w.at(d, world::agent())))
            .major_urgent);
  CHECK(ok(step(received_on(d), classify{category::complaint, domain::highway, {}, false, "x"},
                w.at(d, world::agent())))
            .major_urgent);
}

TEST_CASE("Art. 40(4) — a matter is flagged major-urgent at any open step, also after transfer") {
  const civil_date d{2026, 11, 2};
  const case_state with_unit = transferred_as(category::complaint, d);
  const case_state returned = ok(step(with_unit, return_case{"不属本单位"}, w.at(d, unit)));
  const case_state replied = ok(step(with_unit, a_reply, w.at(d, unit)));
  const case_state reopened =
      ok(step(replied, revisit{true, satisfaction::dissatisfied, timeliness::too_slow, true, "再办"},
              w.at(d, world::revisit_officer())));
  const case_state answered = ok(step(received_on(d), answer_immediately{"已答复"}, w.at(d, world::agent())));
  const struct {
    const char* name;
    case_state s;
    errc expected;
  } table[] = {
      {"received", received_on(d), errc::ok},
      {"classified", classified_as(category::inquiry, d), errc::ok},
      {"with the unit", with_unit, errc::ok},
      {"returned by the unit", returned, errc::ok},
      {"reopened by the revisit", reopened, errc::ok},
      {"replied", replied, errc::flag_too_late},
      {"answered at once", answered, errc::flag_too_late},
  };
  for (const auto& row : table) {
    CAPTURE(row.name);
    const auto r = step(row.s, flag_major_urgent{"桥梁垮塌"}, w.at(d, world::agent()));
    if (row.expected == errc::ok) {
      REQUIRE(r);
      CHECK(r.value().major_urgent);
      CHECK(r.value().status == row.s.status);  // flagging moves no step
      CHECK(fails(step(r.value(), flag_major_urgent{"again"}, w.at(d, world::agent()))) ==
            errc::already_flagged);
    } else {
      CHECK(fails(r) == row.expected);
      CHECK(r.error().message().find("Art. 40") != std::string::npos);
    }
  }
}

TEST_CASE("deadlines are pending, met or missed") {
  const civil_date mon{2026, 11, 2};
  const case_state c = classified_as(category::inquiry, mon);
  auto ds = deadlines(c, w.at(civil_date{2026, 11, 5}, world::agent()).now);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].state == deadline_state::pending);
  // 24:00 Shanghai on the due day is already late.
  CHECK(deadlines(c, shanghai_end_of_day(civil_date{2026, 11, 5})).front().state == deadline_state::missed);
  CHECK(deadlines(c, timestamp{shanghai_end_of_day(civil_date{2026, 11, 5}).ms - 1}).front().state ==
        deadline_state::pending);
  const case_state t = ok(step(c, transfer{unit_id{"u-zz-yg"}}, w.at(civil_date{2026, 11, 4}, world::agent())));
  ds = deadlines(t, w.at(civil_date{2026, 11, 20}, world::agent()).now);
  REQUIRE(ds.size() == 2);
  CHECK(ds[0].state == deadline_state::met);
  CHECK(ds[1].kind == deadline_kind::reply);
  CHECK(ds[1].state == deadline_state::missed);
}

TEST_CASE("every rule error names its article") {
  for (int e = static_cast<int>(errc::case_already_exists); e <= static_cast<int>(errc::no_extension_request); ++e) {
    const std::string m = make_error_code(static_cast<errc>(e)).message();
    if (static_cast<errc>(e) == errc::case_not_found || static_cast<errc>(e) == errc::calendar_unreadable)
      continue;
    CAPTURE(m);
    CHECK(m.find("(Art. ") != std::string::npos);
  }
}

TEST_CASE("a command's missing field is named typed, as its detail reads") {
  const civil_date mon{2026, 11, 2};
  const case_state received = received_on(mon);
  const case_state with_unit = transferred_as(category::complaint, mon);
  world first_of_month;  // no closure yet this month: the first one is picked
  first_of_month.revisit_so_far = {};
  const case_state answered =
      ok(step(received, answer_immediately{"已答复"}, first_of_month.at(mon, world::agent())));
  receive no_phone = a_call();
  no_phone.caller.phone = " ";
  const struct {
    const char* what;
    case_state state;
    command cmd;
    actor who;
    std::string field;
    std::string detail;
  } rows[] = {
      {"an empty answer", received, answer_immediately{" "}, world::agent(), "answer", "answer"},
      {"a refusal without its explanation", received,
       not_accept{not_accepted_reason::outside_remit, " "}, world::agent(), "explanation",
       "explanation: the reason is told to the caller (Art. 28)"},
      {"a redirection without the number", received, redirect{redirect_target::rail, " ", false},
       world::agent(), "number_given", "number_given: the caller is told the number (Art. 29)"},
      {"an extension of no days", with_unit,
       extend{extension_reason::complex, working_days{0}, "x"}, unit, "days", "days: at least 1"},
      {"an extension without its explanation", with_unit,
       extend{extension_reason::complex, working_days{2}, " "}, unit, "explanation",
       "explanation: the caller is told why (Art. 34)"},
      {"further handling of a matter answered at once", answered,
       revisit{true, satisfaction::satisfied, std::nullopt, true, ""}, world::revisit_officer(),
       "further_handling",
       "further_handling: a matter answered at once has no unit to reopen it for; record the "
       "caller's new request as a new matter (Art. 23)"},
      {"a reached caller without a view", answered,
       revisit{true, std::nullopt, std::nullopt, false, ""}, world::revisit_officer(),
       "result_view", "result_view: the caller's satisfaction (Art. 23)"},
      // These have never named a field in their problem, and still do not.
      {"a phone call without a phone",
       {},
       no_phone,
       world::agent(),
       "",
       "caller.phone: required for the phone channel"},
      {"a return without reasons", with_unit, return_case{" "}, unit, "", "reasons (Art. 32)"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    const auto next = step(r.state, r.cmd, w.at(mon, r.who));
    REQUIRE_FALSE(next);
    CHECK(next.error().code == errc::invalid_argument);
    CHECK(next.error().field == r.field);
    CHECK(next.error().detail == r.detail);
  }
}
