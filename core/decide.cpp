#include "core/decide.h"

#include <algorithm>

#include "core/errc.h"

namespace caseline::core {

namespace {

using events = std::vector<event>;

events one(event e) { return events{std::move(e)}; }

bool is_one_of(case_status s, std::initializer_list<case_status> allowed) {
  return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
}

error status_error(errc code, const case_state& s) {
  return make_error(code, "the case is " + std::string(to_string(s.status)));
}

// A deadline as counted now, with what it stands on (see deadline_basis).
struct counted_due {
  civil_date due;
  deadline_basis basis;
};

result<counted_due> due_after(const context& ctx, civil_date from, working_days n) {
  auto due = ctx.cal->add_working_days(from, n);
  if (!due) return due.error();
  return counted_due{due.value(),
                     deadline_basis{!ctx.cal->official_between(from, due.value()), ctx.cal->version()}};
}

// A required field of the command missing or malformed: the error names the field typed
// (error::field, the request's field as the gateway answers it) and reads "<field>: <reason>".
error missing(std::string field, std::string_view reason = {}) {
  return make_field_error(errc::invalid_argument, std::move(field), reason);
}
// A rule over several fields, or one whose problem has never named a field (its text has a '.'
// or an article where the field would be): answers keep the fields they always had.
error invalid(std::string what) { return make_error(errc::invalid_argument, std::move(what)); }

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n'; });
}

result<flagged_major_urgent> make_flag(const case_state& s, const std::string& reason,
                                       const context& ctx) {
  if (s.major_urgent) return make_error(errc::already_flagged);
  return flagged_major_urgent{reason, shanghai_date(ctx.now), ctx.who.id};
}

// --- intake (Art. 26-29) ----------------------------------------------------------------------

// How far back a matter's receipt may be dated when it is recorded (Art. 27).
constexpr std::int64_t max_receipt_lag_ms = 7LL * 24 * 3600 * 1000;

result<events> decide(const case_state& s, const receive& c, const context& ctx) {
  if (s.status != case_status::none) return make_error(errc::case_already_exists);
  if (ctx.reg->center(c.center) == nullptr) return make_error(errc::unknown_center, c.center());
  if (auto ok = check_receiver(c, ctx.who); !ok) return ok.error();
  // Someone must be able to answer the caller: by phone, or through the channel's account.
  if (c.via == channel::phone && blank(c.caller.phone))
    return invalid("caller.phone: required for the phone channel");
  if (blank(c.caller.phone) && blank(c.caller.account))
    return missing("caller", "a phone or the channel's account, to answer the caller (Art. 23)");
  if (ctx.who.center != c.center)
    return make_error(errc::not_the_owning_center, "received at " + c.center());
  // The id comes with the command, or the caller has named the (empty) stream's state.
  const case_id id = c.id().empty() ? s.id : c.id;
  if (id().empty()) return invalid("case id");
  if (c.cat.has_value() != c.dom.has_value())
    return invalid("category and domain: both or neither at intake (Art. 39)");
  // Art. 27: the clock starts when the matter was received, not when it was keyed in.
  const timestamp received_at = c.occurred_at.value_or(ctx.now);
  if (received_at > ctx.now)
    return make_error(errc::received_out_of_range, "occurred_at is after the time of recording");
  if (ctx.now.ms - received_at.ms > max_receipt_lag_ms)
    return make_error(errc::received_out_of_range,
                      "occurred_at is more than 7 days before the time of recording");
  const civil_date received_on = shanghai_date(received_at);
  auto due = due_after(ctx, received_on, ctx.sla.transfer_days);
  if (!due) return due.error();
  events out = one(case_received{c.via, c.center, c.caller, c.content, c.recording, received_on,
                                 due.value().due, id, ctx.who.id, due.value().basis, c.cat, c.dom,
                                 c.occurred_at});
  if (!blank(c.major_urgent_reason))
    out.emplace_back(flagged_major_urgent{c.major_urgent_reason, shanghai_date(ctx.now), ctx.who.id});
  return out;
}

result<events> decide(const case_state& s, const answer_immediately& c, const context& ctx) {
  if (s.status != case_status::received) return status_error(errc::not_at_intake, s);
  if (blank(c.answer)) return missing("answer");
  if (auto ok = ctx.sla.check(); !ok) return ok.error();
  // Art. 23(1): a matter answered at once is revisited like a replied one.
  const bool revisit = s.cat == category::complaint ||
                       revisit_pick(ctx.revisit_so_far, ctx.sla.revisit_sample_percent);
  return one(answered_immediately{c.answer, shanghai_date(ctx.now), ctx.who.id, revisit});
}

result<events> decide(const case_state& s, const not_accept& c, const context& ctx) {
  if (!is_one_of(s.status, {case_status::received, case_status::classified}))
    return status_error(errc::not_at_intake, s);
  if (blank(c.explanation))
    return missing("explanation", "the reason is told to the caller (Art. 28)");
  return one(not_accepted{c.reason, c.explanation, shanghai_date(ctx.now), ctx.who.id});
}

result<events> decide(const case_state& s, const redirect& c, const context& ctx) {
  if (s.status != case_status::received) return status_error(errc::not_at_intake, s);
  if (blank(c.number_given))
    return missing("number_given", "the caller is told the number (Art. 29)");
  return one(redirected{c.target, c.number_given, c.call_transferred, shanghai_date(ctx.now),
                        ctx.who.id});
}

// --- classification, transfer, escalation (Art. 5, 27, 30) ------------------------------------

result<events> decide(const case_state& s, const classify& c, const context& ctx) {
  // A matter answered at once is still counted by domain and category (Art. 39).
  if (!is_one_of(s.status, {case_status::received, case_status::classified, case_status::escalated,
                            case_status::returned, case_status::answered}))
    return status_error(errc::not_at_intake, s);
  if (c.expressway && c.dom != domain::highway)
    return make_error(errc::expressway_not_highway, std::string(to_string(c.dom)));
  const center_code owner = c.expressway ? center_code{registry::provincial_center} : s.owner_center;
  events out = one(classified{c.cat, c.dom, c.topics, c.expressway, owner, ctx.who.id});
  if (!blank(c.major_urgent_reason)) {
    auto flag = make_flag(s, c.major_urgent_reason, ctx);
    if (!flag) return flag.error();
    out.emplace_back(std::move(flag).value());
  }
  return out;
}

result<events> decide(const case_state& s, const transfer& c, const context& ctx) {
  if (!is_one_of(s.status, {case_status::classified, case_status::escalated, case_status::returned}))
    return status_error(errc::not_classified, s);
  if (!s.cat) return make_error(errc::not_classified, "no category");
  const unit_info* u = ctx.reg->unit(c.unit);
  if (u == nullptr || u->center != s.owner_center)
    return make_error(errc::unit_not_registered, c.unit() + " with " + s.owner_center());
  const civil_date today = shanghai_date(ctx.now);
  auto return_by = due_after(ctx, today, ctx.sla.return_days);
  if (!return_by) return return_by.error();
  // A unit that had the matter before (and returned it) replies counting from its first transfer
  // (Art. 32-33): returning a matter does not buy a unit a new reply deadline.
  std::optional<civil_date> reply_from;
  for (const unit_first_transfer& t : s.unit_transfers)
    if (t.unit == c.unit) reply_from = t.on;
  const working_days days = ctx.sla.reply_days(*s.cat);
  auto reply_due = due_after(ctx, reply_from.value_or(today), days);
  if (!reply_due) return reply_due.error();
  return one(transferred{c.unit, s.owner_center, today, return_by.value().due, days,
                         reply_due.value().due, today > s.transfer_due, ctx.who.id,
                         return_by.value().basis, reply_due.value().basis, reply_from});
}

result<events> decide(const case_state& s, const escalate& c, const context& ctx) {
  if (!is_one_of(s.status, {case_status::classified, case_status::escalated, case_status::returned}))
    return status_error(errc::not_classified, s);
  center_code to;
  if (c.target == escalation_target::upper_center) {
    auto upper = ctx.reg->upper_center(s.owner_center);
    if (!upper) return make_error(errc::no_upper_center, s.owner_center());
    to = *upper;
  }
  return one(escalated{c.target, c.reason, s.owner_center, to, c.note, ctx.who.id});
}

// --- handling by the unit (Art. 32-37) --------------------------------------------------------

bool with_unit(const case_state& s) {
  return is_one_of(s.status, {case_status::transferred, case_status::reopened});
}

result<events> decide(const case_state& s, const return_case& c, const context& ctx) {
  if (!with_unit(s)) return status_error(errc::not_transferred, s);
  if (blank(c.reasons)) return invalid("reasons (Art. 32)");
  const civil_date today = shanghai_date(ctx.now);
  if (s.return_by && today > *s.return_by)
    return make_error(errc::return_window_passed, "the window closed on " + s.return_by->to_string());
  return one(returned{*s.unit, c.reasons, today, false, ctx.who.id});
}

// The return is recorded as the unit's (the unit it leaves), made late and accepted by the shift
// lead, who is the event's actor.
result<events> decide(const case_state& s, const accept_late_return& c, const context& ctx) {
  if (!with_unit(s)) return status_error(errc::not_transferred, s);
  if (blank(c.reason)) return missing("reason", "why the late return is accepted (Art. 32)");
  const civil_date today = shanghai_date(ctx.now);
  if (!s.return_by || today <= *s.return_by)
    return make_error(errc::return_window_open,
                      "the unit may return it itself through " +
                          (s.return_by ? s.return_by->to_string() : std::string("its window")));
  return one(returned{*s.unit, c.unit_reasons, today, true, ctx.who.id, c.reason});
}

// The rules an extension keeps whoever asks (Art. 34): at most 30 wd in total, before the reply
// deadline passes; the new deadline, counted on from the current one.
result<extended> extension(const case_state& s, extension_reason reason, working_days days,
                           const context& ctx) {
  if (!with_unit(s) || !s.reply_due) return status_error(errc::not_transferred, s);
  if (days() < 1) return missing("days", "at least 1");
  if (ctx.now >= shanghai_end_of_day(*s.reply_due))
    return make_error(errc::extension_after_deadline, "the reply was due " + s.reply_due->to_string());
  if (s.extension_days + days() > ctx.sla.max_extension_days())
    return make_error(errc::extension_too_long,
                      std::to_string(s.extension_days) + " wd used, " + std::to_string(days()) +
                          " more requested");
  auto due = due_after(ctx, *s.reply_due, days);
  if (!due) return due.error();
  // Counted on from the current deadline: provisional if that one is.
  deadline_basis basis = due.value().basis;
  basis.provisional = basis.provisional || s.reply_basis.provisional;
  // The approver is the unit head who acts (Art. 34): the event's actor, never a given name.
  return extended{ctx.who.id(), reason, days, {}, *s.reply_due, due.value().due, ctx.who.id, basis};
}

// By the unit's head: extended at once. By its staff: a request for the head to approve.
result<events> decide(const case_state& s, const extend& c, const context& ctx) {
  auto e = extension(s, c.reason, c.days, ctx);
  if (!e) return e.error();
  if (blank(c.explanation)) return missing("explanation", "the caller is told why (Art. 34)");
  if (ctx.who.role != role::unit_head)
    return one(extension_requested{c.reason, c.days, c.explanation, shanghai_date(ctx.now),
                                   ctx.who.id});
  e.value().explanation = c.explanation;
  return one(std::move(e).value());
}

result<events> decide(const case_state& s, const approve_extension&, const context& ctx) {
  if (with_unit(s) && !s.extension_request) return make_error(errc::no_extension_request);
  if (!with_unit(s)) return status_error(errc::not_transferred, s);
  const pending_extension& req = *s.extension_request;
  auto e = extension(s, req.reason, req.days, ctx);
  if (!e) return e.error();
  e.value().requested_by = req.by;
  return one(std::move(e).value());
}

result<events> decide(const case_state& s, const reply& c, const context& ctx) {
  if (!with_unit(s)) return status_error(errc::not_transferred, s);
  if (blank(c.facts) || blank(c.process) || blank(c.basis)) return make_error(errc::reply_incomplete);
  if (auto ok = ctx.sla.check(); !ok) return ok.error();
  const civil_date today = shanghai_date(ctx.now);
  const bool on_time = s.reply_due && today <= *s.reply_due;
  // A reply after a reopening keeps the matter's pick: it is counted in the sample once.
  const bool revisit = *s.cat == category::complaint ||
                       (s.status == case_status::reopened
                            ? s.revisit_required
                            : revisit_pick(ctx.revisit_so_far, ctx.sla.revisit_sample_percent));
  return one(replied{c.facts, c.process, c.basis, c.caller_reached, today, on_time, revisit,
                     ctx.who.id});
}

// --- tracking, revisit, closing (Art. 23, 35, 38, 40, 43) -------------------------------------

result<events> decide(const case_state& s, const remind& c, const context& ctx) {
  for (const deadline& d : deadlines(s, ctx.now)) {
    if (d.kind != c.kind) continue;
    if (d.due != c.due)
      return make_error(errc::nothing_overdue, std::string(to_string(c.kind)) + " deadline is " +
                                                   d.due.to_string());
    if (d.state != deadline_state::missed || d.met_on)
      return make_error(errc::nothing_overdue, std::string(to_string(c.kind)) + " deadline " +
                                                   d.due.to_string() + " is " +
                                                   std::string(to_string(d.state)));
    const reminder_key key{c.kind, c.due};
    if (std::find(s.reminders.begin(), s.reminders.end(), key) != s.reminders.end())
      return events{};  // already reminded of this deadline: idempotent
    const unit_id unit = c.kind == deadline_kind::reply && s.unit ? *s.unit : unit_id{};
    const civil_date today = shanghai_date(ctx.now);
    events out = one(reminded{c.kind, c.due, today, unit, ctx.who.id});
    // Art. 35: a reply deadline passed unmet is also reported to the department at the center's
    // level, once per deadline (the reminder key above makes both exactly-once).
    if (c.kind == deadline_kind::reply && !unit().empty())
      out.emplace_back(overdue_reported{c.due, today, unit, s.owner_center, ctx.who.id});
    return out;
  }
  return make_error(errc::nothing_overdue, "no open " + std::string(to_string(c.kind)) + " deadline");
}

result<events> decide(const case_state& s, const revisit& c, const context& ctx) {
  if (!is_one_of(s.status, {case_status::replied, case_status::answered}))
    return status_error(errc::not_replied, s);
  if (s.status == case_status::answered && c.further_handling)
    return missing("further_handling",
                   "a matter answered at once has no unit to reopen it for; record the caller's "
                   "new request as a new matter (Art. 23)");
  if (c.reached && !c.result_view)
    return missing("result_view", "the caller's satisfaction (Art. 23)");
  if (!c.reached && (c.result_view || c.time_view))
    return invalid("a caller not reached gives no view (Art. 23)");
  const civil_date today = shanghai_date(ctx.now);
  std::optional<civil_date> reopened_due;
  working_days days{0};
  deadline_basis basis;
  if (c.further_handling) {
    days = ctx.sla.reply_days(*s.cat);
    auto due = due_after(ctx, today, days);
    if (!due) return due.error();
    reopened_due = due.value().due;
    basis = due.value().basis;
  }
  return one(revisited{c.reached, c.result_view, c.time_view, c.further_handling, c.notes, today,
                       reopened_due, ctx.who.id, days, basis});
}

result<events> decide(const case_state& s, const archive&, const context& ctx) {
  switch (s.status) {
    case case_status::answered:
      if (s.revisit_required) return make_error(errc::revisit_required);
      break;
    case case_status::not_accepted:
    case case_status::redirected:
    case case_status::revisited: break;
    case case_status::replied:
      if (s.revisit_required) return make_error(errc::revisit_required);
      break;
    default: return status_error(errc::not_closable, s);
  }
  return one(archived{shanghai_date(ctx.now), ctx.who.id});
}

result<events> decide(const case_state& s, const flag_major_urgent& c, const context& ctx) {
  // At any open step, also with the unit, when the facts become known (Art. 40(4), 43); a matter
  // already closed (answered, not accepted, redirected, replied) is no longer an emergency.
  if (!is_one_of(s.status, {case_status::received, case_status::classified, case_status::escalated,
                            case_status::transferred, case_status::returned, case_status::reopened}))
    return s.major_urgent ? make_error(errc::already_flagged) : status_error(errc::flag_too_late, s);
  if (blank(c.reason)) return invalid("reason (Art. 43)");
  auto flag = make_flag(s, c.reason, ctx);
  if (!flag) return flag.error();
  return one(std::move(flag).value());
}

// --- calendar publication (Art. 27, 32-34 counted in working days) ---------------------------

// Recomputes each pending deadline that was counted on another calendar version. A deadline
// already passed stays as it is; a revision never moves one before today; an unchanged date and
// status is no event, so publishing the same year twice revises nothing the second time.
result<events> decide(const case_state& s, const revise_deadlines&, const context& ctx) {
  const civil_date today = shanghai_date(ctx.now);
  events out;
  const auto revise = [&](deadline_kind k, civil_date from, working_days n, civil_date old_due,
                          const deadline_basis& old_basis) -> result<void> {
    if (today > old_due || old_basis.calendar == ctx.cal->version() || n() < 1) return success();
    auto next = due_after(ctx, from, n);
    if (!next) return next.error();
    counted_due d = std::move(next).value();
    if (d.due < today) d.due = today;
    if (d.due == old_due && d.basis.provisional == old_basis.provisional) return success();
    out.emplace_back(deadline_revised{k, old_due, d.due, d.basis, today, ctx.who.id});
    return success();
  };
  result<void> ok = success();
  if (is_one_of(s.status, {case_status::received, case_status::classified, case_status::escalated}) &&
      !s.first_transferred_on)
    ok = revise(deadline_kind::transfer, s.received_on, ctx.sla.transfer_days, s.transfer_due,
                s.transfer_basis);
  if (ok && with_unit(s) && s.return_by && s.transferred_on)
    ok = revise(deadline_kind::return_window, *s.transferred_on, ctx.sla.return_days, *s.return_by,
                s.return_basis);
  if (ok && with_unit(s) && s.reply_due && !s.replied_on && s.reply_from) {
    // A reopening written before the count was recorded: the category's limit.
    const int days = s.reply_days > 0 ? s.reply_days : ctx.sla.reply_days(*s.cat)() + s.extension_days;
    ok = revise(deadline_kind::reply, *s.reply_from, working_days{days}, *s.reply_due, s.reply_basis);
  }
  if (!ok) return ok.error();
  return out;
}

// --- retention (Art. 38) ---------------------------------------------------------------------

bool is_retention(const command& c) {
  return std::holds_alternative<purge_recording>(c) || std::holds_alternative<shred_text>(c) ||
         std::holds_alternative<place_legal_hold>(c) ||
         std::holds_alternative<lift_legal_hold>(c) ||
         std::holds_alternative<record_refused_purge>(c);
}

// Why an item may not be purged today, if it may not.
result<civil_date> check_purge(const case_state& s, retained_item item, const context& ctx) {
  const auto until = item == retained_item::recording ? recording_retain_until(s, ctx.retention)
                                                      : text_retain_until(s, ctx.retention);
  const bool done = item == retained_item::recording ? s.recording_purged_on.has_value()
                                                     : s.text_shredded_on.has_value();
  if (done || (item == retained_item::recording && !s.recording))
    return make_error(errc::nothing_to_purge, std::string(to_string(item)));
  if (!until)
    return make_error(errc::retention_not_over,
                      "the case is not archived yet: nothing of an open or reopened case is "
                      "purged; audio is kept 1 year, text 5 years from archiving");
  if (s.legal_hold) return make_error(errc::legal_hold, s.legal_hold_reason);
  const civil_date today = shanghai_date(ctx.now);
  if (today <= *until)
    return make_error(errc::retention_not_over, std::string(to_string(item)) +
                                                    " must be kept through " + until->to_string());
  return *until;
}

result<events> decide(const case_state& s, const purge_recording&, const context& ctx) {
  auto until = check_purge(s, retained_item::recording, ctx);
  if (!until) return until.error();
  return one(recording_purged{s.recording->sha256, until.value(), shanghai_date(ctx.now),
                              ctx.who.id});
}

result<events> decide(const case_state& s, const shred_text&, const context& ctx) {
  auto until = check_purge(s, retained_item::text, ctx);
  if (!until) return until.error();
  return one(text_shredded{until.value(), shanghai_date(ctx.now), ctx.who.id});
}

result<events> decide(const case_state& s, const place_legal_hold& c, const context& ctx) {
  if (s.legal_hold) return make_error(errc::hold_state, "a hold is already placed");
  if (blank(c.reason)) return missing("reason");
  return one(legal_hold_placed{c.reason, shanghai_date(ctx.now), ctx.who.id});
}

result<events> decide(const case_state& s, const lift_legal_hold& c, const context& ctx) {
  if (!s.legal_hold) return make_error(errc::hold_state, "there is no hold to lift");
  if (blank(c.reason)) return missing("reason");
  return one(legal_hold_lifted{c.reason, shanghai_date(ctx.now), ctx.who.id});
}

result<events> decide(const case_state& s, const record_refused_purge& c, const context& ctx) {
  if (blank(c.rule)) return missing("rule");
  const auto until = c.item == retained_item::recording ? recording_retain_until(s, ctx.retention)
                                                        : text_retain_until(s, ctx.retention);
  return one(purge_refused{c.item, c.rule, until, shanghai_date(ctx.now), ctx.who.id});
}

}  // namespace

std::vector<deadline> deadlines(const case_state& s, timestamp now) {
  std::vector<deadline> out;
  if (s.status == case_status::none) return out;
  const civil_date today = shanghai_date(now);
  const auto judge = [&](deadline_kind k, civil_date due, std::optional<civil_date> met_on,
                         const deadline_basis& basis) {
    deadline d{k, due, deadline_state::pending, met_on, basis};
    if (met_on) d.state = *met_on <= due ? deadline_state::met : deadline_state::missed;
    else if (today > due) d.state = deadline_state::missed;
    out.push_back(d);
  };
  const bool closed_at_intake = !s.first_transferred_on && s.closed_on;
  if (!closed_at_intake)
    judge(deadline_kind::transfer, s.transfer_due, s.first_transferred_on, s.transfer_basis);
  if (s.reply_due) judge(deadline_kind::reply, *s.reply_due, s.replied_on, s.reply_basis);
  return out;
}

std::optional<deadline> return_window(const case_state& s, timestamp now) {
  if (!s.return_by) return std::nullopt;
  deadline d{deadline_kind::return_window, *s.return_by, deadline_state::pending, s.returned_on,
             s.return_basis};
  if (s.returned_on)
    d.state = *s.returned_on <= d.due ? deadline_state::met : deadline_state::missed;
  else if (shanghai_date(now) > d.due)
    d.state = deadline_state::closed;
  return d;
}

result<std::vector<event>> decide(const case_state& state, const command& cmd,
                                  const context& ctx) {
  if (ctx.cal == nullptr || ctx.reg == nullptr)
    return make_error(errc::invalid_argument, "context without a calendar or registry");
  if (!std::holds_alternative<receive>(cmd)) {
    if (state.status == case_status::none) return make_error(errc::case_not_found);
    if (state.status == case_status::archived && !is_retention(cmd))
      return make_error(errc::case_archived);
  }
  if (auto ok = check_actor(state, cmd, ctx.who); !ok) return ok.error();
  return std::visit([&](const auto& c) -> result<events> { return decide(state, c, ctx); }, cmd);
}

case_state evolve(case_state s, const event& e, timestamp at) {
  std::visit(
      [&](const auto& ev) {
        using E = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<E, case_received>) {
          s.status = case_status::received;
          if (!ev.id().empty()) s.id = ev.id;  // a v1 event has none: the stream names the case
          s.via = ev.via;
          s.center = ev.center;
          s.owner_center = ev.center;
          s.caller = ev.caller;
          s.content = ev.content;
          s.recording = ev.recording;
          s.received_at = ev.received_at.value_or(at);
          s.recorded_at = at;
          s.received_on = ev.received_on;
          s.transfer_due = ev.transfer_due;
          s.transfer_basis = ev.transfer_basis;
          s.received_by = ev.received_by;
          s.cat = ev.cat;
          s.dom = ev.dom;
        } else if constexpr (std::is_same_v<E, answered_immediately>) {
          s.status = case_status::answered;
          s.closed_on = ev.answered_on;
          s.revisit_required = ev.revisit_required;
          s.revisited = false;
        } else if constexpr (std::is_same_v<E, not_accepted>) {
          s.status = case_status::not_accepted;
          s.not_accepted_for = ev.reason;
          s.closed_on = ev.decided_on;
        } else if constexpr (std::is_same_v<E, redirected>) {
          s.status = case_status::redirected;
          s.redirected_to = ev.target;
          s.closed_on = ev.redirected_on;
        } else if constexpr (std::is_same_v<E, classified>) {
          // An answered matter stays answered: classifying it only counts it (Art. 39).
          if (s.status != case_status::answered) s.status = case_status::classified;
          s.cat = ev.cat;
          s.dom = ev.dom;
          s.topics = ev.topics;
          s.expressway = ev.expressway;
          s.owner_center = ev.owner_center;
        } else if constexpr (std::is_same_v<E, transferred>) {
          s.status = case_status::transferred;
          s.unit = ev.unit;
          if (!s.first_transferred_on) s.first_transferred_on = ev.transferred_on;
          const bool known = std::any_of(s.unit_transfers.begin(), s.unit_transfers.end(),
                                         [&](const unit_first_transfer& t) { return t.unit == ev.unit; });
          if (!known) s.unit_transfers.push_back(unit_first_transfer{ev.unit, ev.transferred_on});
          s.transferred_on = ev.transferred_on;
          s.return_by = ev.return_by;
          s.returned_on.reset();
          s.extension_request.reset();
          s.reply_due = ev.reply_due;
          s.return_basis = ev.return_basis;
          s.reply_basis = ev.reply_basis;
          s.reply_from = ev.reply_from.value_or(ev.transferred_on);
          s.reply_days = ev.reply_days();
          s.extension_days = 0;
          s.replied_on.reset();
        } else if constexpr (std::is_same_v<E, escalated>) {
          s.status = case_status::escalated;
          ++s.escalations;
          if (ev.target == escalation_target::upper_center) s.owner_center = ev.to_center;
        } else if constexpr (std::is_same_v<E, returned>) {
          s.status = case_status::returned;
          ++s.returns;
          if (ev.late) ++s.late_returns;
          s.unit.reset();
          s.transferred_on.reset();
          s.returned_on = ev.returned_on;  // return_by stays: the window shows how it ended
          s.extension_request.reset();
          s.reply_due.reset();
          s.reply_from.reset();
          s.reply_days = 0;
          s.extension_days = 0;
        } else if constexpr (std::is_same_v<E, extension_requested>) {
          s.extension_request = pending_extension{ev.reason, ev.days, ev.requested_on, ev.by};
        } else if constexpr (std::is_same_v<E, extended>) {
          s.extension_request.reset();
          s.reply_due = ev.reply_due;
          s.reply_basis = ev.reply_basis;
          s.extension_days += ev.days();
          if (s.reply_days > 0) s.reply_days += ev.days();
        } else if constexpr (std::is_same_v<E, reminded>) {
          s.reminders.push_back(reminder_key{ev.kind, ev.due});
        } else if constexpr (std::is_same_v<E, overdue_reported>) {
          s.overdue_reports.push_back(overdue_report{ev.due, ev.reported_on, ev.unit});
        } else if constexpr (std::is_same_v<E, replied>) {
          s.status = case_status::replied;
          s.extension_request.reset();
          s.replied_on = ev.replied_on;
          s.replied_on_time = ev.on_time;
          s.caller_reached = ev.caller_reached;
          s.revisit_required = ev.revisit_required;
          s.revisited = false;
          s.closed_on = ev.replied_on;
        } else if constexpr (std::is_same_v<E, revisited>) {
          s.revisited = true;
          s.result_view = ev.result_view;
          s.time_view = ev.time_view;
          if (ev.further_handling && ev.reopened_reply_due) {
            s.status = case_status::reopened;
            s.reply_due = ev.reopened_reply_due;
            s.reply_basis = ev.reopened_basis;
            s.reply_from = ev.revisited_on;
            s.reply_days = ev.reopened_reply_days();
            s.replied_on.reset();
            s.extension_days = 0;
            s.closed_on.reset();
          } else {
            s.status = case_status::revisited;
          }
        } else if constexpr (std::is_same_v<E, archived>) {
          s.status = case_status::archived;
          s.archived_on = ev.archived_on;
        } else if constexpr (std::is_same_v<E, flagged_major_urgent>) {
          s.major_urgent = true;
          s.major_urgent_reason = ev.reason;
        } else if constexpr (std::is_same_v<E, recording_purged>) {
          s.recording_purged_on = ev.purged_on;
        } else if constexpr (std::is_same_v<E, text_shredded>) {
          s.text_shredded_on = ev.shredded_on;
          // The key is gone: what the state held is unreadable; keep only the facts.
          s.caller = {};
          s.content.clear();
          s.major_urgent_reason.clear();
        } else if constexpr (std::is_same_v<E, legal_hold_placed>) {
          s.legal_hold = true;
          s.legal_hold_reason = ev.reason;
        } else if constexpr (std::is_same_v<E, legal_hold_lifted>) {
          s.legal_hold = false;
          s.legal_hold_reason.clear();
        } else if constexpr (std::is_same_v<E, purge_refused>) {
          ++s.purge_refusals;
        } else if constexpr (std::is_same_v<E, deadline_revised>) {
          switch (ev.kind) {
            case deadline_kind::transfer:
              s.transfer_due = ev.due;
              s.transfer_basis = ev.basis;
              break;
            case deadline_kind::return_window:
              s.return_by = ev.due;
              s.return_basis = ev.basis;
              break;
            case deadline_kind::reply:
              s.reply_due = ev.due;
              s.reply_basis = ev.basis;
              break;
          }
        }
      },
      e);
  ++s.version;
  return s;
}

}  // namespace caseline::core
