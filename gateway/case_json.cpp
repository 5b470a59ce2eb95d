#include "gateway/case_json.h"

#include <boost/json/array.hpp>

#include "core/codec.h"
#include "gateway/auth.h"
#include "gateway/command_json.h"

namespace caseline::gateway {

namespace json = boost::json;

namespace {

std::string mask_phone_number(std::string_view p) { return mask_phone(p); }

json::value date(const civil_date& d) { return json::value(d.to_string()); }

std::string_view deadline_name(core::deadline_kind k) {
  switch (k) {
    case core::deadline_kind::transfer: return "transfer_by";
    case core::deadline_kind::return_window: return "return_by";
    case core::deadline_kind::reply: return "reply_by";
  }
  return "reply_by";
}

template <class T>
json::value opt_date(const std::optional<T>& d) {
  return d ? date(*d) : json::value(nullptr);
}

template <class E>
json::value opt_enum(const std::optional<E>& e) {
  return e ? json::value(core::to_string(*e)) : json::value(nullptr);
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// A personal field: null once the case's text is shredded.
json::value personal(const std::string& v, const personal_view& view) {
  return view.shredded ? json::value(nullptr) : json::value(v);
}

json::value phone(const std::string& v, const personal_view& view) {
  if (view.shredded) return nullptr;
  return json::value(view.mask_phone ? mask_phone_number(v) : v);
}

// The caller's way back: the phone and the channel's account, masked alike; none is null.
json::object caller(const core::caller_info& c, const personal_view& view) {
  return {{"phone", c.phone.empty() ? json::value(nullptr) : phone(c.phone, view)},
          {"name", personal(c.name, view)},
          {"account", c.account.empty() ? json::value(nullptr) : phone(c.account, view)}};
}

// The calendar a deadline stands on (core::deadline_basis): `<field>_provisional` beside the
// date, and the calendar version once per event.
void put_basis(json::object& o, std::string_view due_field, const core::deadline_basis& b) {
  o[std::string(due_field) + "_provisional"] = b.provisional;
  o["calendar"] = b.calendar;
}

json::object recording(const core::recording_ref& r) {
  return {{"uri", r.uri}, {"sha256", r.sha256}, {"duration_s", r.duration_s}};
}

// One object per event type: every field of the body, enums by name, dates as YYYY-MM-DD.
struct body_renderer {
  personal_view view;
  json::value text(const std::string& v) const { return personal(v, view); }
  json::object operator()(const core::case_received& e) const {
    json::object o{{"channel", core::to_string(e.via)},
                   {"center", e.center()},
                   {"caller", caller(e.caller, view)},
                   {"content", text(e.content)},
                   {"received_on", date(e.received_on)},
                   {"transfer_due", date(e.transfer_due)}};
    o["recording"] = e.recording ? json::value(recording(*e.recording)) : json::value(nullptr);
    o["category"] = opt_enum(e.cat);
    o["domain"] = opt_enum(e.dom);
    if (e.received_at) o["received_at"] = to_rfc3339_shanghai(*e.received_at);
    put_basis(o, "transfer_due", e.transfer_basis);
    return o;
  }
  json::object operator()(const core::answered_immediately& e) const {
    return {{"answer", text(e.answer)},
            {"answered_on", date(e.answered_on)},
            {"revisit_required", e.revisit_required}};
  }
  json::object operator()(const core::not_accepted& e) const {
    return {{"reason", wire_name(e.reason)},
            {"explanation", text(e.explanation)},
            {"decided_on", date(e.decided_on)}};
  }
  json::object operator()(const core::redirected& e) const {
    return {{"to", core::to_string(e.target)},
            {"number", e.number_given},
            {"call_transferred", e.call_transferred},
            {"redirected_on", date(e.redirected_on)}};
  }
  json::object operator()(const core::classified& e) const {
    return {{"category", core::to_string(e.cat)}, {"domain", core::to_string(e.dom)},
            {"topics", strings(e.topics)},        {"expressway", e.expressway},
            {"owner_center", e.owner_center()}};
  }
  json::object operator()(const core::transferred& e) const {
    json::object o{{"unit", e.unit()},
                   {"center", e.center()},
                   {"transferred_on", date(e.transferred_on)},
                   {"return_by", date(e.return_by)},
                   {"reply_days", e.reply_days()},
                   {"reply_due", date(e.reply_due)},
                   {"late", e.late}};
    if (e.reply_from) o["reply_from"] = date(*e.reply_from);
    put_basis(o, "return_by", e.return_basis);
    put_basis(o, "reply_due", e.reply_basis);
    return o;
  }
  json::object operator()(const core::escalated& e) const {
    return {{"to", core::to_string(e.target)},     {"reason", core::to_string(e.reason)},
            {"from_center", e.from_center()},      {"to_center", e.to_center()},
            {"note", text(e.note)}};
  }
  json::object operator()(const core::returned& e) const {
    json::object o{{"unit", e.unit()},
                   {"reasons", text(e.reasons)},
                   {"returned_on", date(e.returned_on)},
                   {"late", e.late}};
    // Accepted after the window by the shift lead, the event's actor (Art. 32).
    if (e.late && !e.accepted_late_reason.empty())
      o["accepted_late_reason"] = text(e.accepted_late_reason);
    return o;
  }
  json::object operator()(const core::extended& e) const {
    json::object o{{"approved_by", e.approved_by},     {"reason", core::to_string(e.reason)},
                   {"working_days", e.days()},           {"explanation", text(e.explanation)},
                   {"previous_due", date(e.previous_due)}, {"reply_due", date(e.reply_due)}};
    // Approved on the unit's request (Art. 34): the explanation is the request's.
    if (!e.requested_by().empty()) o["requested_by"] = e.requested_by();
    put_basis(o, "reply_due", e.reply_basis);
    return o;
  }
  json::object operator()(const core::extension_requested& e) const {
    return {{"reason", core::to_string(e.reason)},
            {"working_days", e.days()},
            {"explanation", text(e.explanation)},
            {"requested_on", date(e.requested_on)}};
  }
  json::object operator()(const core::reminded& e) const {
    return {{"kind", core::to_string(e.kind)},
            {"due", date(e.due)},
            {"reminded_on", date(e.reminded_on)},
            {"unit", e.unit()}};
  }
  json::object operator()(const core::overdue_reported& e) const {
    return {{"due", date(e.due)},
            {"reported_on", date(e.reported_on)},
            {"unit", e.unit()},
            {"center", e.center()}};
  }
  json::object operator()(const core::replied& e) const {
    return {{"facts", text(e.facts)},
            {"process", text(e.process)},
            {"basis", text(e.basis)},
            {"caller_reached", e.caller_reached},
            {"replied_on", date(e.replied_on)},
            {"on_time", e.on_time},
            {"revisit_required", e.revisit_required}};
  }
  json::object operator()(const core::revisited& e) const {
    json::object o{{"reached", e.reached},
            {"satisfaction", opt_enum(e.result_view)},
            {"timeliness", opt_enum(e.time_view)},
            {"further_handling", e.further_handling},
            {"notes", text(e.notes)},
            {"revisited_on", date(e.revisited_on)},
            {"reopened_reply_due", opt_date(e.reopened_reply_due)}};
    if (e.reopened_reply_due) {
      o["reopened_reply_days"] = e.reopened_reply_days();
      put_basis(o, "reopened_reply_due", e.reopened_basis);
    }
    return o;
  }
  json::object operator()(const core::deadline_revised& e) const {
    return {{"kind", core::to_string(e.kind)},     {"previous_due", date(e.previous_due)},
            {"due", date(e.due)},                  {"provisional", e.basis.provisional},
            {"calendar", e.basis.calendar},        {"revised_on", date(e.revised_on)}};
  }
  json::object operator()(const core::archived& e) const {
    return {{"archived_on", date(e.archived_on)}};
  }
  json::object operator()(const core::flagged_major_urgent& e) const {
    return {{"reason", text(e.reason)}};
  }
  json::object operator()(const core::recording_purged& e) const {
    return {{"sha256", e.sha256},
            {"retain_until", date(e.retain_until)},
            {"purged_on", date(e.purged_on)},
            {"by", e.by()}};
  }
  json::object operator()(const core::text_shredded& e) const {
    return {{"retain_until", date(e.retain_until)},
            {"shredded_on", date(e.shredded_on)},
            {"by", e.by()}};
  }
  json::object operator()(const core::legal_hold_placed& e) const {
    return {{"reason", e.reason}, {"placed_on", date(e.placed_on)}, {"by", e.by()}};
  }
  json::object operator()(const core::legal_hold_lifted& e) const {
    return {{"reason", e.reason}, {"lifted_on", date(e.lifted_on)}, {"by", e.by()}};
  }
  json::object operator()(const core::purge_refused& e) const {
    return {{"item", core::to_string(e.item)},
            {"rule", e.rule},
            {"retain_until", opt_date(e.retain_until)},
            {"attempted_on", date(e.attempted_on)},
            {"by", e.by()}};
  }
};

}  // namespace

json::object case_to_json(const core::case_state& s, timestamp now, personal_view view) {
  json::object o;
  o["id"] = s.id();
  o["version"] = s.version;
  o["status"] = core::to_string(s.status);
  o["channel"] = core::to_string(s.via);
  o["center"] = s.center();
  o["owner_center"] = s.owner_center();
  o["caller"] = caller(s.caller, view);
  o["content"] = personal(s.content, view);
  o["recording"] = s.recording ? json::value(recording(*s.recording)) : json::value(nullptr);
  o["received_at"] = to_rfc3339_shanghai(s.received_at);
  o["recorded_at"] = to_rfc3339_shanghai(s.recorded_at.ms != 0 ? s.recorded_at : s.received_at);
  o["received_on"] = date(s.received_on);
  o["category"] = opt_enum(s.cat);
  o["domain"] = opt_enum(s.dom);
  o["topics"] = strings(s.topics);
  o["expressway"] = s.expressway;
  o["major_urgent"] = s.major_urgent;
  o["major_urgent_reason"] = personal(s.major_urgent_reason, view);
  o["not_accepted_reason"] =
      s.not_accepted_for ? json::value(wire_name(*s.not_accepted_for)) : json::value(nullptr);
  o["redirected_to"] = opt_enum(s.redirected_to);
  o["unit"] = s.unit ? json::value((*s.unit)()) : json::value(nullptr);
  o["transferred_on"] = opt_date(s.transferred_on);
  o["extension_days"] = s.extension_days;
  // Art. 34: the unit's request awaiting its head's approval.
  if (s.extension_request)
    o["extension_request"] = {{"reason", core::to_string(s.extension_request->reason)},
                              {"working_days", s.extension_request->days()},
                              {"requested_on", date(s.extension_request->requested_on)},
                              {"by", s.extension_request->by()}};
  else
    o["extension_request"] = nullptr;
  o["returns"] = s.returns;
  // Art. 35: the reply deadlines that passed unmet and were reported to the department.
  json::array overdue;
  for (const auto& r : s.overdue_reports)
    overdue.push_back(json::object{
        {"due", date(r.due)}, {"reported_on", date(r.reported_on)}, {"unit", r.unit()}});
  o["overdue_reports"] = std::move(overdue);
  o["replied_on"] = opt_date(s.replied_on);
  o["replied_on_time"] = s.replied_on_time;
  o["caller_reached"] = s.caller_reached;
  o["revisit_required"] = s.revisit_required;
  o["revisited"] = s.revisited;
  o["satisfaction"] = opt_enum(s.result_view);
  o["timeliness"] = opt_enum(s.time_view);
  o["closed_on"] = opt_date(s.closed_on);
  o["archived_on"] = opt_date(s.archived_on);
  o["legal_hold"] = s.legal_hold;
  o["legal_hold_reason"] = s.legal_hold ? json::value(s.legal_hold_reason) : json::value(nullptr);
  o["recording_purged_on"] = opt_date(s.recording_purged_on);
  o["text_shredded_on"] = opt_date(s.text_shredded_on);
  o["personal_data"] = view.shredded ? "shredded" : "available";

  // deadlines: {transfer_by, return_by, reply_by}, each with its due date and state, and the
  // calendar it was counted on (provisional while a year it counts has no notice yet).
  json::object deadlines;
  deadlines["transfer_by"] = nullptr;
  deadlines["return_by"] = nullptr;
  deadlines["reply_by"] = nullptr;
  auto all = core::deadlines(s, now);
  if (auto w = core::return_window(s, now)) all.push_back(*w);
  for (const auto& d : all) {
    json::object dj{{"due", date(d.due)},
                    {"state", core::to_string(d.state)},
                    {"met_on", opt_date(d.met_on)},
                    {"provisional", d.basis.provisional},
                    {"calendar", d.basis.calendar}};
    deadlines[deadline_name(d.kind)] = dj;
  }
  o["deadlines"] = std::move(deadlines);
  return o;
}

json::object event_to_json(const events::envelope& env, const core::event& e,
                           personal_view view) {
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
  o["data"] = std::visit(body_renderer{view}, e);
  return o;
}

}  // namespace caseline::gateway
