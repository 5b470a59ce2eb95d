#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/case_state.h"
#include "core/decide.h"
#include "core/registry.h"
#include "core/result.h"
#include "projections/token_store.h"

namespace caseline::gateway {

// The roles a token may have (Art. 16-23, 30-31, and the operators of the system). The names
// are the wire and storage names: never rename one.
enum class role : std::uint8_t {
  agent,              // intake, answer, not-accept, redirect, classify, transfer; archives own
  shift_lead,         // an agent's commands, for the shift
  quality_inspector,  // reads cases (phone numbers masked)
  analyst,            // reports and metrics; no case data
  revisit_officer,    // revisits; at 410000 also the app, web and WeChat matters (Art. 23)
  supervisor,         // everything in the center, escalate, archive, the center's units
  unit,               // a handling unit: return, extend, reply, only on cases transferred to it
  auditor,            // reads everything, histories included (phone numbers masked)
  admin,              // tokens, the registry, the manual clock; no case data
  unit_head,          // a handling unit's head: as unit, and extends or approves extensions (Art. 34)
};
std::string_view to_string(role r);
std::optional<role> parse_role(std::string_view name);
std::vector<std::string_view> role_names();
// A handling unit's token (its staff or its head): scoped to one unit, acting on the cases
// transferred to it (Art. 30).
bool unit_role(role r);

// Who a request acts as: the token's role and scope.
struct principal {
  std::string token_id;
  gateway::role role{gateway::role::agent};
  center_code center;
  unit_id unit;
};

// The principal of a stored token; nullopt when its stored role is not one we know.
std::optional<principal> to_principal(const projections::token_info& t);

// May a token of this role, center and unit be issued and honoured? A unit token names exactly
// one unit, registered with the token's center: a unit acts on the cases transferred to it, and
// a token naming an unknown unit, or another center's, would act across centers. Refusals are
// invalid_field errors naming "unit" (or "center"). Used by `caseline token create` and checked
// again at every authentication, so a unit moved to another center takes its old tokens' scope
// with it.
result<void> check_token_scope(role r, const center_code& center, const unit_id& unit,
                               const core::registry& reg);

// May this principal register (or update) this unit, given the registry as it stands? Admins
// and the provincial center's supervisors keep every center's units and alone move a unit from
// one center to another; a city/county supervisor registers new units with the own center and
// updates those registered with it now, without moving them. Refusals are `forbidden` (403:
// unit ids and their centers are not secret).
result<void> may_register_unit(const principal& p, const core::unit_registered& e,
                               const core::registry& reg);

// What a route does, for the permission table. Every route that needs a token names one.
enum class operation : std::uint8_t {
  receive,
  intake_command,   // answer, not-accept, redirect, classify, transfer, flag-major-urgent
  escalate,
  archive,
  unit_command,     // return, extend (the head extends, the staff request), reply
  approve_extension,  // the unit head approves the unit's extension request (Art. 34)
  accept_late_return,  // a unit's return after its window (Art. 32)
  revisit,
  read_case,        // a case, its history, the case list
  read_registry,    // calendar, centers, units
  write_registry,   // PUT a unit
  admin_clock,
  metrics,
  read_worklists,    // work queues, overdue and due-soon deadlines (no personal data)
  read_reports,      // the statutory reports (Art. 39-40, 45)
  retention_audit,   // the retention audit (Art. 38)
  legal_hold,        // place or lift a legal hold on a case
  upload_recording,  // store a call's audio
  read_recording,    // fetch a call's audio
  publish_calendar,  // PUT a year of the working-day calendar
  admin_tokens,      // create, list and revoke bearer tokens
};

// May this role ever do this (whatever the case)? False answers 403.
bool permitted(role r, operation op);
// Is the case within the principal's scope? False answers 404, exactly as a missing case: a
// center's staff see their center's cases (received there or belonging there now; the provincial
// center sees all), a unit sees the cases transferred to it, auditors see all.
bool in_scope(const principal& p, const core::case_state& s);
// The list scope of the principal ("c<center>", "u<unit>", "*"), see projections/case_index.h.
std::string list_scope(const principal& p);
// Staff of the provincial center (410000): they see every center's cases, queues and reports.
bool provincial(const principal& p);
// Roles that do not need the caller's number see it masked.
bool sees_phone(role r);
// "13800000000" -> "138****0000"; short numbers are masked entirely.
std::string mask_phone(std::string_view phone);
// The actor core decides with.
core::actor to_actor(const principal& p);

}  // namespace caseline::gateway
