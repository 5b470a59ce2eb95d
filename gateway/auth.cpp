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

// The same role in core's enum, one to one, in the order of `role`.
constexpr std::array<core::role, names.size()> core_roles{
    core::role::agent,      core::role::shift_lead,      core::role::quality_inspector,
    core::role::analyst,    core::role::revisit_officer, core::role::supervisor,
    core::role::unit_staff, core::role::auditor,         core::role::admin,
    core::role::unit_head};

core::role to_core(role r) { return core_roles.at(static_cast<std::size_t>(r)); }

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
  const auto sc = core::scope_of(to_actor(p), operation::write_registry);
  if (!sc) return make_error(errc::forbidden, "the registry of units");
  if (sc->unbounded()) return success();
  if (e.center != sc->center)
    return make_error(errc::forbidden, "a supervisor registers units with the own center");
  if (const core::unit_info* now = reg.unit(e.unit); now != nullptr && now->center != sc->center)
    return make_error(errc::forbidden,
                      "another center's unit: moving a unit between centers is for the provincial "
                      "center or an admin");
  return success();
}

bool permitted(role r, operation op) { return core::permitted(to_core(r), op); }

bool in_scope(const principal& p, const core::case_state& s) {
  return core::may(to_actor(p), operation::read_case, s);
}

bool provincial(const principal& p) { return core::provincial(to_actor(p)); }

core::scope list_scope(const principal& p) {
  return core::scope_of(to_actor(p), operation::read_case).value_or(core::scope{});
}

bool reaches(const principal& p, operation op) {
  return core::scope_of(to_actor(p), op).has_value();
}

result<core::scope> read_scope(const principal& p, operation op, std::string_view center,
                               std::string_view unit, const core::registry& reg) {
  std::optional<center_code> c;
  std::optional<unit_id> u;
  if (!center.empty()) c = center_code{std::string(center)};
  if (!unit.empty()) u = unit_id{std::string(unit)};
  auto sc = core::read_scope(to_actor(p), op, c, u, reg);
  if (!sc) return make_error(errc::forbidden, sc.error().detail);
  return sc.value();
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
  return core::actor{user_id{"token:" + p.token_id}, to_core(p.role), p.center, p.unit};
}

}  // namespace caseline::gateway
