#include "gateway/case_json.h"

#include "core/codec.h"
#include "gateway/auth.h"
#include "gateway/command_json.h"

namespace caseline::gateway {

namespace {

std::string_view deadline_name(core::deadline_kind k) {
  switch (k) {
    case core::deadline_kind::transfer: return "transfer_by";
    case core::deadline_kind::return_window: return "return_by";
    case core::deadline_kind::reply: return "reply_by";
  }
  return "reply_by";
}

// The value writers below write one member's value; the member's key is written before.

void date(json_writer& w, const civil_date& d) { w.str(d.to_string()); }

template <class T>
void opt_date(json_writer& w, const std::optional<T>& d) {
  if (d)
    date(w, *d);
  else
    w.null();
}

template <class E>
void opt_enum(json_writer& w, const std::optional<E>& e) {
  if (e)
    w.str(core::to_string(*e));
  else
    w.null();
}

void strings(json_writer& w, const std::vector<std::string>& v) {
  w.begin_array();
  for (const auto& s : v) w.str(s);
  w.end_array();
}

// A personal field: null once the case's text is shredded, or when it is withheld.
void personal(json_writer& w, std::string_view v, const personal_view& view) {
  if (view.shredded || view.withheld)
    w.null();
  else
    w.str(v);
}

// The caller's number or channel account, masked for the roles that do not need it; an empty one
// is null.
void phone(json_writer& w, const std::string& v, const personal_view& view) {
  if (v.empty() || view.shredded || view.withheld)
    w.null();
  else if (view.mask_phone)
    w.str(mask_phone(v));
  else
    w.str(v);
}

// The caller's way back: the phone and the channel's account, masked alike; none is null.
void caller(json_writer& w, const core::caller_info& c, const personal_view& view) {
  w.begin_object();
  phone(w.key("phone"), c.phone, view);
  personal(w.key("name"), c.name, view);
  phone(w.key("account"), c.account, view);
  w.end_object();
}

void recording(json_writer& w, const std::optional<core::recording_ref>& r) {
  if (!r) {
    w.null();
    return;
  }
  w.begin_object();
  w.key("uri").str(r->uri);
  w.key("sha256").str(r->sha256);
  w.key("duration_s").num(r->duration_s);
  w.end_object();
}

// The calendar a deadline stands on (core::deadline_basis): `<field>_provisional` beside the
// date, then the calendar version, once per event (an event with two deadlines names the
// calendar after the first one's flag and shows the second deadline's: both are counted on the
// calendar the command was decided with).
void provisional(json_writer& w, std::string_view due_field, const core::deadline_basis& b) {
  std::string name(due_field);
  name += "_provisional";
  w.key(name).boolean(b.provisional);
}

// One object per event type: every field of the body, enums by name, dates as YYYY-MM-DD.
struct body_writer {
  json_writer& w;
  personal_view view;

  void text(std::string_view key, const std::string& v) const { personal(w.key(key), v, view); }

  void operator()(const core::case_received& e) const {
    w.key("channel").str(core::to_string(e.via));
    w.key("center").str(e.center());
    caller(w.key("caller"), e.caller, view);
    text("content", e.content);
    date(w.key("received_on"), e.received_on);
    date(w.key("transfer_due"), e.transfer_due);
    recording(w.key("recording"), e.recording);
    opt_enum(w.key("category"), e.cat);
    opt_enum(w.key("domain"), e.dom);
    if (e.received_at) w.key("received_at").str(to_rfc3339_shanghai(*e.received_at));
    provisional(w, "transfer_due", e.transfer_basis);
    w.key("calendar").str(e.transfer_basis.calendar);
  }
  void operator()(const core::answered_immediately& e) const {
    text("answer", e.answer);
    date(w.key("answered_on"), e.answered_on);
    w.key("revisit_required").boolean(e.revisit_required);
  }
  void operator()(const core::not_accepted& e) const {
    w.key("reason").str(wire_name(e.reason));
    text("explanation", e.explanation);
    date(w.key("decided_on"), e.decided_on);
  }
  void operator()(const core::redirected& e) const {
    w.key("to").str(core::to_string(e.target));
    w.key("number").str(e.number_given);
    w.key("call_transferred").boolean(e.call_transferred);
    date(w.key("redirected_on"), e.redirected_on);
  }
  void operator()(const core::classified& e) const {
    w.key("category").str(core::to_string(e.cat));
    w.key("domain").str(core::to_string(e.dom));
    strings(w.key("topics"), e.topics);
    w.key("expressway").boolean(e.expressway);
    w.key("owner_center").str(e.owner_center());
  }
  void operator()(const core::transferred& e) const {
    w.key("unit").str(e.unit());
    w.key("center").str(e.center());
    date(w.key("transferred_on"), e.transferred_on);
    date(w.key("return_by"), e.return_by);
    w.key("reply_days").num(e.reply_days());
    date(w.key("reply_due"), e.reply_due);
    w.key("late").boolean(e.late);
    if (e.reply_from) date(w.key("reply_from"), *e.reply_from);
    provisional(w, "return_by", e.return_basis);
    w.key("calendar").str(e.reply_basis.calendar);
    provisional(w, "reply_due", e.reply_basis);
  }
  void operator()(const core::escalated& e) const {
    w.key("to").str(core::to_string(e.target));
    w.key("reason").str(core::to_string(e.reason));
    w.key("from_center").str(e.from_center());
    w.key("to_center").str(e.to_center());
    text("note", e.note);
  }
  void operator()(const core::returned& e) const {
    w.key("unit").str(e.unit());
    text("reasons", e.reasons);
    date(w.key("returned_on"), e.returned_on);
    w.key("late").boolean(e.late);
    // Accepted after the window by the shift lead, the event's actor (Art. 32).
    if (e.late && !e.accepted_late_reason.empty())
      text("accepted_late_reason", e.accepted_late_reason);
  }
  void operator()(const core::extended& e) const {
    w.key("approved_by").str(e.approved_by);
    w.key("reason").str(core::to_string(e.reason));
    w.key("working_days").num(e.days());
    text("explanation", e.explanation);
    date(w.key("previous_due"), e.previous_due);
    date(w.key("reply_due"), e.reply_due);
    // Approved on the unit's request (Art. 34): the explanation is the request's.
    if (!e.requested_by().empty()) w.key("requested_by").str(e.requested_by());
    provisional(w, "reply_due", e.reply_basis);
    w.key("calendar").str(e.reply_basis.calendar);
  }
  void operator()(const core::extension_requested& e) const {
    w.key("reason").str(core::to_string(e.reason));
    w.key("working_days").num(e.days());
    text("explanation", e.explanation);
    date(w.key("requested_on"), e.requested_on);
  }
  void operator()(const core::reminded& e) const {
    w.key("kind").str(core::to_string(e.kind));
    date(w.key("due"), e.due);
    date(w.key("reminded_on"), e.reminded_on);
    w.key("unit").str(e.unit());
  }
  void operator()(const core::overdue_reported& e) const {
    date(w.key("due"), e.due);
    date(w.key("reported_on"), e.reported_on);
    w.key("unit").str(e.unit());
    w.key("center").str(e.center());
  }
  void operator()(const core::replied& e) const {
    text("facts", e.facts);
    text("process", e.process);
    text("basis", e.basis);
    w.key("caller_reached").boolean(e.caller_reached);
    date(w.key("replied_on"), e.replied_on);
    w.key("on_time").boolean(e.on_time);
    w.key("revisit_required").boolean(e.revisit_required);
  }
  void operator()(const core::revisited& e) const {
    w.key("reached").boolean(e.reached);
    opt_enum(w.key("satisfaction"), e.result_view);
    opt_enum(w.key("timeliness"), e.time_view);
    w.key("further_handling").boolean(e.further_handling);
    text("notes", e.notes);
    date(w.key("revisited_on"), e.revisited_on);
    opt_date(w.key("reopened_reply_due"), e.reopened_reply_due);
    if (e.reopened_reply_due) {
      w.key("reopened_reply_days").num(e.reopened_reply_days());
      provisional(w, "reopened_reply_due", e.reopened_basis);
      w.key("calendar").str(e.reopened_basis.calendar);
    }
  }
  void operator()(const core::deadline_revised& e) const {
    w.key("kind").str(core::to_string(e.kind));
    date(w.key("previous_due"), e.previous_due);
    date(w.key("due"), e.due);
    w.key("provisional").boolean(e.basis.provisional);
    w.key("calendar").str(e.basis.calendar);
    date(w.key("revised_on"), e.revised_on);
  }
  void operator()(const core::archived& e) const { date(w.key("archived_on"), e.archived_on); }
  void operator()(const core::flagged_major_urgent& e) const { text("reason", e.reason); }
  void operator()(const core::recording_purged& e) const {
    w.key("sha256").str(e.sha256);
    date(w.key("retain_until"), e.retain_until);
    date(w.key("purged_on"), e.purged_on);
    w.key("by").str(e.by());
  }
  void operator()(const core::text_shredded& e) const {
    date(w.key("retain_until"), e.retain_until);
    date(w.key("shredded_on"), e.shredded_on);
    w.key("by").str(e.by());
  }
  void operator()(const core::legal_hold_placed& e) const {
    w.key("reason").str(e.reason);
    date(w.key("placed_on"), e.placed_on);
    w.key("by").str(e.by());
  }
  void operator()(const core::legal_hold_lifted& e) const {
    w.key("reason").str(e.reason);
    date(w.key("lifted_on"), e.lifted_on);
    w.key("by").str(e.by());
  }
  void operator()(const core::purge_refused& e) const {
    w.key("item").str(core::to_string(e.item));
    w.key("rule").str(e.rule);
    opt_date(w.key("retain_until"), e.retain_until);
    date(w.key("attempted_on"), e.attempted_on);
    w.key("by").str(e.by());
  }
};

// deadlines: {transfer_by, return_by, reply_by}, each with its due date and state, and the
// calendar it was counted on (provisional while a year it counts has no notice yet); null when
// the case has none of that kind, the last one when it has several.
void deadlines(json_writer& w, const core::case_state& s, timestamp now) {
  auto all = core::deadlines(s, now);
  if (auto r = core::return_window(s, now)) all.push_back(*r);
  w.begin_object();
  for (const auto kind : {core::deadline_kind::transfer, core::deadline_kind::return_window,
                          core::deadline_kind::reply}) {
    w.key(deadline_name(kind));
    const core::deadline* last = nullptr;
    for (const auto& d : all)
      if (deadline_name(d.kind) == deadline_name(kind)) last = &d;
    if (!last) {
      w.null();
      continue;
    }
    w.begin_object();
    date(w.key("due"), last->due);
    w.key("state").str(core::to_string(last->state));
    opt_date(w.key("met_on"), last->met_on);
    w.key("provisional").boolean(last->basis.provisional);
    w.key("calendar").str(last->basis.calendar);
    w.end_object();
  }
  w.end_object();
}

}  // namespace

void write_case(json_writer& w, const core::case_state& s, timestamp now, personal_view view) {
  w.begin_object();
  w.key("id").str(s.id());
  w.key("version").num(s.version);
  w.key("status").str(core::to_string(s.status));
  w.key("channel").str(core::to_string(s.via));
  w.key("center").str(s.center());
  w.key("owner_center").str(s.owner_center());
  caller(w.key("caller"), s.caller, view);
  personal(w.key("content"), s.content, view);
  recording(w.key("recording"), s.recording);
  w.key("received_at").str(to_rfc3339_shanghai(s.received_at));
  w.key("recorded_at")
      .str(to_rfc3339_shanghai(s.recorded_at.ms != 0 ? s.recorded_at : s.received_at));
  date(w.key("received_on"), s.received_on);
  opt_enum(w.key("category"), s.cat);
  opt_enum(w.key("domain"), s.dom);
  strings(w.key("topics"), s.topics);
  w.key("expressway").boolean(s.expressway);
  w.key("major_urgent").boolean(s.major_urgent);
  personal(w.key("major_urgent_reason"), s.major_urgent_reason, view);
  w.key("not_accepted_reason");
  if (s.not_accepted_for)
    w.str(wire_name(*s.not_accepted_for));
  else
    w.null();
  opt_enum(w.key("redirected_to"), s.redirected_to);
  w.key("unit");
  if (s.unit)
    w.str((*s.unit)());
  else
    w.null();
  opt_date(w.key("transferred_on"), s.transferred_on);
  w.key("extension_days").num(s.extension_days);
  // Art. 34: the unit's request awaiting its head's approval.
  w.key("extension_request");
  if (const auto& r = s.extension_request) {
    w.begin_object();
    w.key("reason").str(core::to_string(r->reason));
    w.key("working_days").num(r->days());
    date(w.key("requested_on"), r->requested_on);
    w.key("by").str(r->by());
    w.end_object();
  } else {
    w.null();
  }
  w.key("returns").num(s.returns);
  // Art. 35: the reply deadlines that passed unmet and were reported to the department.
  w.key("overdue_reports").begin_array();
  for (const auto& r : s.overdue_reports) {
    w.begin_object();
    date(w.key("due"), r.due);
    date(w.key("reported_on"), r.reported_on);
    w.key("unit").str(r.unit());
    w.end_object();
  }
  w.end_array();
  opt_date(w.key("replied_on"), s.replied_on);
  w.key("replied_on_time").boolean(s.replied_on_time);
  w.key("caller_reached").boolean(s.caller_reached);
  w.key("revisit_required").boolean(s.revisit_required);
  w.key("revisited").boolean(s.revisited);
  opt_enum(w.key("satisfaction"), s.result_view);
  opt_enum(w.key("timeliness"), s.time_view);
  opt_date(w.key("closed_on"), s.closed_on);
  opt_date(w.key("archived_on"), s.archived_on);
  w.key("legal_hold").boolean(s.legal_hold);
  w.key("legal_hold_reason");
  if (s.legal_hold)
    w.str(s.legal_hold_reason);
  else
    w.null();
  opt_date(w.key("recording_purged_on"), s.recording_purged_on);
  opt_date(w.key("text_shredded_on"), s.text_shredded_on);
  w.key("personal_data").str(view.shredded ? "shredded" : view.withheld ? "withheld" : "available");
  deadlines(w.key("deadlines"), s, now);
  w.end_object();
}

std::string case_json(const core::case_state& s, timestamp now, personal_view view) {
  json_writer w;
  write_case(w, s, now, view);
  return w.take();
}

void write_event(json_writer& w, const events::envelope& env, const core::event& e,
                 personal_view view) {
  w.begin_object();
  w.key("event_id").str(env.event_id);
  w.key("sequence").num(env.sequence());
  w.key("type").str(core::event_name(env.type_id));
  w.key("type_id").num(env.type_id);
  w.key("version").num(env.version);
  w.key("occurred_at").str(to_rfc3339_shanghai(env.occurred_at));
  w.key("recorded_at").str(to_rfc3339_shanghai(env.recorded_at));
  w.key("actor").begin_object();
  w.key("user").str(env.by.user);
  w.key("role").str(env.by.role);
  w.key("center").str(env.by.center);
  w.key("unit").str(env.by.unit);
  w.end_object();
  w.key("correlation_id").str(env.correlation_id);
  w.key("prev_hash").str(events::to_hex(env.prev_hash));
  w.key("data").begin_object();
  std::visit(body_writer{w, view}, e);
  w.end_object();
  w.end_object();
}

}  // namespace caseline::gateway
