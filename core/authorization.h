#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "core/case_state.h"
#include "core/commands.h"
#include "core/ids.h"
#include "core/registry.h"
#include "core/result.h"

namespace caseline::core {

// Who may do what, and on whose cases: the one policy of the service. The gateway asks it before
// a handler runs (403 for a role without the power, 404 for a case outside the caller's scope)
// and for the scope of every list, queue and report; `decide` asks it again for each command
// (errc::not_permitted, naming the article that gives the power). Pure: no I/O, no clock.

// The centers' staff (Art. 16-23), the handling units' people (Art. 30-31) and the service's own
// reviewers and operators. `to_string` gives the names written into the log's envelopes: never
// rename one; append new roles at the end.
enum class role : std::uint8_t {
  agent,              // 话务员: intake, answer, not-accept, redirect, classify, transfer
  shift_lead,         // 话务班长: an agent's commands, for the shift; late returns (Art. 32)
  supervisor,         // 业务主管: everything in the center, escalations, legal holds
  quality_inspector,  // 质量检验师: reads cases (phone numbers masked)
  analyst,            // 运行分析师: reports and metrics; no case data
  revisit_officer,  // 回访员: revisits; at 410000 also the app, web and WeChat matters (Art. 23)
  unit_staff,       // a handling unit's staff: the cases transferred to the unit (Art. 30)
  unit_head,        // a handling unit's head: as its staff, and extensions (Art. 34)
  auditor,          // reads everything, histories included (phone numbers masked); no commands
  admin,            // tokens, the registry, the manual clock; no case data
};
inline constexpr std::size_t role_count = 10;
std::string_view to_string(role r);
// A handling unit's people: scoped to one unit, acting on the cases transferred to it (Art. 30).
bool is_unit_role(role r);

// Who acts: a center's staff member (center set) or a unit's (unit set).
struct actor {
  user_id id;
  core::role role{core::role::agent};
  center_code center;
  unit_id unit;
};

// What is done. Every route that needs a token names one; every command maps to one
// (`operation_of`).
enum class operation : std::uint8_t {
  receive,
  intake_command,  // answer, not-accept, redirect, classify, transfer, flag-major-urgent
  escalate,
  archive,
  unit_command,        // return, extend (the head extends, the staff request), reply
  approve_extension,   // the unit head approves the unit's extension request (Art. 34)
  accept_late_return,  // a unit's return after its window (Art. 32)
  revisit,
  read_case,       // a case, its history, the case list
  read_registry,   // calendar, centers, units
  write_registry,  // PUT a unit
  admin_clock,
  metrics,
  read_worklists,    // work queues, overdue and due-soon deadlines (no personal data)
  read_reports,      // the statutory reports (Art. 39-40)
  retention_audit,   // the retention audit (Art. 38)
  legal_hold,        // place or lift a legal hold on a case
  upload_recording,  // store a call's audio
  read_recording,    // fetch a call's audio
  publish_calendar,  // PUT a year of the working-day calendar
  admin_tokens,      // create, list and revoke bearer tokens
  read_assessment,   // the assessment of the city and county centers (Art. 45)
  remind,            // the reminder job: reminders and overdue reports (Art. 35)
  purge,             // the retention job: purges, shreds and refused purges (Art. 38)
  revise_deadlines,  // the deadline revision after a calendar is published
  retention_purge,   // start and follow an Art. 38 purge through the API
};
inline constexpr std::size_t operation_count = 26;
std::string_view to_string(operation op);
operation operation_of(const command& cmd);

// How far a power reaches: the cells of the policy table, and the kind of a resolved scope.
enum class scope_kind : std::uint8_t {
  none,      // no power
  unit,      // the cases transferred to the actor's unit
  center,    // the actor's center's cases (received there or belonging there now); the
             // provincial center's staff reach every center's (Art. 5)
  province,  // only the provincial center's staff, who reach every center's
  all,       // every case, whatever the actor's center (auditors), or nothing case-bound
};
std::string_view to_string(scope_kind k);

// Whose cases a read or a command covers, with the ids that bound it. Built by the functions
// below; the projections encode it into their keys (projections/row_keys.h).
struct scope {
  scope_kind kind{scope_kind::none};
  center_code center;  // kind center: the center; kind unit: when set, only the unit's cases
                       // received at (or belonging to) this center
  unit_id unit;        // kind unit

  static scope everything() { return {scope_kind::all, {}, {}}; }
  static scope province() {
    return {scope_kind::province, center_code{registry::provincial_center}, {}};
  }
  static scope of_center(center_code c) { return {scope_kind::center, std::move(c), {}}; }
  static scope of_unit(unit_id u, center_code within = {}) {
    return {scope_kind::unit, std::move(within), std::move(u)};
  }
  // Every center's cases (all or province): no id bounds it.
  bool unbounded() const { return kind == scope_kind::all || kind == scope_kind::province; }
  // The center and the unit that bound it, as a read's answer names them.
  std::optional<center_code> named_center() const {
    if (kind == scope_kind::center || (kind == scope_kind::unit && !center().empty()))
      return center;
    return std::nullopt;
  }
  std::optional<unit_id> named_unit() const {
    if (kind == scope_kind::unit) return unit;
    return std::nullopt;
  }
  friend bool operator==(const scope&, const scope&) = default;
};

// The table: how far `r`'s power to do `op` reaches (none: never).
scope_kind allowed_scope(role r, operation op);
// May a role ever do this, whatever the case? (The gateway answers 403 when not.)
bool permitted(role r, operation op);
// The article that gives the roles holding `op` their power: "Art. 34" for approving an
// extension; "Art. 16-23" (the centers' staff) where no article names the roles.
std::string_view article_of(operation op);
// Staff of the provincial center (410000): they reach every center's cases, queues and reports.
bool provincial(const actor& a);
// The scope of `a`'s power to do `op`: nullopt when the role has none, or when it is the
// provincial center's and `a` is not of it.
std::optional<scope> scope_of(const actor& a, operation op);
// Does the scope cover this case? Never a case that does not exist.
bool covers(const scope& sc, const case_state& s);
// May `a` do `op` on this case: the role has the power and the case is within its scope.
bool may(const actor& a, operation op, const case_state& s);
// The scope a list, queue or report read gets when the reader names a center and/or a unit:
// the actor's own scope, narrowed to what is named. A unit's people name only their unit; a
// city or county center's staff only their center and its units (registered with it in `reg`);
// the provincial center's staff and auditors anything. Refusals are errc::not_permitted, the
// detail saying which (the gateway answers 403: the names are not secret).
result<scope> read_scope(const actor& a, operation op, const std::optional<center_code>& center,
                         const std::optional<unit_id>& unit, const registry& reg);
// Who may receive this matter: a center's staff; a revisit officer only the provincial center's
// app, web and WeChat matters (Art. 23). decide() checks it after the center exists.
result<void> check_receiver(const receive& c, const actor& who);
// Who may issue the command, before the state rules (decide.cpp calls it): the role's power
// (only where an article names the roles; the gateway holds every command to the whole table),
// its side (a center's staff or a unit's), the case's center or unit, and the articles' own
// conditions (Art. 22(4), 23). errc::not_permitted names the article; errc::not_the_owning_center
// and errc::not_the_handling_unit the scope.
result<void> check_actor(const case_state& s, const command& cmd, const actor& who);

}  // namespace caseline::core
