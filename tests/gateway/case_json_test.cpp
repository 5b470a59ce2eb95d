#include "gateway/case_json.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <doctest/doctest.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/codec.h"
#include "gateway/auth.h"
#include "gateway/command_json.h"
#include "gateway/json_text.h"

namespace caseline::gateway {
namespace {

namespace json = boost::json;

// --- The reference: the case and its events built as boost::json values, as the API rendered
// them before they were written straight as text. The text renderer must give the same bytes.

json::value ref_date(const civil_date& d) { return json::value(d.to_string()); }

std::string_view ref_deadline_name(core::deadline_kind k) {
  switch (k) {
    case core::deadline_kind::transfer:
      return "transfer_by";
    case core::deadline_kind::return_window:
      return "return_by";
    case core::deadline_kind::reply:
      return "reply_by";
  }
  return "reply_by";
}

template <class T>
json::value ref_opt_date(const std::optional<T>& d) {
  return d ? ref_date(*d) : json::value(nullptr);
}

template <class E>
json::value ref_opt_enum(const std::optional<E>& e) {
  return e ? json::value(core::to_string(*e)) : json::value(nullptr);
}

json::array ref_strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::value ref_personal(const std::string& v, const personal_view& view) {
  return view.shredded || view.withheld ? json::value(nullptr) : json::value(v);
}

json::value ref_phone(const std::string& v, const personal_view& view) {
  if (view.shredded || view.withheld) return nullptr;
  return json::value(view.mask_phone ? mask_phone(v) : v);
}

json::object ref_caller(const core::caller_info& c, const personal_view& view) {
  return {{"phone", c.phone.empty() ? json::value(nullptr) : ref_phone(c.phone, view)},
          {"name", ref_personal(c.name, view)},
          {"account", c.account.empty() ? json::value(nullptr) : ref_phone(c.account, view)}};
}

void ref_put_basis(json::object& o, std::string_view due_field, const core::deadline_basis& b) {
  o[std::string(due_field) + "_provisional"] = b.provisional;
  o["calendar"] = b.calendar;
}

json::object ref_recording(const core::recording_ref& r) {
  return {{"uri", r.uri}, {"sha256", r.sha256}, {"duration_s", r.duration_s}};
}

struct ref_body {
  personal_view view;
  json::value text(const std::string& v) const { return ref_personal(v, view); }
  json::object operator()(const core::case_received& e) const {
    json::object o{
        {"channel", core::to_string(e.via)},      {"center", e.center()},
        {"caller", ref_caller(e.caller, view)},   {"content", text(e.content)},
        {"received_on", ref_date(e.received_on)}, {"transfer_due", ref_date(e.transfer_due)}};
    o["recording"] = e.recording ? json::value(ref_recording(*e.recording)) : json::value(nullptr);
    o["category"] = ref_opt_enum(e.cat);
    o["domain"] = ref_opt_enum(e.dom);
    if (e.received_at) o["received_at"] = to_rfc3339_shanghai(*e.received_at);
    ref_put_basis(o, "transfer_due", e.transfer_basis);
    return o;
  }
  json::object operator()(const core::answered_immediately& e) const {
    return {{"answer", text(e.answer)},
            {"answered_on", ref_date(e.answered_on)},
            {"revisit_required", e.revisit_required}};
  }
  json::object operator()(const core::not_accepted& e) const {
    return {{"reason", wire_name(e.reason)},
            {"explanation", text(e.explanation)},
            {"decided_on", ref_date(e.decided_on)}};
  }
  json::object operator()(const core::redirected& e) const {
    return {{"to", core::to_string(e.target)},
            {"number", e.number_given},
            {"call_transferred", e.call_transferred},
            {"redirected_on", ref_date(e.redirected_on)}};
  }
  json::object operator()(const core::classified& e) const {
    return {{"category", core::to_string(e.cat)},
            {"domain", core::to_string(e.dom)},
            {"topics", ref_strings(e.topics)},
            {"expressway", e.expressway},
            {"owner_center", e.owner_center()}};
  }
  json::object operator()(const core::transferred& e) const {
    json::object o{{"unit", e.unit()},
                   {"center", e.center()},
                   {"transferred_on", ref_date(e.transferred_on)},
                   {"return_by", ref_date(e.return_by)},
                   {"reply_days", e.reply_days()},
                   {"reply_due", ref_date(e.reply_due)},
                   {"late", e.late}};
    if (e.reply_from) o["reply_from"] = ref_date(*e.reply_from);
    ref_put_basis(o, "return_by", e.return_basis);
    ref_put_basis(o, "reply_due", e.reply_basis);
    return o;
  }
  json::object operator()(const core::escalated& e) const {
    return {{"to", core::to_string(e.target)},
            {"reason", core::to_string(e.reason)},
            {"from_center", e.from_center()},
            {"to_center", e.to_center()},
            {"note", text(e.note)}};
  }
  json::object operator()(const core::returned& e) const {
    json::object o{{"unit", e.unit()},
                   {"reasons", text(e.reasons)},
                   {"returned_on", ref_date(e.returned_on)},
                   {"late", e.late}};
    if (e.late && !e.accepted_late_reason.empty())
      o["accepted_late_reason"] = text(e.accepted_late_reason);
    return o;
  }
  json::object operator()(const core::extended& e) const {
    json::object o{{"approved_by", e.approved_by},
                   {"reason", core::to_string(e.reason)},
                   {"working_days", e.days()},
                   {"explanation", text(e.explanation)},
                   {"previous_due", ref_date(e.previous_due)},
                   {"reply_due", ref_date(e.reply_due)}};
    if (!e.requested_by().empty()) o["requested_by"] = e.requested_by();
    ref_put_basis(o, "reply_due", e.reply_basis);
    return o;
  }
  json::object operator()(const core::extension_requested& e) const {
    return {{"reason", core::to_string(e.reason)},
            {"working_days", e.days()},
            {"explanation", text(e.explanation)},
            {"requested_on", ref_date(e.requested_on)}};
  }
  json::object operator()(const core::reminded& e) const {
    return {{"kind", core::to_string(e.kind)},
            {"due", ref_date(e.due)},
            {"reminded_on", ref_date(e.reminded_on)},
            {"unit", e.unit()}};
  }
  json::object operator()(const core::overdue_reported& e) const {
    return {{"due", ref_date(e.due)},
            {"reported_on", ref_date(e.reported_on)},
            {"unit", e.unit()},
            {"center", e.center()}};
  }
  json::object operator()(const core::replied& e) const {
    return {{"facts", text(e.facts)},
            {"process", text(e.process)},
            {"basis", text(e.basis)},
            {"caller_reached", e.caller_reached},
            {"replied_on", ref_date(e.replied_on)},
            {"on_time", e.on_time},
            {"revisit_required", e.revisit_required}};
  }
  json::object operator()(const core::revisited& e) const {
    json::object o{{"reached", e.reached},
                   {"satisfaction", ref_opt_enum(e.result_view)},
                   {"timeliness", ref_opt_enum(e.time_view)},
                   {"further_handling", e.further_handling},
                   {"notes", text(e.notes)},
                   {"revisited_on", ref_date(e.revisited_on)},
                   {"reopened_reply_due", ref_opt_date(e.reopened_reply_due)}};
    if (e.reopened_reply_due) {
      o["reopened_reply_days"] = e.reopened_reply_days();
      ref_put_basis(o, "reopened_reply_due", e.reopened_basis);
    }
    return o;
  }
  json::object operator()(const core::deadline_revised& e) const {
    return {{"kind", core::to_string(e.kind)}, {"previous_due", ref_date(e.previous_due)},
            {"due", ref_date(e.due)},          {"provisional", e.basis.provisional},
            {"calendar", e.basis.calendar},    {"revised_on", ref_date(e.revised_on)}};
  }
  json::object operator()(const core::archived& e) const {
    return {{"archived_on", ref_date(e.archived_on)}};
  }
  json::object operator()(const core::flagged_major_urgent& e) const {
    return {{"reason", text(e.reason)}};
  }
  json::object operator()(const core::recording_purged& e) const {
    return {{"sha256", e.sha256},
            {"retain_until", ref_date(e.retain_until)},
            {"purged_on", ref_date(e.purged_on)},
            {"by", e.by()}};
  }
  json::object operator()(const core::text_shredded& e) const {
    return {{"retain_until", ref_date(e.retain_until)},
            {"shredded_on", ref_date(e.shredded_on)},
            {"by", e.by()}};
  }
  json::object operator()(const core::legal_hold_placed& e) const {
    return {{"reason", e.reason}, {"placed_on", ref_date(e.placed_on)}, {"by", e.by()}};
  }
  json::object operator()(const core::legal_hold_lifted& e) const {
    return {{"reason", e.reason}, {"lifted_on", ref_date(e.lifted_on)}, {"by", e.by()}};
  }
  json::object operator()(const core::purge_refused& e) const {
    return {{"item", core::to_string(e.item)},
            {"rule", e.rule},
            {"retain_until", ref_opt_date(e.retain_until)},
            {"attempted_on", ref_date(e.attempted_on)},
            {"by", e.by()}};
  }
};

json::object ref_case(const core::case_state& s, timestamp now, personal_view view) {
  json::object o;
  o["id"] = s.id();
  o["version"] = s.version;
  o["status"] = core::to_string(s.status);
  o["channel"] = core::to_string(s.via);
  o["center"] = s.center();
  o["owner_center"] = s.owner_center();
  o["caller"] = ref_caller(s.caller, view);
  o["content"] = ref_personal(s.content, view);
  o["recording"] = s.recording ? json::value(ref_recording(*s.recording)) : json::value(nullptr);
  o["received_at"] = to_rfc3339_shanghai(s.received_at);
  o["recorded_at"] = to_rfc3339_shanghai(s.recorded_at.ms != 0 ? s.recorded_at : s.received_at);
  o["received_on"] = ref_date(s.received_on);
  o["category"] = ref_opt_enum(s.cat);
  o["domain"] = ref_opt_enum(s.dom);
  o["topics"] = ref_strings(s.topics);
  o["expressway"] = s.expressway;
  o["major_urgent"] = s.major_urgent;
  o["major_urgent_reason"] = ref_personal(s.major_urgent_reason, view);
  o["not_accepted_reason"] =
      s.not_accepted_for ? json::value(wire_name(*s.not_accepted_for)) : json::value(nullptr);
  o["redirected_to"] = ref_opt_enum(s.redirected_to);
  o["unit"] = s.unit ? json::value((*s.unit)()) : json::value(nullptr);
  o["transferred_on"] = ref_opt_date(s.transferred_on);
  o["extension_days"] = s.extension_days;
  if (s.extension_request)
    o["extension_request"] = {{"reason", core::to_string(s.extension_request->reason)},
                              {"working_days", s.extension_request->days()},
                              {"requested_on", ref_date(s.extension_request->requested_on)},
                              {"by", s.extension_request->by()}};
  else
    o["extension_request"] = nullptr;
  o["returns"] = s.returns;
  json::array overdue;
  for (const auto& r : s.overdue_reports)
    overdue.push_back(json::object{
        {"due", ref_date(r.due)}, {"reported_on", ref_date(r.reported_on)}, {"unit", r.unit()}});
  o["overdue_reports"] = std::move(overdue);
  o["replied_on"] = ref_opt_date(s.replied_on);
  o["replied_on_time"] = s.replied_on_time;
  o["caller_reached"] = s.caller_reached;
  o["revisit_required"] = s.revisit_required;
  o["revisited"] = s.revisited;
  o["satisfaction"] = ref_opt_enum(s.result_view);
  o["timeliness"] = ref_opt_enum(s.time_view);
  o["closed_on"] = ref_opt_date(s.closed_on);
  o["archived_on"] = ref_opt_date(s.archived_on);
  o["legal_hold"] = s.legal_hold;
  o["legal_hold_reason"] = s.legal_hold ? json::value(s.legal_hold_reason) : json::value(nullptr);
  o["recording_purged_on"] = ref_opt_date(s.recording_purged_on);
  o["text_shredded_on"] = ref_opt_date(s.text_shredded_on);
  o["personal_data"] = view.shredded ? "shredded" : view.withheld ? "withheld" : "available";
  json::object deadlines;
  deadlines["transfer_by"] = nullptr;
  deadlines["return_by"] = nullptr;
  deadlines["reply_by"] = nullptr;
  auto all = core::deadlines(s, now);
  if (auto w = core::return_window(s, now)) all.push_back(*w);
  for (const auto& d : all) {
    json::object dj{{"due", ref_date(d.due)},
                    {"state", core::to_string(d.state)},
                    {"met_on", ref_opt_date(d.met_on)},
                    {"provisional", d.basis.provisional},
                    {"calendar", d.basis.calendar}};
    deadlines[ref_deadline_name(d.kind)] = dj;
  }
  o["deadlines"] = std::move(deadlines);
  return o;
}

json::object ref_event(const events::envelope& env, const core::event& e, personal_view view) {
  json::object o;
  o["event_id"] = env.event_id;
  o["sequence"] = env.sequence();
  o["type"] = core::event_name(env.type_id);
  o["type_id"] = env.type_id;
  o["version"] = env.version;
  o["occurred_at"] = to_rfc3339_shanghai(env.occurred_at);
  o["recorded_at"] = to_rfc3339_shanghai(env.recorded_at);
  o["actor"] = {{"user", env.by.user},
                {"role", env.by.role},
                {"center", env.by.center},
                {"unit", env.by.unit}};
  o["correlation_id"] = env.correlation_id;
  o["prev_hash"] = events::to_hex(env.prev_hash);
  o["data"] = std::visit(ref_body{view}, e);
  return o;
}

// --- Varied input: every field drawn from a fixed seed, personal text with Chinese, emoji,
// quotes, backslashes, control characters and bytes that are not UTF-8.

struct draw {
  std::mt19937_64 rng;

  bool coin() { return (rng() & 1) != 0; }
  int below(int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); }
  std::string text() {
    static constexpr char control[] = "control \x01\x08\x0c\x1f and nul \0 inside";
    static const std::vector<std::string> pool{
        "",
        "the bus did not stop at the station",
        "公交车没有在站台停车，司机态度恶劣",
        "quote \" backslash \\ slash / newline \n tab \t return \r",
        std::string(control, sizeof control - 1),
        "not UTF-8: \xff\xfe\xc3 and a lone continuation \x80",
        "emoji 🚌🚕 and \u2028 line separator",
        "13800001234",
        "+86 (371) 6666-0000",
    };
    return pool[static_cast<std::size_t>(below(static_cast<int>(pool.size())))];
  }
  civil_date date() { return civil_date::from_days_since_epoch(20'000 + below(600)); }
  std::optional<civil_date> opt_date() { return coin() ? std::optional(date()) : std::nullopt; }
  template <class E>
  E enumerated(int n) {
    return static_cast<E>(below(n));
  }
  template <class E>
  std::optional<E> opt_enumerated(int n) {
    return coin() ? std::optional(enumerated<E>(n)) : std::nullopt;
  }
  core::deadline_basis basis() { return {coin(), coin() ? "2026.3" : text()}; }
  core::caller_info caller() {
    return {coin() ? "" : "1380000" + std::to_string(below(9999)), text(),
            coin() ? "" : "wx-" + text()};
  }
  std::optional<core::recording_ref> recording() {
    if (coin()) return std::nullopt;
    return core::recording_ref{"blob://" + text(), std::string(64, 'a'),
                               static_cast<std::uint32_t>(below(4000))};
  }
  std::vector<std::string> topics() {
    std::vector<std::string> t;
    for (int i = below(3); i > 0; --i) t.push_back(text());
    return t;
  }
  timestamp instant() {
    return timestamp{1'700'000'000'000 + static_cast<std::int64_t>(rng() % 100'000'000'000)};
  }
};

core::event event_of_type(std::size_t index, draw& d) {
  switch (index) {
    case 0: {
      core::case_received e;
      e.via = d.enumerated<core::channel>(8);
      e.center = center_code{"410100"};
      e.caller = d.caller();
      e.content = d.text();
      e.recording = d.recording();
      e.received_on = d.date();
      e.transfer_due = d.date();
      e.id = case_id{"C-1"};
      e.transfer_basis = d.basis();
      e.cat = d.opt_enumerated<core::category>(3);
      e.dom = d.opt_enumerated<core::domain>(6);
      if (d.coin()) e.received_at = d.instant();
      return e;
    }
    case 1:
      return core::answered_immediately{d.text(), d.date(), user_id{"agent-1"}, d.coin()};
    case 2:
      return core::not_accepted{d.enumerated<core::not_accepted_reason>(5), d.text(), d.date(),
                                user_id{"agent-1"}};
    case 3:
      return core::redirected{d.enumerated<core::redirect_target>(5), d.text(), d.coin(), d.date(),
                              user_id{"agent-1"}};
    case 4:
      return core::classified{d.enumerated<core::category>(3),
                              d.enumerated<core::domain>(6),
                              d.topics(),
                              d.coin(),
                              center_code{"410000"},
                              user_id{"agent-1"}};
    case 5: {
      core::transferred e;
      e.unit = unit_id{"U-" + d.text()};
      e.center = center_code{"410100"};
      e.transferred_on = d.date();
      e.return_by = d.date();
      e.reply_days = working_days{d.below(31)};
      e.reply_due = d.date();
      e.late = d.coin();
      e.return_basis = d.basis();
      e.reply_basis = d.basis();
      e.reply_from = d.opt_date();
      return e;
    }
    case 6:
      return core::escalated{d.enumerated<core::escalation_target>(2),
                             d.enumerated<core::escalation_reason>(2),
                             center_code{"410100"},
                             center_code{d.coin() ? "" : "410000"},
                             d.text(),
                             user_id{"lead"}};
    case 7: {
      core::returned e;
      e.unit = unit_id{"U-1"};
      e.reasons = d.text();
      e.returned_on = d.date();
      e.late = d.coin();
      e.accepted_late_reason = d.coin() ? "" : d.text();
      return e;
    }
    case 8: {
      core::extended e;
      e.approved_by = d.text();
      e.reason = d.enumerated<core::extension_reason>(4);
      e.days = working_days{d.below(30)};
      e.explanation = d.text();
      e.previous_due = d.date();
      e.reply_due = d.date();
      e.reply_basis = d.basis();
      e.requested_by = user_id{d.coin() ? "" : "unit-member"};
      return e;
    }
    case 9:
      return core::reminded{d.enumerated<core::deadline_kind>(3), d.date(), d.date(),
                            unit_id{d.coin() ? "" : "U-1"}, user_id{"scheduler"}};
    case 10:
      return core::replied{d.text(), d.text(), d.text(), d.coin(),
                           d.date(), d.coin(), d.coin(), user_id{"unit-1"}};
    case 11: {
      core::revisited e;
      e.reached = d.coin();
      e.result_view = d.opt_enumerated<core::satisfaction>(3);
      e.time_view = d.opt_enumerated<core::timeliness>(3);
      e.further_handling = d.coin();
      e.notes = d.text();
      e.revisited_on = d.date();
      e.reopened_reply_due = d.opt_date();
      e.reopened_reply_days = working_days{d.below(30)};
      e.reopened_basis = d.basis();
      return e;
    }
    case 12:
      return core::archived{d.date(), user_id{"lead"}};
    case 13:
      return core::flagged_major_urgent{d.text(), d.date(), user_id{"agent-1"}};
    case 14:
      return core::recording_purged{std::string(64, 'b'), d.date(), d.date(), user_id{"admin"}};
    case 15:
      return core::text_shredded{d.date(), d.date(), user_id{"admin"}};
    case 16:
      return core::legal_hold_placed{d.text(), d.date(), user_id{"supervisor"}};
    case 17:
      return core::legal_hold_lifted{d.text(), d.date(), user_id{"supervisor"}};
    case 18:
      return core::purge_refused{d.enumerated<core::retained_item>(2), d.text(), d.opt_date(),
                                 d.date(), user_id{"admin"}};
    case 19:
      return core::deadline_revised{d.enumerated<core::deadline_kind>(3),
                                    d.date(),
                                    d.date(),
                                    d.basis(),
                                    d.date(),
                                    user_id{"scheduler"}};
    case 20:
      return core::extension_requested{d.enumerated<core::extension_reason>(4),
                                       working_days{d.below(30)}, d.text(), d.date(),
                                       user_id{"unit-member"}};
    default:
      return core::overdue_reported{d.date(), d.date(), unit_id{"U-1"}, center_code{"410100"},
                                    user_id{"scheduler"}};
  }
}

core::case_state case_of(draw& d) {
  core::case_state s;
  s.id = case_id{"410100-20260101-" + std::to_string(d.below(100000))};
  s.version = static_cast<std::uint64_t>(d.below(40));
  s.status = d.enumerated<core::case_status>(13);
  s.via = d.enumerated<core::channel>(8);
  s.center = center_code{"410100"};
  s.owner_center = center_code{d.coin() ? "410100" : "410000"};
  s.caller = d.caller();
  s.content = d.text();
  s.recording = d.recording();
  s.received_at = d.instant();
  s.received_on = d.date();
  s.transfer_due = s.received_on.plus_days(3);
  s.cat = d.opt_enumerated<core::category>(3);
  s.dom = d.opt_enumerated<core::domain>(6);
  s.topics = d.topics();
  s.expressway = d.coin();
  s.major_urgent = d.coin();
  s.major_urgent_reason = s.major_urgent ? d.text() : "";
  s.not_accepted_for = d.opt_enumerated<core::not_accepted_reason>(5);
  s.redirected_to = d.opt_enumerated<core::redirect_target>(5);
  if (d.coin()) {
    s.unit = unit_id{"U-" + std::to_string(d.below(50))};
    s.first_transferred_on = s.received_on.plus_days(d.below(5));
    s.transferred_on = s.first_transferred_on->plus_days(d.below(3));
    s.return_by = s.transferred_on->plus_days(2);
    s.reply_due = s.transferred_on->plus_days(d.below(40));
    s.reply_from = d.opt_date();
    s.returned_on = d.coin() ? s.transferred_on : std::nullopt;
  }
  s.extension_days = d.below(30);
  s.returns = static_cast<std::uint32_t>(d.below(3));
  s.replied_on = d.opt_date();
  s.replied_on_time = d.coin();
  s.caller_reached = d.coin();
  s.revisit_required = d.coin();
  s.revisited = d.coin();
  s.result_view = d.opt_enumerated<core::satisfaction>(3);
  s.time_view = d.opt_enumerated<core::timeliness>(3);
  s.closed_on = d.opt_date();
  s.archived_on = d.opt_date();
  s.legal_hold = d.coin();
  s.legal_hold_reason = d.text();
  s.recording_purged_on = d.opt_date();
  s.text_shredded_on = d.opt_date();
  s.transfer_basis = d.basis();
  s.return_basis = d.basis();
  s.reply_basis = d.basis();
  s.reply_days = d.below(30);
  s.recorded_at = d.coin() ? timestamp{} : d.instant();
  if (d.coin())
    s.extension_request =
        core::pending_extension{d.enumerated<core::extension_reason>(4), working_days{d.below(30)},
                                d.date(), user_id{"unit-member"}};
  for (int i = d.below(3); i > 0; --i)
    s.overdue_reports.push_back({d.date(), d.date(), unit_id{"U-" + std::to_string(i)}});
  return s;
}

// The last two: a written command's answer whose personal fields could not be shown.
const personal_view views[] = {{false, false, false}, {true, false, false}, {false, true, false},
                               {true, true, false},   {false, false, true}, {true, false, true}};

std::string text_of_event(const events::envelope& env, const core::event& e, personal_view v) {
  json_writer w;
  write_event(w, env, e, v);
  return w.take();
}

TEST_CASE("the case is written as the boost::json rendering it replaced wrote it, byte for byte") {
  draw d{std::mt19937_64{20261202}};
  for (int i = 0; i < 500; ++i) {
    const auto s = case_of(d);
    // Before, around and long after its deadlines: pending, met, missed and closed states.
    for (const auto now : {s.received_at, timestamp{s.received_at.ms + 6 * 86'400'000LL},
                           timestamp{s.received_at.ms + 90 * 86'400'000LL}})
      for (const auto& v : views) {
        CAPTURE(i);
        CAPTURE(v.mask_phone);
        CAPTURE(v.shredded);
        CAPTURE(v.withheld);
        REQUIRE(case_json(s, now, v) == json_text(ref_case(s, now, v)));
      }
  }
}

TEST_CASE("every event type is written as the boost::json rendering it replaced wrote it") {
  draw d{std::mt19937_64{38}};
  for (std::size_t type = 0; type < std::variant_size_v<core::event>; ++type)
    for (int i = 0; i < 40; ++i) {
      const core::event e = event_of_type(type, d);
      REQUIRE(e.index() == type);  // the draw above names every alternative
      events::envelope env;
      env.event_id = "410100-20260101-00001#" + std::to_string(i + 1);
      env.case_id = case_id{"410100-20260101-00001"};
      env.sequence = sequence_number{static_cast<std::uint64_t>(i + 1)};
      env.type_id = std::visit([](const auto& body) { return body.type_id; }, e);
      env.version = static_cast<std::uint16_t>(1 + d.below(6));
      env.occurred_at = d.instant();
      env.recorded_at = d.instant();
      env.by = {"user-" + d.text(), "agent", "410100", d.coin() ? "" : "U-1"};
      env.correlation_id = d.text();
      env.prev_hash = d.coin() ? "" : std::string("\x00\x01\xfe\xff", 4) + d.text();
      for (const auto& v : views) {
        CAPTURE(type);
        CAPTURE(i);
        CAPTURE(v.shredded);
        CAPTURE(v.withheld);
        REQUIRE(text_of_event(env, e, v) == json_text(ref_event(env, e, v)));
      }
    }
}

}  // namespace
}  // namespace caseline::gateway
