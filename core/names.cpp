// The wire and display names of core's enums. They appear in JSON and logs: never rename one.
#include <array>
#include <string_view>

#include "core/case_state.h"
#include "core/commands.h"
#include "core/decide.h"

namespace caseline::core {

namespace {

template <class E, std::size_t N>
std::string_view name_in(const std::array<std::string_view, N>& names, E v) {
  const auto i = static_cast<std::size_t>(v);
  return i < N ? names[i] : std::string_view{"unknown"};
}

}  // namespace

std::string_view to_string(channel v) {
  static constexpr std::array<std::string_view, 8> n{"phone", "website", "sms",  "wechat",
                                                     "app",   "email",   "fax", "other_hotline"};
  return name_in(n, v);
}
std::string_view to_string(not_accepted_reason v) {
  static constexpr std::array<std::string_view, 5> n{"outside_remit", "no_clear_subject",
                                                     "handled_by_other_body", "secrets_or_privacy",
                                                     "excluded_by_law"};
  return name_in(n, v);
}
std::string_view to_string(redirect_target v) {
  static constexpr std::array<std::string_view, 5> n{"rail", "aviation", "postal",
                                                     "expressway_rescue", "water_distress"};
  return name_in(n, v);
}
std::string_view to_string(category v) {
  static constexpr std::array<std::string_view, 3> n{"complaint", "inquiry", "suggestion"};
  return name_in(n, v);
}
std::string_view to_string(domain v) {
  static constexpr std::array<std::string_view, 6> n{"highway",  "waterway",       "road_transport",
                                                     "maritime", "rescue_salvage", "work_safety"};
  return name_in(n, v);
}
std::string_view to_string(escalation_target v) {
  static constexpr std::array<std::string_view, 2> n{"upper_center", "department"};
  return name_in(n, v);
}
std::string_view to_string(escalation_reason v) {
  static constexpr std::array<std::string_view, 2> n{"cross_region", "no_unit"};
  return name_in(n, v);
}
std::string_view to_string(extension_reason v) {
  static constexpr std::array<std::string_view, 4> n{"complex", "evidence", "appraisal", "other"};
  return name_in(n, v);
}
std::string_view to_string(deadline_kind v) {
  static constexpr std::array<std::string_view, 3> n{"transfer", "reply", "return"};
  return name_in(n, v);
}
std::string_view to_string(satisfaction v) {
  static constexpr std::array<std::string_view, 3> n{"satisfied", "basically_satisfied",
                                                     "dissatisfied"};
  return name_in(n, v);
}
std::string_view to_string(timeliness v) {
  static constexpr std::array<std::string_view, 3> n{"timely", "acceptable", "too_slow"};
  return name_in(n, v);
}
std::string_view to_string(case_status v) {
  static constexpr std::array<std::string_view, 13> n{
      "none",     "received",    "answered", "not_accepted", "redirected", "classified", "escalated",
      "transferred", "returned", "replied",  "revisited",    "reopened",   "archived"};
  return name_in(n, v);
}
std::string_view to_string(deadline_state v) {
  static constexpr std::array<std::string_view, 4> n{"pending", "met", "missed", "closed"};
  return name_in(n, v);
}
std::string_view to_string(role v) {
  static constexpr std::array<std::string_view, role_count> n{
      "agent",           "shift_lead", "supervisor", "quality_inspector", "analyst",
      "revisit_officer", "unit_staff", "unit_head",  "auditor",           "admin"};
  return name_in(n, v);
}

std::string_view to_string(retained_item v) {
  static constexpr std::array<std::string_view, 2> n{"recording", "text"};
  return name_in(n, v);
}

std::string_view command_name(const command& c) {
  static constexpr std::array<std::string_view, std::variant_size_v<command>> n{
      "receive",  "answer_immediately", "not_accept", "redirect", "classify", "transfer", "escalate",
      "return",   "extend",             "remind",     "reply",    "revisit",  "archive",
      "flag_major_urgent", "purge_recording", "shred_text", "place_legal_hold", "lift_legal_hold",
      "record_refused_purge", "revise_deadlines", "accept_late_return",
      "approve_extension"};
  return n[c.index()];
}

}  // namespace caseline::core
