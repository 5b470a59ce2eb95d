#include "tools/replay_cmd.h"

#include <ostream>
#include <utility>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/codec.h"
#include "core/decide.h"
#include "events/errc.h"
#include "events/log_reader.h"
#include "gateway/json_text.h"
#include "tools/audit_cmd.h"

namespace caseline::tools {

namespace {

std::string at(events::log_position pos) {
  return fmt::format("partition {} offset {}", pos.partition(), pos.offset());
}

// The non-personal fields of a state that say where the case stands (no caller, no content).
std::vector<std::pair<std::string, std::string>> key_fields(const core::case_state& s) {
  std::vector<std::pair<std::string, std::string>> f;
  auto date = [&](const char* name, const std::optional<civil_date>& d) {
    if (d) f.emplace_back(name, d->to_string());
  };
  f.emplace_back("status", std::string(core::to_string(s.status)));
  f.emplace_back("version", std::to_string(s.version));
  if (!s.owner_center().empty()) f.emplace_back("owner_center", s.owner_center());
  if (s.cat) f.emplace_back("category", std::string(core::to_string(*s.cat)));
  if (s.dom) f.emplace_back("domain", std::string(core::to_string(*s.dom)));
  if (s.unit) f.emplace_back("unit", (*s.unit)());
  if (s.major_urgent) f.emplace_back("major_urgent", "true");
  if (s.escalations > 0) f.emplace_back("escalations", std::to_string(s.escalations));
  if (s.returns > 0) f.emplace_back("returns", std::to_string(s.returns));
  if (s.extension_days > 0) f.emplace_back("extension_days", std::to_string(s.extension_days));
  date("first_transferred_on", s.first_transferred_on);
  date("reply_due", s.reply_due);
  date("replied_on", s.replied_on);
  date("closed_on", s.closed_on);
  date("archived_on", s.archived_on);
  return f;
}

std::string deadline_text(const core::deadline& d) {
  std::string t = fmt::format("{} due {} {}", core::to_string(d.kind), d.due.to_string(),
                              core::to_string(d.state));
  if (d.met_on) t += " on " + d.met_on->to_string();
  return t;
}

boost::json::object to_json(const core::case_state& s) {
  boost::json::object o;
  for (const auto& [k, v] : key_fields(s)) o[k] = v;
  o["version"] = s.version;
  return o;
}

boost::json::array to_json(const std::vector<core::deadline>& ds) {
  boost::json::array a;
  for (const auto& d : ds) {
    boost::json::object o;
    o["kind"] = core::to_string(d.kind);
    o["due"] = d.due.to_string();
    o["state"] = core::to_string(d.state);
    if (d.met_on) o["met_on"] = d.met_on->to_string();
    a.push_back(std::move(o));
  }
  return a;
}

boost::json::object to_json(const replay_problem& p) {
  boost::json::object o;
  if (!p.event_id.empty()) {
    o["event_id"] = p.event_id;
    o["sequence"] = p.sequence;
  }
  if (p.position) {
    o["partition"] = p.position->partition();
    o["offset"] = p.position->offset();
  }
  o["what"] = p.what;
  return o;
}

std::string problem_text(const replay_problem& p) {
  std::string t;
  if (!p.event_id.empty()) t = fmt::format("event {} (sequence {}", p.event_id, p.sequence);
  if (p.position) t += fmt::format("{}{}", t.empty() ? "(" : ", ", at(*p.position));
  if (!t.empty()) t += "): ";
  return t + p.what;
}

void print_text(const replay_result& r, std::ostream& out) {
  out << fmt::format("case {} (partition {}): {} event(s) in the log", r.case_id, r.partition(),
                     r.events_in_log);
  if (r.as_of) out << fmt::format(", {} as of {}", r.events.size(), to_rfc3339_shanghai(*r.as_of));
  out << "\n\n";
  for (const auto& e : r.events) {
    out << fmt::format("#{} {} {} (v{}) by {} ({}{}{})  [{} #{}]\n", e.env.sequence(),
                       to_rfc3339_shanghai(e.env.recorded_at), core::event_name(e.env.type_id),
                       e.env.version, e.env.by.user, e.env.by.role,
                       e.env.by.center.empty() ? "" : ", center " + e.env.by.center,
                       e.env.by.unit.empty() ? "" : ", unit " + e.env.by.unit, at(e.position),
                       e.index);
    if (e.env.occurred_at != e.env.recorded_at)
      out << "    occurred at " << to_rfc3339_shanghai(e.env.occurred_at) << "\n";
    std::string fields;
    for (const auto& [k, v] : key_fields(e.state)) fields += fmt::format(" {}={}", k, v);
    out << "    state:" << fields << "\n";
    for (const auto& d : e.deadlines) out << "    deadline: " << deadline_text(d) << "\n";
  }
  out << fmt::format("\nstate{}:", r.as_of ? " as of " + to_rfc3339_shanghai(*r.as_of) : "");
  for (const auto& [k, v] : key_fields(r.state)) out << fmt::format(" {}={}", k, v);
  out << "\n";
  for (const auto& d : r.deadlines)
    out << fmt::format("deadline as of {}: {}\n", to_rfc3339_shanghai(r.deadlines_at),
                       deadline_text(d));
}

void print_json(const replay_result& r, const replay_options& o, std::ostream& out) {
  boost::json::object doc;
  doc["case"] = r.case_id;
  doc["partition"] = r.partition();
  doc["events_in_log"] = r.events_in_log;
  if (r.as_of) doc["as_of"] = to_rfc3339_shanghai(*r.as_of);
  boost::json::array evs;
  for (const auto& e : r.events) {
    boost::json::object j;
    j["sequence"] = e.env.sequence();
    j["event_id"] = e.env.event_id;
    j["type"] = core::event_name(e.env.type_id);
    j["type_id"] = e.env.type_id;
    j["version"] = e.env.version;
    j["recorded_at"] = to_rfc3339_shanghai(e.env.recorded_at);
    j["occurred_at"] = to_rfc3339_shanghai(e.env.occurred_at);
    j["actor"] = {{"user", e.env.by.user},
                  {"role", e.env.by.role},
                  {"center", e.env.by.center},
                  {"unit", e.env.by.unit}};
    j["correlation_id"] = e.env.correlation_id;
    j["position"] = {{"partition", e.position.partition()},
                     {"offset", e.position.offset()},
                     {"index", e.index}};
    j["hash"] = e.hash;
    j["state"] = to_json(e.state);
    j["deadlines"] = to_json(e.deadlines);
    evs.push_back(std::move(j));
  }
  doc["events"] = std::move(evs);
  doc["state"] = to_json(r.state);
  doc["deadlines_at"] = to_rfc3339_shanghai(r.deadlines_at);
  doc["deadlines"] = to_json(r.deadlines);
  boost::json::object v;
  v["verified"] = !r.problem.has_value();
  if (o.verify) {
    v["checkpoints_verified"] = r.checkpoints_verified;
    v["records_after_last_checkpoint"] = r.uncovered_records;
  }
  if (r.problem) v["problem"] = to_json(*r.problem);
  doc["verification"] = std::move(v);
  out << gateway::json_text(doc) << "\n";
}

}  // namespace

result<replay_result> replay_case(events::event_log& log, const replay_options& options) {
  if (options.case_id.empty()) return make_error(events::errc::bad_config, "no case id");
  replay_result r;
  r.case_id = options.case_id;
  if (!options.as_of.empty()) {
    r.as_of = parse_rfc3339(options.as_of);
    if (!r.as_of)
      return make_error(events::errc::bad_config,
                        "--as-of must be RFC 3339 (e.g. 2026-03-01T12:00:00+08:00), not '" +
                            options.as_of + "'");
  }
  auto verified = events::verify_case(log, options.case_id, options.verify);
  if (!verified) return std::move(verified).error();
  events::case_verification& v = verified.value();
  r.partition = v.partition;
  r.events_in_log = v.events_in_log;
  r.checkpoints_verified = v.checkpoints_verified;
  r.uncovered_records = v.uncovered_records;
  r.problem = std::move(v.problem);

  core::case_state state;
  state.id = case_id{options.case_id};
  for (auto& e : v.events) {
    if (r.as_of && e.env.recorded_at > *r.as_of) break;  // it had not happened yet
    state = core::evolve(std::move(state), e.event, e.env.recorded_at);
    auto deadlines = core::deadlines(state, e.env.recorded_at);
    r.events.push_back(replayed_event{std::move(e.env), e.position, e.index, std::move(e.hash),
                                      state, std::move(deadlines)});
  }
  r.state = state;
  r.deadlines_at = r.as_of ? *r.as_of
                           : options.now.value_or(from_chrono(std::chrono::system_clock::now()));
  r.deadlines = core::deadlines(r.state, r.deadlines_at);
  return r;
}

int run_replay(const replay_options& options, std::ostream& out, std::ostream& err) {
  if (options.format != "text" && options.format != "json") {
    err << "caseline replay: --format must be text or json, not '" << options.format << "'\n";
    return 2;
  }
  auto log = open_existing_log(options.store);
  if (!log) {
    err << "caseline replay: " << log.error().message() << "\n";
    return 2;
  }
  auto r = replay_case(*log.value(), options);
  if (!r) {
    err << "caseline replay: " << r.error().message() << "\n";
    return 2;
  }
  const replay_result& res = r.value();
  if (res.events_in_log == 0 && !res.problem) {
    err << "caseline replay: case " << options.case_id << " is not in the log\n";
    return 2;
  }
  if (options.format == "json")
    print_json(res, options, out);
  else
    print_text(res, out);
  if (res.problem) {
    err << "caseline replay: TAMPERED: first bad " << (res.problem->event_id.empty() ? "place" : "event")
        << ": " << problem_text(*res.problem) << "\n";
    return 1;
  }
  if (options.format == "text") {
    out << fmt::format("\nverified: {} event(s), sequence 1..{}, every SHA-256 link holds",
                       res.events_in_log, res.events_in_log);
    if (options.verify)
      out << fmt::format("; {} checkpoint(s) of partition {} recomputed, {} record(s) after the "
                         "last one",
                         res.checkpoints_verified, res.partition(), res.uncovered_records);
    out << "\n";
  }
  return 0;
}

}  // namespace caseline::tools
