#include "gateway/command_json.h"

#include <array>

#include "gateway/json_input.h"
#include "gateway/problem.h"

namespace caseline::gateway {

namespace {

constexpr std::size_t text_limit = 4000;

// Every name an enum has (core's to_string answers "unknown" past the last one).
template <class E>
std::vector<std::string_view> enum_names() {
  std::vector<std::string_view> out;
  for (int i = 0; i < 64; ++i) {
    const auto n = core::to_string(static_cast<E>(i));
    if (n == "unknown") break;
    out.push_back(n);
  }
  return out;
}

template <class E>
result<std::optional<E>> optional_enum(object_reader& r, std::string_view field,
                                       const std::vector<std::string_view>& names) {
  auto s = r.optional_string(field, 64);
  if (!s) return s.error();
  if (!s.value()) return std::optional<E>{};
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == *s.value()) return std::optional<E>{static_cast<E>(i)};
  std::string list;
  for (auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  return field_error(r.path(field), "must be one of: " + list);
}

template <class E>
result<E> required_enum(object_reader& r, std::string_view field,
                        const std::vector<std::string_view>& names = enum_names<E>()) {
  auto v = optional_enum<E>(r, field, names);
  if (!v) return v.error();
  if (!v.value()) return field_error(r.path(field), "required");
  return *v.value();
}

std::vector<std::string_view> not_accepted_wire_names() {
  std::vector<std::string_view> out;
  for (auto n : enum_names<core::not_accepted_reason>())
    out.push_back(n == "handled_by_other_body" ? "already_in_proceedings" : n);
  return out;
}

bool is_phone(std::string_view s) {
  if (s.size() < 3 || s.size() > 20) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == ' ')) return false;
  return true;
}

result<void> require_json_object_body(std::string_view body, boost::json::object& out,
                                      const json_limits& limits) {
  auto parsed = parse_json_object(body, limits);
  if (!parsed) return parsed.error();
  out = std::move(parsed).value();
  return success();
}

// Declares `var` from a result and returns its error early: keeps each parser to its fields.
#define CASELINE_TRY(var, expr) \
  auto var = (expr);            \
  if (!var) return var.error()

result<core::command> parse_answer(object_reader& r) {
  CASELINE_TRY(answer, r.required_string("answer", 1, text_limit));
  return core::command{core::answer_immediately{answer.value()}};
}

result<core::command> parse_not_accept(object_reader& r) {
  CASELINE_TRY(reason,
               required_enum<core::not_accepted_reason>(r, "reason", not_accepted_wire_names()));
  CASELINE_TRY(explanation, r.required_string("explanation", 1, text_limit));
  return core::command{core::not_accept{reason.value(), explanation.value()}};
}

result<core::command> parse_redirect(object_reader& r) {
  CASELINE_TRY(to, required_enum<core::redirect_target>(r, "to"));
  CASELINE_TRY(number, r.required_string("number", 1, 32));
  CASELINE_TRY(transferred, r.optional_bool("call_transferred"));
  return core::command{core::redirect{to.value(), number.value(), transferred.value().value_or(false)}};
}

result<core::command> parse_classify(object_reader& r) {
  CASELINE_TRY(cat, required_enum<core::category>(r, "category"));
  CASELINE_TRY(dom, required_enum<core::domain>(r, "domain"));
  CASELINE_TRY(topics, r.string_array("topics", 20, 64));
  CASELINE_TRY(expressway, r.optional_bool("expressway"));
  CASELINE_TRY(urgent, r.optional_string("major_urgent_reason", 500));
  return core::command{core::classify{cat.value(), dom.value(), topics.value(),
                                      expressway.value().value_or(false),
                                      urgent.value().value_or("")}};
}

result<core::command> parse_transfer(object_reader& r) {
  CASELINE_TRY(unit, r.required_string("unit", 1, 64));
  return core::command{core::transfer{unit_id{unit.value()}}};
}

result<core::command> parse_escalate(object_reader& r) {
  CASELINE_TRY(to, required_enum<core::escalation_target>(r, "to"));
  CASELINE_TRY(reason, required_enum<core::escalation_reason>(r, "reason"));
  CASELINE_TRY(note, r.optional_string("note", text_limit));
  return core::command{core::escalate{to.value(), reason.value(), note.value().value_or("")}};
}

result<core::command> parse_return(object_reader& r) {
  CASELINE_TRY(reasons, r.required_string("reasons", 1, text_limit));
  return core::command{core::return_case{reasons.value()}};
}

result<core::command> parse_accept_late_return(object_reader& r) {
  CASELINE_TRY(reason, r.required_string("reason", 1, text_limit));
  CASELINE_TRY(unit_reasons, r.optional_string("unit_reasons", text_limit));
  return core::command{
      core::accept_late_return{reason.value(), unit_reasons.value().value_or("")}};
}

// The approver is the authenticated unit head (Art. 34): a client that still names one is told
// so, rather than have a name it gave silently dropped.
result<core::command> parse_extend(object_reader& r) {
  CASELINE_TRY(approved_by, r.optional_string("approved_by", 64));
  if (approved_by.value())
    return field_error(r.path("approved_by"),
                       "no longer a field: the approver is the unit head who extends or approves "
                       "(Art. 34)");
  CASELINE_TRY(reason, required_enum<core::extension_reason>(r, "reason"));
  CASELINE_TRY(days, r.required_int("working_days", 1, 30));
  CASELINE_TRY(explanation, r.required_string("explanation", 1, text_limit));
  return core::command{core::extend{reason.value(), working_days{static_cast<int>(days.value())},
                                    explanation.value()}};
}

result<core::command> parse_approve_extension(object_reader&) {
  return core::command{core::approve_extension{}};
}

result<core::command> parse_reply(object_reader& r) {
  CASELINE_TRY(facts, r.required_string("facts", 1, text_limit));
  CASELINE_TRY(process, r.required_string("process", 1, text_limit));
  CASELINE_TRY(basis, r.required_string("basis", 1, text_limit));
  CASELINE_TRY(reached, r.required_bool("caller_reached"));
  return core::command{core::reply{facts.value(), process.value(), basis.value(), reached.value()}};
}

result<core::command> parse_revisit(object_reader& r) {
  CASELINE_TRY(reached, r.required_bool("reached"));
  CASELINE_TRY(sat, optional_enum<core::satisfaction>(r, "satisfaction",
                                                      enum_names<core::satisfaction>()));
  CASELINE_TRY(time, optional_enum<core::timeliness>(r, "timeliness",
                                                     enum_names<core::timeliness>()));
  CASELINE_TRY(further, r.optional_bool("further_handling"));
  CASELINE_TRY(notes, r.optional_string("notes", text_limit));
  return core::command{core::revisit{reached.value(), sat.value(), time.value(),
                                     further.value().value_or(false), notes.value().value_or("")}};
}

result<core::command> parse_archive(object_reader&) { return core::command{core::archive{}}; }

result<core::command> parse_flag(object_reader& r) {
  CASELINE_TRY(reason, r.required_string("reason", 1, 500));
  return core::command{core::flag_major_urgent{reason.value()}};
}

result<core::command> parse_place_hold(object_reader& r) {
  CASELINE_TRY(reason, r.required_string("reason", 1, 500));
  return core::command{core::place_legal_hold{reason.value()}};
}

result<core::command> parse_lift_hold(object_reader& r) {
  CASELINE_TRY(reason, r.required_string("reason", 1, 500));
  return core::command{core::lift_legal_hold{reason.value()}};
}

struct action_parser {
  std::string_view action;
  result<core::command> (*parse)(object_reader&);
};

constexpr std::array<action_parser, 16> action_parsers{{
    {"answer", parse_answer},
    {"not-accept", parse_not_accept},
    {"redirect", parse_redirect},
    {"classify", parse_classify},
    {"transfer", parse_transfer},
    {"escalate", parse_escalate},
    {"return", parse_return},
    {"accept-late-return", parse_accept_late_return},
    {"extend", parse_extend},
    {"extension/approve", parse_approve_extension},
    {"reply", parse_reply},
    {"revisit", parse_revisit},
    {"archive", parse_archive},
    {"flag-major-urgent", parse_flag},
    {"legal-hold", parse_place_hold},
    {"lift-legal-hold", parse_lift_hold},
}};

}  // namespace

bool is_center_code(std::string_view s) {
  if (s.size() != 6) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string_view wire_name(core::not_accepted_reason r) {
  return r == core::not_accepted_reason::handled_by_other_body ? "already_in_proceedings"
                                                               : core::to_string(r);
}

result<core::command> parse_case_command(std::string_view action, std::string_view body) {
  for (const auto& p : action_parsers) {
    if (p.action != action) continue;
    const json_limits limits;
    boost::json::object o;
    // archive and the approval take no field: an empty body is the empty object.
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) body = "{}";
    if (auto ok = require_json_object_body(body, o, limits); !ok) return ok.error();
    object_reader r(o, "", limits);
    auto cmd = p.parse(r);
    if (!cmd) return cmd.error();
    if (auto f = r.finish(); !f) return f.error();
    return cmd;
  }
  return make_error(errc::not_found, "no action " + std::string(action));
}

result<core::receive> parse_receive(std::string_view body, std::optional<timestamp>& occurred_at) {
  const json_limits limits;
  boost::json::object o;
  if (auto ok = require_json_object_body(body, o, limits); !ok) return ok.error();
  object_reader r(o, "", limits);
  core::receive cmd;
  CASELINE_TRY(via, required_enum<core::channel>(r, "channel"));
  cmd.via = via.value();
  CASELINE_TRY(center, r.required_string("center", 6, 6));
  if (!is_center_code(center.value()))
    return field_error("center", "must be a 6-digit GB/T 2260 code");
  cmd.center = center_code{center.value()};
  CASELINE_TRY(caller, r.required_object("caller"));
  {
    // Phone only for the phone channel; otherwise a phone or the channel's account (Art. 23).
    object_reader c(*caller.value(), "caller", limits);
    CASELINE_TRY(phone, c.optional_string("phone", 20));
    if (phone.value() && !is_phone(*phone.value()))
      return field_error("caller.phone", "digits, '+', '-' and spaces only");
    CASELINE_TRY(name, c.optional_string("name", 64));
    CASELINE_TRY(account, c.optional_string("account", 128));
    if (account.value() && account.value()->empty())
      return field_error("caller.account", "must not be empty");
    if (auto f = c.finish(); !f) return f.error();
    if (!phone.value() && cmd.via == core::channel::phone)
      return field_error("caller.phone", "required for the phone channel");
    if (!phone.value() && !account.value())
      return field_error("caller", "a phone or the channel's account is required to answer the caller");
    cmd.caller = core::caller_info{phone.value().value_or(""), name.value().value_or(""),
                                   account.value().value_or("")};
  }
  CASELINE_TRY(content, r.required_string("content", 1, text_limit));
  cmd.content = content.value();
  CASELINE_TRY(rec, r.optional_object("recording"));
  if (rec.value()) {
    object_reader c(*rec.value(), "recording", limits);
    CASELINE_TRY(uri, c.required_string("uri", 1, 1024));
    CASELINE_TRY(sha, c.required_string("sha256", 64, 64));
    for (char ch : sha.value())
      if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
        return field_error("recording.sha256", "must be 64 lower-case hex digits");
    CASELINE_TRY(dur, c.required_int("duration_s", 0, 24 * 3600));
    if (auto f = c.finish(); !f) return f.error();
    cmd.recording =
        core::recording_ref{uri.value(), sha.value(), static_cast<std::uint32_t>(dur.value())};
  }
  CASELINE_TRY(urgent, r.optional_string("major_urgent_reason", 500));
  cmd.major_urgent_reason = urgent.value().value_or("");
  // Art. 39: the category and domain may be named at intake, both or neither.
  CASELINE_TRY(cat, optional_enum<core::category>(r, "category", enum_names<core::category>()));
  CASELINE_TRY(dom, optional_enum<core::domain>(r, "domain", enum_names<core::domain>()));
  if (cat.value().has_value() != dom.value().has_value())
    return field_error(cat.value() ? "domain" : "category", "category and domain come together");
  cmd.cat = cat.value();
  cmd.dom = dom.value();
  CASELINE_TRY(occurred, r.optional_string("occurred_at", 40));
  if (occurred.value()) {
    occurred_at = parse_rfc3339(*occurred.value());
    if (!occurred_at) return field_error("occurred_at", "must be an RFC 3339 date-time");
    cmd.occurred_at = occurred_at;  // its deadlines count from it (Art. 27)
  }
  if (auto f = r.finish(); !f) return f.error();
  return cmd;
}

result<core::unit_registered> parse_unit(const unit_id& id, std::string_view body) {
  const json_limits limits;
  boost::json::object o;
  if (auto ok = require_json_object_body(body, o, limits); !ok) return ok.error();
  object_reader r(o, "", limits);
  core::unit_registered u;
  u.unit = id;
  CASELINE_TRY(name, r.required_string("name", 1, 200));
  u.name = name.value();
  CASELINE_TRY(center, r.required_string("center", 6, 6));
  if (!is_center_code(center.value()))
    return field_error("center", "must be a 6-digit GB/T 2260 code");
  u.center = center_code{center.value()};
  CASELINE_TRY(contact, r.required_object("contact"));
  object_reader c(*contact.value(), "contact", limits);
  CASELINE_TRY(cname, c.required_string("name", 1, 64));
  CASELINE_TRY(mobile, c.required_string("mobile", 3, 20));
  if (!is_phone(mobile.value())) return field_error("contact.mobile", "digits, '+', '-' and spaces only");
  CASELINE_TRY(email, c.optional_string("email", 254));
  CASELINE_TRY(fax, c.optional_string("fax", 20));
  if (auto f = c.finish(); !f) return f.error();
  u.contact = core::unit_contact{cname.value(), mobile.value(), email.value().value_or(""),
                                 fax.value().value_or("")};
  if (auto f = r.finish(); !f) return f.error();
  return u;
}

result<timestamp> parse_clock(std::string_view body) {
  const json_limits limits;
  boost::json::object o;
  if (auto ok = require_json_object_body(body, o, limits); !ok) return ok.error();
  object_reader r(o, "", limits);
  CASELINE_TRY(now, r.required_string("now", 1, 40));
  if (auto f = r.finish(); !f) return f.error();
  const auto t = parse_rfc3339(now.value());
  if (!t) return field_error("now", "must be an RFC 3339 date-time");
  return *t;
}

result<token_order> parse_token_order(std::string_view body, timestamp now) {
  const json_limits limits;
  boost::json::object o;
  if (auto ok = require_json_object_body(body, o, limits); !ok) return ok.error();
  object_reader r(o, "", limits);
  CASELINE_TRY(role, r.required_string("role", 1, 32));
  CASELINE_TRY(center, r.required_string("center", 1, 16));
  CASELINE_TRY(unit, r.optional_string("unit", 64));
  CASELINE_TRY(expires, r.optional_string("expires", 40));
  if (auto f = r.finish(); !f) return f.error();
  token_order out{std::move(role).value(), std::move(center).value(),
                  unit.value().value_or(""), std::nullopt};
  if (expires.value()) {
    out.expires_at = parse_rfc3339(*expires.value());
    if (!out.expires_at) return field_error("expires", "must be an RFC 3339 date-time");
    if (out.expires_at->ms <= now.ms) return field_error("expires", "must be in the future");
  }
  return out;
}

#undef CASELINE_TRY

}  // namespace caseline::gateway
