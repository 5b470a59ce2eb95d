// The authorization policy, cell by cell: every role x every operation x every place an actor
// can stand (a city center, the provincial center, a handling unit) x cases inside and outside
// the scope. The expected table is written out here from the role table of gateway/README.md
// (not taken from core/authorization.cpp), so that a change to the policy fails this test.
#include "core/authorization.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/errc.h"

using namespace caseline;
using namespace caseline::core;

namespace {

const std::vector<role> roles{role::agent,      role::shift_lead,
                              role::supervisor, role::quality_inspector,
                              role::analyst,    role::revisit_officer,
                              role::unit_staff, role::unit_head,
                              role::auditor,    role::admin};

// Operation -> the reach of each role that holds it ('C' own center, the provincial center's
// staff all; 'P' the provincial center's staff only; 'U' own unit; 'A' all). Roles absent: none.
const std::map<operation, std::map<role, char>>& expected() {
  using enum role;
  static const std::map<role, char> case_readers{
      {agent, 'C'},           {shift_lead, 'C'}, {supervisor, 'C'}, {quality_inspector, 'C'},
      {revisit_officer, 'C'}, {unit_staff, 'U'}, {unit_head, 'U'},  {auditor, 'A'}};
  static const std::map<role, char> intake{
      {agent, 'C'}, {shift_lead, 'C'}, {supervisor, 'C'}, {revisit_officer, 'C'}};
  static const std::map<role, char> everyone{{agent, 'A'},      {shift_lead, 'A'},
                                             {supervisor, 'A'}, {quality_inspector, 'A'},
                                             {analyst, 'A'},    {revisit_officer, 'A'},
                                             {unit_staff, 'A'}, {unit_head, 'A'},
                                             {auditor, 'A'},    {admin, 'A'}};
  static const std::map<operation, std::map<role, char>> m{
      {operation::receive, intake},
      {operation::intake_command, intake},
      {operation::escalate, {{supervisor, 'C'}}},
      {operation::archive, {{agent, 'C'}, {supervisor, 'C'}, {revisit_officer, 'C'}}},
      {operation::unit_command, {{unit_staff, 'U'}, {unit_head, 'U'}}},
      {operation::approve_extension, {{unit_head, 'U'}}},                       // Art. 34
      {operation::accept_late_return, {{shift_lead, 'C'}, {supervisor, 'C'}}},  // Art. 32
      {operation::revisit, {{revisit_officer, 'C'}, {supervisor, 'C'}}},        // Art. 23
      {operation::read_case, case_readers},
      {operation::read_registry, everyone},
      {operation::write_registry, {{supervisor, 'C'}, {admin, 'A'}}},
      {operation::admin_clock, {{admin, 'A'}}},
      {operation::metrics, {{analyst, 'A'}, {auditor, 'A'}, {admin, 'A'}}},
      {operation::read_worklists, case_readers},
      {operation::read_reports, {{supervisor, 'C'}, {analyst, 'C'}, {auditor, 'A'}}},
      {operation::retention_audit, {{supervisor, 'P'}, {auditor, 'A'}}},  // Art. 38
      {operation::legal_hold, {{supervisor, 'C'}}},
      {operation::upload_recording, {{agent, 'C'}, {shift_lead, 'C'}, {supervisor, 'C'}}},
      {operation::read_recording, {{supervisor, 'C'}, {quality_inspector, 'C'}, {auditor, 'A'}}},
      {operation::publish_calendar, {{admin, 'A'}}},
      {operation::admin_tokens, {{admin, 'A'}}},
      {operation::read_assessment, {{supervisor, 'P'}, {analyst, 'P'}, {auditor, 'A'}}},  // Art. 45
      {operation::remind, {{supervisor, 'C'}}},
      {operation::purge, {{supervisor, 'C'}}},
      {operation::revise_deadlines, {{supervisor, 'C'}}},
      {operation::retention_purge, {{admin, 'A'}}},  // Art. 38, the purge through the API
  };
  return m;
}

char expected_cell(role r, operation op) {
  const auto& row = expected().at(op);
  const auto it = row.find(r);
  return it == row.end() ? '-' : it->second;
}

// The cell as the table's kind; the letters are this test's, not the table's.
scope_kind kind_of(char cell) {
  static const std::map<char, scope_kind> kinds{{'U', scope_kind::unit},
                                                {'C', scope_kind::center},
                                                {'P', scope_kind::province},
                                                {'A', scope_kind::all}};
  const auto it = kinds.find(cell);
  return it == kinds.end() ? scope_kind::none : it->second;
}

// Where an actor stands: a unit's people at unit u-zz-yg (of 410100); the others at 410100 (a
// city center) or at 410000 (the provincial center).
std::vector<actor> placements(role r) {
  if (is_unit_role(r)) return {actor{user_id{"u"}, r, center_code{"410100"}, unit_id{"u-zz-yg"}}};
  return {actor{user_id{"c"}, r, center_code{"410100"}, {}},
          actor{user_id{"p"}, r, center_code{"410000"}, {}}};
}

// The scope each cell should resolve to for the actor.
std::optional<scope> expected_scope(char cell, const actor& a) {
  const bool prov = a.center() == "410000" && !is_unit_role(a.role);
  switch (cell) {
    case 'A':
      return scope{scope_kind::all, {}, {}};
    case 'P':
      if (!prov) return std::nullopt;
      return scope{scope_kind::province, center_code{"410000"}, {}};
    case 'C':
      if (prov) return scope{scope_kind::province, center_code{"410000"}, {}};
      return scope{scope_kind::center, a.center, {}};
    case 'U':
      return scope{scope_kind::unit, {}, a.unit};
    default:
      return std::nullopt;
  }
}

case_state a_case(const char* center, const char* owner, const char* unit) {
  case_state s;
  s.status = case_status::transferred;
  s.center = center_code{center};
  s.owner_center = center_code{owner};
  if (unit != nullptr) s.unit = unit_id{unit};
  return s;
}

// A case, and whether the own center's scope (410100) and the own unit's (u-zz-yg) cover it;
// every center's scope (all, province) covers each.
struct case_row {
  const char* name;
  case_state s;
  bool center_sees;
  bool unit_sees;
};
const std::vector<case_row>& cases() {
  static const std::vector<case_row> c{
      {"own center's, at own unit", a_case("410100", "410100", "u-zz-yg"), true, true},
      {"received at own center, escalated to 410000", a_case("410100", "410000", nullptr), true,
       false},
      {"escalated to own center", a_case("410200", "410100", nullptr), true, false},
      {"own center's, at another unit", a_case("410100", "410100", "u-zz-gl"), true, false},
      {"another center's, at another unit", a_case("410200", "410200", "u-kf-yg"), false, false},
      {"another center's, at own unit", a_case("410200", "410200", "u-zz-yg"), false, true},
  };
  return c;
}

// Whether the expected scope covers the case (the actors' center is 410100, their unit u-zz-yg).
bool expected_covers(const scope& sc, const case_row& c) {
  if (sc.kind == scope_kind::center) return c.center_sees;
  if (sc.kind == scope_kind::unit) return c.unit_sees;
  return sc.unbounded();
}

std::vector<operation> all_operations() {
  std::vector<operation> out;
  for (std::size_t i = 0; i < operation_count; ++i) out.push_back(static_cast<operation>(i));
  return out;
}

registry units() {
  registry reg;
  reg.apply(unit_registered{unit_id{"u-zz-yg"}, "郑州市道路运输管理局", center_code{"410100"}, {}});
  reg.apply(
      unit_registered{unit_id{"u-zz-gl"}, "郑州市公路事业发展中心", center_code{"410100"}, {}});
  reg.apply(unit_registered{unit_id{"u-kf-yg"}, "开封市道路运输管理局", center_code{"410200"}, {}});
  return reg;
}

}  // namespace

TEST_CASE("the table: every role x every operation has the reach the role table gives it") {
  REQUIRE(expected().size() == operation_count);
  for (const operation op : all_operations()) {
    for (const role r : roles) {
      CAPTURE(to_string(op));
      CAPTURE(to_string(r));
      const char cell = expected_cell(r, op);
      CHECK(allowed_scope(r, op) == kind_of(cell));
      CHECK(permitted(r, op) == (cell != '-'));
    }
  }
}

TEST_CASE("every role x operation x place resolves to its scope, which covers exactly its cases") {
  for (const operation op : all_operations()) {
    for (const role r : roles) {
      for (const actor& a : placements(r)) {
        CAPTURE(to_string(op));
        CAPTURE(to_string(r));
        CAPTURE(a.center());
        const auto want = expected_scope(expected_cell(r, op), a);
        const auto got = scope_of(a, op);
        REQUIRE(got.has_value() == want.has_value());
        if (!want) {
          for (const auto& c : cases()) CHECK_FALSE(may(a, op, c.s));
          continue;
        }
        CHECK(*got == *want);
        for (const auto& c : cases()) {
          CAPTURE(c.name);
          CHECK(covers(*got, c.s) == expected_covers(*want, c));
          CHECK(may(a, op, c.s) == expected_covers(*want, c));
        }
        CHECK_FALSE(covers(*got, case_state{}));  // a case that does not exist
      }
    }
  }
}

TEST_CASE("a unit token without a unit reaches nothing") {
  const actor a{user_id{"u"}, role::unit_staff, center_code{"410100"}, {}};
  CHECK_FALSE(scope_of(a, operation::read_case));
  CHECK_FALSE(covers(scope{scope_kind::unit, {}, {}}, a_case("410100", "410100", nullptr)));
}

TEST_CASE("a read names a center or a unit: the scope narrows, or the read is refused") {
  const registry reg = units();
  const actor city{user_id{"c"}, role::supervisor, center_code{"410100"}, {}};
  const actor prov{user_id{"p"}, role::agent, center_code{"410000"}, {}};
  const actor auditor{user_id{"a"}, role::auditor, center_code{"410100"}, {}};
  const actor unit{user_id{"u"}, role::unit_head, center_code{"410100"}, unit_id{"u-zz-yg"}};
  const std::optional<center_code> none_c;
  const std::optional<unit_id> none_u;
  struct row {
    const char* name;
    actor who;
    std::optional<center_code> center;
    std::optional<unit_id> unit;
    std::optional<scope> want;  // nullopt: refused
  };
  const row rows[] = {
      {"a city center's own", city, none_c, none_u, scope::of_center(center_code{"410100"})},
      {"a city center names itself", city, center_code{"410100"}, none_u,
       scope::of_center(center_code{"410100"})},
      {"a city center names another", city, center_code{"410200"}, none_u, std::nullopt},
      {"a city center names its unit", city, none_c, unit_id{"u-zz-gl"},
       scope::of_unit(unit_id{"u-zz-gl"}, center_code{"410100"})},
      {"a city center names another's unit", city, none_c, unit_id{"u-kf-yg"}, std::nullopt},
      {"a city center names an unknown unit", city, none_c, unit_id{"u-none"}, std::nullopt},
      {"the provincial center's own", prov, none_c, none_u, scope::province()},
      {"the provincial center names a center", prov, center_code{"410200"}, none_u,
       scope::of_center(center_code{"410200"})},
      {"the provincial center names a unit", prov, none_c, unit_id{"u-kf-yg"},
       scope::of_unit(unit_id{"u-kf-yg"})},
      {"the provincial center names both", prov, center_code{"410100"}, unit_id{"u-kf-yg"},
       scope::of_unit(unit_id{"u-kf-yg"}, center_code{"410100"})},
      {"an auditor's own", auditor, none_c, none_u, scope::everything()},
      {"an auditor names a center", auditor, center_code{"410200"}, none_u,
       scope::of_center(center_code{"410200"})},
      {"a unit's own", unit, none_c, none_u, scope::of_unit(unit_id{"u-zz-yg"})},
      {"a unit names itself and its center", unit, center_code{"410100"}, unit_id{"u-zz-yg"},
       scope::of_unit(unit_id{"u-zz-yg"})},
      {"a unit names another unit", unit, none_c, unit_id{"u-zz-gl"}, std::nullopt},
      {"a unit names another center", unit, center_code{"410200"}, none_u, std::nullopt},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const auto got = read_scope(r.who, operation::read_worklists, r.center, r.unit, reg);
    REQUIRE(got.has_value() == r.want.has_value());
    if (r.want)
      CHECK(got.value() == *r.want);
    else
      CHECK(got.error().code == errc::not_permitted);
  }
  // A role without the power is refused whatever it names.
  const actor admin{user_id{"x"}, role::admin, center_code{"410000"}, {}};
  CHECK_FALSE(read_scope(admin, operation::read_worklists, none_c, none_u, reg));
  // Reports: a city center's analyst reads the own center's only.
  const actor analyst{user_id{"n"}, role::analyst, center_code{"410100"}, {}};
  CHECK(read_scope(analyst, operation::read_reports, none_c, none_u, reg).value() ==
        scope::of_center(center_code{"410100"}));
  const auto other =
      read_scope(analyst, operation::read_reports, center_code{"410200"}, none_u, reg);
  REQUIRE_FALSE(other);
  CHECK(other.error().detail == "another center's report");
}

TEST_CASE("every command is an operation, and a refusal names the article that gives the power") {
  const std::map<std::string, operation> of{
      {"receive", operation::receive},
      {"answer_immediately", operation::intake_command},
      {"not_accept", operation::intake_command},
      {"redirect", operation::intake_command},
      {"classify", operation::intake_command},
      {"transfer", operation::intake_command},
      {"flag_major_urgent", operation::intake_command},
      {"escalate", operation::escalate},
      {"return", operation::unit_command},
      {"extend", operation::unit_command},
      {"reply", operation::unit_command},
      {"approve_extension", operation::approve_extension},
      {"accept_late_return", operation::accept_late_return},
      {"revisit", operation::revisit},
      {"archive", operation::archive},
      {"remind", operation::remind},
      {"purge_recording", operation::purge},
      {"shred_text", operation::purge},
      {"record_refused_purge", operation::purge},
      {"place_legal_hold", operation::legal_hold},
      {"lift_legal_hold", operation::legal_hold},
      {"revise_deadlines", operation::revise_deadlines},
  };
  REQUIRE(of.size() == std::variant_size_v<command>);
  const auto each = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::vector<command>{command{std::in_place_index<I>}...};
  }
  (std::make_index_sequence<std::variant_size_v<command>>{});
  for (const command& c : each) {
    CAPTURE(command_name(c));
    CHECK(operation_of(c) == of.at(std::string(command_name(c))));
  }

  const case_state s = a_case("410100", "410100", "u-zz-yg");
  const actor agent{user_id{"a"}, role::agent, center_code{"410100"}, {}};
  const actor staff{user_id{"s"}, role::unit_staff, center_code{"410100"}, unit_id{"u-zz-yg"}};
  struct row {
    const char* name;
    command cmd;
    actor who;
    std::string article;  // "" when the error is not not_permitted
  };
  const row rows[] = {
      {"the unit's staff approve an extension", approve_extension{}, staff, "Art. 34"},
      {"an agent accepts a late return", accept_late_return{}, agent, "Art. 32"},
      {"the unit's staff revisit", revisit{}, staff, "Art. 23"},
      {"an agent replies for the unit", reply{}, agent, "Art. 30"},
      {"the unit's staff escalate", escalate{}, staff, ""},  // no article names it: none added
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const auto e = check_actor(s, r.cmd, r.who);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == errc::not_permitted);
    if (r.article.empty())
      CHECK(e.error().detail.find("(Art. ") == std::string::npos);
    else
      CHECK(e.error().detail.ends_with("(" + r.article + ")"));
  }
  // The power alone is not enough: the case must be the actor's center's, or the unit's.
  CHECK(check_actor(s, reply{}, staff));
  CHECK(check_actor(a_case("410100", "410100", "u-zz-gl"), reply{}, staff).error().code ==
        errc::not_the_handling_unit);
  CHECK(check_actor(a_case("410200", "410200", nullptr), classify{}, agent).error().code ==
        errc::not_the_owning_center);
}
