#include "gateway/auth.h"

#include <array>

#include "core/registry.h"
#include "gateway/json_input.h"
#include "gateway/problem.h"

namespace caseline::gateway {

namespace {

constexpr std::array<std::string_view, 10> names{"agent",           "shift_lead", "quality_inspector",
                                                 "analyst",         "revisit_officer",
                                                 "supervisor",      "unit",       "auditor",
                                                 "admin",           "unit_head"};

}  // namespace

std::string_view to_string(role r) {
  const auto i = static_cast<std::size_t>(r);
  return i < names.size() ? names[i] : std::string_view{"unknown"};
}

std::optional<role> parse_role(std::string_view name) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<role>(i);
  return std::nullopt;
}

std::vector<std::string_view> role_names() { return {names.begin(), names.end()}; }

bool unit_role(role r) { return r == role::unit || r == role::unit_head; }

std::optional<principal> to_principal(const projections::token_info& t) {
  const auto r = parse_role(t.role);
  if (!r) return std::nullopt;
  return principal{t.id, *r, center_code{t.center}, unit_id{t.unit}};
}

result<void> check_token_scope(role r, const center_code& center, const unit_id& unit,
                               const core::registry& reg) {
  if (reg.center(center) == nullptr) return field_error("center", "not a Henan center code");
  if (!unit_role(r)) {
    if (!unit().empty()) return field_error("unit", "only for role unit or unit_head");
    return success();
  }
  if (unit().empty()) return field_error("unit", "required for role unit or unit_head");
  const core::unit_info* u = reg.unit(unit);
  if (u == nullptr)
    return field_error("unit", "'" + unit() + "' is not registered (PUT /v1/units/{id} first)");
  if (u->center != center)
    return field_error(
        "unit", "'" + unit() + "' is registered with center " + u->center() + ", not " + center());
  return success();
}

result<void> may_register_unit(const principal& p, const core::unit_registered& e,
                               const core::registry& reg) {
  if (p.role == role::admin || (p.role == role::supervisor && provincial(p))) return success();
  if (p.role != role::supervisor) return make_error(errc::forbidden, "the registry of units");
  if (e.center != p.center)
    return make_error(errc::forbidden, "a supervisor registers units with the own center");
  if (const core::unit_info* now = reg.unit(e.unit); now != nullptr && now->center != p.center)
    return make_error(errc::forbidden,
                      "another center's unit: moving a unit between centers is for the provincial "
                      "center or an admin");
  return success();
}

bool permitted(role r, operation op) {
  using enum role;
  switch (op) {
    // Revisit officers: the provincial center's app, web and WeChat matters (Art. 23), which
    // core checks against the case.
    case operation::receive:
    case operation::intake_command:
      return r == agent || r == shift_lead || r == supervisor || r == revisit_officer;
    case operation::escalate: return r == supervisor;
    // Agents: the work orders they handled (Art. 22(4)), which core checks.
    case operation::archive: return r == supervisor || r == agent || r == revisit_officer;
    case operation::unit_command: return unit_role(r);
    case operation::approve_extension: return r == unit_head;
    // Art. 32: after the unit's window only the center's shift lead (or supervisor) takes it back.
    case operation::accept_late_return: return r == shift_lead || r == supervisor;
    case operation::revisit: return r == revisit_officer || r == supervisor;
    case operation::read_case:
      return r == agent || r == shift_lead || r == quality_inspector || r == revisit_officer ||
             r == supervisor || unit_role(r) || r == auditor;
    case operation::read_registry: return true;
    case operation::write_registry: return r == admin || r == supervisor;
    case operation::admin_clock:
    case operation::publish_calendar:
    case operation::admin_tokens: return r == admin;
    case operation::metrics: return r == admin || r == analyst || r == auditor;
    case operation::read_worklists:
      return r == agent || r == shift_lead || r == quality_inspector || r == revisit_officer ||
             r == supervisor || unit_role(r) || r == auditor;
    case operation::read_reports: return r == analyst || r == supervisor || r == auditor;
    // Supervisors of the provincial center only: the handler checks the center.
    case operation::retention_audit: return r == auditor || r == supervisor;
    case operation::legal_hold: return r == supervisor;
    case operation::upload_recording: return r == agent || r == shift_lead || r == supervisor;
    case operation::read_recording:
      return r == supervisor || r == auditor || r == quality_inspector;
  }
  return false;
}

bool in_scope(const principal& p, const core::case_state& s) {
  if (s.status == core::case_status::none) return false;
  switch (p.role) {
    case role::auditor: return true;
    case role::admin:
    case role::analyst: return false;
    case role::unit:
    case role::unit_head: return s.unit && *s.unit == p.unit && !p.unit().empty();
    default: break;
  }
  if (p.center() == core::registry::provincial_center) return true;
  return s.center == p.center || s.owner_center == p.center;
}

bool provincial(const principal& p) {
  return !unit_role(p.role) && p.center() == core::registry::provincial_center;
}

std::string list_scope(const principal& p) {
  if (unit_role(p.role)) return "u" + p.unit();
  if (p.role == role::auditor || p.center() == core::registry::provincial_center) return "*";
  return "c" + p.center();
}

bool sees_phone(role r) {
  return r == role::agent || r == role::shift_lead || r == role::supervisor ||
         r == role::revisit_officer || unit_role(r);
}

std::string mask_phone(std::string_view phone) {
  if (phone.size() < 8) return "****";
  return std::string(phone.substr(0, 3)) + "****" + std::string(phone.substr(phone.size() - 4));
}

core::actor to_actor(const principal& p) {
  core::role r = core::role::agent;
  switch (p.role) {
    case role::agent: r = core::role::agent; break;
    case role::shift_lead: r = core::role::shift_lead; break;
    case role::quality_inspector: r = core::role::quality_inspector; break;
    case role::analyst: r = core::role::analyst; break;
    case role::revisit_officer: r = core::role::revisit_officer; break;
    case role::supervisor: r = core::role::supervisor; break;
    case role::unit: r = core::role::unit_staff; break;
    case role::unit_head: r = core::role::unit_head; break;
    // Not case actors: permitted() keeps them from commands; agent is never used for them.
    case role::auditor:
    case role::admin: r = core::role::quality_inspector; break;
  }
  return core::actor{user_id{"token:" + p.token_id}, r, p.center, p.unit};
}

}  // namespace caseline::gateway
