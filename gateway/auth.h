#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/authorization.h"
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

// What a route does: the operations of the one policy (core/authorization.h). Every route that
// needs a token names one.
using operation = core::operation;

// The questions the gateway asks the policy (core/authorization.h), for a principal.
// May this role ever do this (whatever the case)? False answers 403.
bool permitted(role r, operation op);
// Is the case within the principal's scope? False answers 404, exactly as a missing case: a
// center's staff see their center's cases (received there or belonging there now; the provincial
// center sees all), a unit sees the cases transferred to it, auditors see all.
bool in_scope(const principal& p, const core::case_state& s);
// Whose cases the principal's case list covers.
core::scope list_scope(const principal& p);
// Does the principal's power to do `op` reach anywhere? False for the operations that only the
// provincial center's staff (and auditors) hold, asked by another center's: 403.
bool reaches(const principal& p, operation op);
// The scope of a list, queue or report read naming `center` and/or `unit` ("" names none):
// core::read_scope, a refusal answering 403 (forbidden: the names are not secret).
result<core::scope> read_scope(const principal& p, operation op, std::string_view center,
                               std::string_view unit, const core::registry& reg);
// Staff of the provincial center (410000): they see every center's cases, queues and reports.
bool provincial(const principal& p);
// Roles that do not need the caller's number see it masked.
bool sees_phone(role r);
// "13800000000" -> "138****0000"; short numbers are masked entirely.
std::string mask_phone(std::string_view phone);
// The actor core decides with: the same role (core's names the unit's staff `unit_staff`).
core::actor to_actor(const principal& p);

}  // namespace caseline::gateway
