#include "core/authorization.h"

#include <array>
#include <string>
#include <type_traits>
#include <variant>

#include "core/errc.h"

namespace caseline::core {

namespace {

// The roles of the centers' staff, where no article names them for the operation.
constexpr std::string_view staff = "Art. 16-23";

// One row of the table: an operation, the article that gives its holders their power, whether
// decide() holds every caller to the row (statutory: the article names the roles, whoever
// calls core), and the reach of each role, one letter a role in the order of `role`: agent,
// shift lead, supervisor, quality inspector, analyst, revisit officer, unit staff, unit head,
// auditor, admin. `-` none, `U` own unit, `C` own center (the provincial center's staff: every
// center), `P` the provincial center's staff only, `A` all.
//
// Rows that are not statutory are the service's assignment of duties: the gateway holds every
// request to them, while core only keeps a center's command to the center's staff and a unit's to
// the unit's people. The service's own jobs (reminders, retention, deadline revisions) act as
// a supervisor of the case's center; the rules' tests act as whichever staff member they need.
struct row {
  operation op;
  std::string_view name;
  std::string_view article;
  bool statutory;
  std::string_view reach;
  // Who holds a statutory power, for the refusal: "an extension is approved by the unit's head".
  std::string_view holders;
};

using O = operation;

// clang-format off
constexpr std::array<row, operation_count> table{{
  {O::receive,           "receive",            staff,        false, "CCC--C----", ""},
  {O::intake_command,    "intake_command",     staff,        false, "CCC--C----", ""},
  {O::escalate,          "escalate",           staff,        false, "--C-------", ""},
  {O::archive,           "archive",            staff,        false, "C-C--C----", ""},
  {O::unit_command,      "unit_command",       "Art. 30",    false, "------UU--", ""},
  {O::approve_extension, "approve_extension",  "Art. 34",    true,  "-------U--",
   "an extension is approved by the unit's head"},
  {O::accept_late_return,"accept_late_return", "Art. 32",    true,  "-CC-------",
   "a late return is accepted by a shift lead"},
  {O::revisit,           "revisit",            "Art. 23",    true,  "--C--C----",
   "revisits are made by a revisit officer"},
  {O::read_case,         "read_case",          staff,        false, "CCCC-CUUA-", ""},
  {O::read_registry,     "read_registry",      staff,        false, "AAAAAAAAAA", ""},
  {O::write_registry,    "write_registry",     "Art. 30-31", false, "--C------A", ""},
  {O::admin_clock,       "admin_clock",        staff,        false, "---------A", ""},
  {O::metrics,           "metrics",            staff,        false, "----A---AA", ""},
  {O::read_worklists,    "read_worklists",     staff,        false, "CCCC-CUUA-", ""},
  {O::read_reports,      "read_reports",       "Art. 39-40", false, "--C-C---A-", ""},
  {O::retention_audit,   "retention_audit",    "Art. 38",    false, "--P-----A-", ""},
  {O::legal_hold,        "legal_hold",         staff,        false, "--C-------", ""},
  {O::upload_recording,  "upload_recording",   staff,        false, "CCC-------", ""},
  {O::read_recording,    "read_recording",     staff,        false, "--CC----A-", ""},
  {O::publish_calendar,  "publish_calendar",   staff,        false, "---------A", ""},
  {O::admin_tokens,      "admin_tokens",       staff,        false, "---------A", ""},
  {O::read_assessment,   "read_assessment",    "Art. 45",    false, "--P-P---A-", ""},
  {O::remind,            "remind",             "Art. 35",    false, "--C-------", ""},
  {O::purge,             "purge",              "Art. 38",    false, "--C-------", ""},
  {O::revise_deadlines,  "revise_deadlines",   staff,        false, "--C-------", ""},
  {O::retention_purge,   "retention_purge",    "Art. 38",    false, "---------A", ""},
}};
// clang-format on

constexpr scope_kind cell(char c) {
  switch (c) {
    case 'U':
      return scope_kind::unit;
    case 'C':
      return scope_kind::center;
    case 'P':
      return scope_kind::province;
    case 'A':
      return scope_kind::all;
    default:
      return scope_kind::none;
  }
}

constexpr bool well_formed() {
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (static_cast<std::size_t>(table[i].op) != i) return false;
    if (table[i].reach.size() != role_count) return false;
    for (const char c : table[i].reach)
      if (c != '-' && cell(c) == scope_kind::none) return false;
    if (table[i].statutory == table[i].holders.empty()) return false;
  }
  return true;
}
static_assert(well_formed(), "one row per operation, in the order of the enum, a letter a role");

const row& row_of(operation op) { return table.at(static_cast<std::size_t>(op)); }

// A command of a handling unit (its staff or head), rather than of a center's staff.
bool unit_side(operation op) { return op == O::unit_command || op == O::approve_extension; }

error refuse(operation op, std::string what) {
  const auto article = article_of(op);
  if (article != staff) what += " (" + std::string(article) + ")";
  return make_error(errc::not_permitted, std::move(what));
}

// Art. 23: the provincial center's revisit officers also receive, transfer, close and archive
// the matters that come by the app, the website and WeChat.
bool online_desk(const center_code& center, channel via) {
  return center() == registry::provincial_center &&
         (via == channel::app || via == channel::website || via == channel::wechat);
}
constexpr const char* revisit_officer_intake =
    "a revisit officer handles only the provincial center's app, web and WeChat matters (Art. 23)";

}  // namespace

std::string_view to_string(operation op) {
  const auto i = static_cast<std::size_t>(op);
  return i < table.size() ? table.at(i).name : std::string_view{"unknown"};
}

std::string_view to_string(scope_kind k) {
  static constexpr std::array<std::string_view, 5> n{"none", "unit", "center", "province", "all"};
  const auto i = static_cast<std::size_t>(k);
  return i < n.size() ? n[i] : std::string_view{"unknown"};
}

operation operation_of(const command& cmd) {
  return std::visit(
      [](const auto& c) -> operation {
        using Cmd = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<Cmd, core::receive>)
          return O::receive;
        else if constexpr (std::is_same_v<Cmd, core::escalate>)
          return O::escalate;
        else if constexpr (std::is_same_v<Cmd, core::archive>)
          return O::archive;
        else if constexpr (std::is_same_v<Cmd, return_case> || std::is_same_v<Cmd, extend> ||
                           std::is_same_v<Cmd, reply>)
          return O::unit_command;
        else if constexpr (std::is_same_v<Cmd, core::approve_extension>)
          return O::approve_extension;
        else if constexpr (std::is_same_v<Cmd, core::accept_late_return>)
          return O::accept_late_return;
        else if constexpr (std::is_same_v<Cmd, core::revisit>)
          return O::revisit;
        else if constexpr (std::is_same_v<Cmd, place_legal_hold> ||
                           std::is_same_v<Cmd, lift_legal_hold>)
          return O::legal_hold;
        else if constexpr (std::is_same_v<Cmd, core::remind>)
          return O::remind;
        else if constexpr (std::is_same_v<Cmd, purge_recording> ||
                           std::is_same_v<Cmd, shred_text> ||
                           std::is_same_v<Cmd, record_refused_purge>)
          return O::purge;
        else if constexpr (std::is_same_v<Cmd, core::revise_deadlines>)
          return O::revise_deadlines;
        else
          return O::intake_command;  // answer, not-accept, redirect, classify, transfer, flag
      },
      cmd);
}

bool is_unit_role(role r) { return r == role::unit_staff || r == role::unit_head; }

scope_kind allowed_scope(role r, operation op) {
  const auto i = static_cast<std::size_t>(r);
  return i < role_count ? cell(row_of(op).reach.at(i)) : scope_kind::none;
}

bool permitted(role r, operation op) { return allowed_scope(r, op) != scope_kind::none; }

std::string_view article_of(operation op) { return row_of(op).article; }

bool provincial(const actor& a) {
  return !is_unit_role(a.role) && a.center() == registry::provincial_center;
}

std::optional<scope> scope_of(const actor& a, operation op) {
  switch (allowed_scope(a.role, op)) {
    case scope_kind::none:
      return std::nullopt;
    case scope_kind::all:
      return scope::everything();
    case scope_kind::province:
      if (!provincial(a)) return std::nullopt;
      return scope::province();
    case scope_kind::center:
      if (provincial(a)) return scope::province();
      return scope::of_center(a.center);
    case scope_kind::unit:
      // A unit token always names its unit (gateway/auth.h check_token_scope); one that does not
      // reaches nothing rather than every unit-less case.
      if (a.unit().empty()) return std::nullopt;
      return scope::of_unit(a.unit);
  }
  return std::nullopt;
}

bool covers(const scope& sc, const case_state& s) {
  if (s.status == case_status::none) return false;
  switch (sc.kind) {
    case scope_kind::none:
      return false;
    case scope_kind::all:
    case scope_kind::province:
      return true;
    case scope_kind::center:
      return s.center == sc.center || s.owner_center == sc.center;
    case scope_kind::unit:
      return !sc.unit().empty() && s.unit && *s.unit == sc.unit &&
             (sc.center().empty() || s.center == sc.center || s.owner_center == sc.center);
  }
  return false;
}

bool may(const actor& a, operation op, const case_state& s) {
  const auto sc = scope_of(a, op);
  return sc && covers(*sc, s);
}

result<scope> read_scope(const actor& a, operation op, const std::optional<center_code>& center,
                         const std::optional<unit_id>& unit, const registry& reg) {
  const auto own = scope_of(a, op);
  if (!own) return refuse(op, "role " + std::string(to_string(a.role)));
  const std::string_view what = op == O::read_reports ? "report" : "cases";
  if (own->kind == scope_kind::unit) {
    if ((unit && *unit != own->unit) || (center && *center != a.center))
      return make_error(errc::not_permitted, "a unit sees its own unit's cases only");
    return *own;
  }
  if (own->unbounded()) {
    if (unit) return scope::of_unit(*unit, center.value_or(center_code{}));
    if (center) return scope::of_center(*center);
    return *own;
  }
  if (center && *center != own->center)
    return make_error(errc::not_permitted, "another center's " + std::string(what));
  if (unit) {
    const unit_info* u = reg.unit(*unit);
    if (u == nullptr || u->center != own->center)
      return make_error(errc::not_permitted, "not a unit of the token's center");
    return scope::of_unit(*unit, own->center);
  }
  return *own;
}

result<void> check_receiver(const receive& c, const actor& who) {
  if (is_unit_role(who.role)) return refuse(O::receive, "a unit's staff");
  if (who.role == role::revisit_officer && !online_desk(c.center, c.via))
    return make_error(errc::not_permitted, revisit_officer_intake);
  return success();
}

result<void> check_actor(const case_state& s, const command& cmd, const actor& who) {
  const operation op = operation_of(cmd);
  if (op == O::receive) return success();  // checked against the command (check_receiver)
  const row& r = row_of(op);
  if (r.statutory && !permitted(who.role, op)) return refuse(op, std::string(r.holders));
  if (unit_side(op)) {
    if (!is_unit_role(who.role)) return refuse(op, "not a unit's staff");
    if (!s.unit || who.unit != *s.unit) return make_error(errc::not_the_handling_unit);
    return success();
  }
  if (who.role == role::revisit_officer && op != O::revisit && !online_desk(s.center, s.via))
    return make_error(errc::not_permitted, revisit_officer_intake);
  // Art. 22(4): an agent archives the work orders that agent handled (received).
  if (op == O::archive && who.role == role::agent && s.received_by != who.id)
    return make_error(errc::not_permitted,
                      "an agent archives only the work orders that agent handled (Art. 22(4))");
  if (is_unit_role(who.role)) return refuse(op, "a unit's staff");
  if (who.center != s.owner_center)
    return make_error(errc::not_the_owning_center, "the case belongs to " + s.owner_center());
  return success();
}

}  // namespace caseline::core
