#include "gateway/routes.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/detail/api_impl.h"

namespace caseline::gateway {

// The route table: method, path template, name (the OpenAPI operationId), the operation the
// token's role must be permitted (none: no token), the handler, a body limit of its own, and
// whether the route exists only with a manual clock.
std::span<const route> api::impl::routes() {
  using enum core::operation;
  static constexpr auto table = std::to_array<route>({
      {"GET", "/healthz", "healthz", std::nullopt, handled_by<&impl::healthz>},
      {"GET", "/readyz", "readyz", std::nullopt, handled_by<&impl::readyz>},
      {"GET", "/openapi.json", "openapi", std::nullopt, handled_by<&impl::openapi>},
      {"GET", "/metrics", "metrics", metrics, handled_by<&impl::metrics_text>},
      {"POST", "/v1/cases", "receive", receive, handled_by<&impl::receive>},
      {"GET", "/v1/cases", "list_cases", read_case, handled_by<&impl::list_cases>},
      {"GET", "/v1/cases/{id}", "get_case", read_case, handled_by<&impl::get_case>},
      {"GET", "/v1/cases/{id}/events", "get_case_events", read_case, handled_by<&impl::get_events>},
      {"POST", "/v1/cases/{id}/answer", "answer", intake_command, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/not-accept", "not_accept", intake_command,
       handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/redirect", "redirect", intake_command, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/classify", "classify", intake_command, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/transfer", "transfer", intake_command, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/flag-major-urgent", "flag_major_urgent", intake_command,
       handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/escalate", "escalate", escalate, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/return", "return", unit_command, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/extend", "extend", unit_command, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/extension/approve", "approve_extension", approve_extension,
       handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/reply", "reply", unit_command, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/accept-late-return", "accept_late_return", accept_late_return,
       handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/revisit", "revisit", revisit, handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/archive", "archive", archive, handled_by<&impl::command>},
      {"GET", "/v1/calendar/{year}", "get_calendar", read_registry,
       handled_by<&impl::get_calendar>},
      {"PUT", "/v1/calendar/{year}", "publish_calendar", publish_calendar,
       handled_by<&impl::publish_calendar>},
      {"GET", "/v1/status/{id}", "get_status", std::nullopt, handled_by<&impl::get_status>},
      {"GET", "/v1/units/{id}", "get_unit", read_registry, handled_by<&impl::get_unit>},
      {"PUT", "/v1/units/{id}", "put_unit", write_registry, handled_by<&impl::put_unit>},
      {"GET", "/v1/centers", "list_centers", read_registry, handled_by<&impl::list_centers>},
      {"GET", "/v1/admin/clock", "get_clock", admin_clock, handled_by<&impl::get_clock>, 0,
       route::availability::manual_clock},
      {"POST", "/v1/admin/clock", "set_clock", admin_clock, handled_by<&impl::set_clock>, 0,
       route::availability::manual_clock},
      {"POST", "/v1/admin/tokens", "create_token", admin_tokens, handled_by<&impl::create_token>},
      {"GET", "/v1/admin/tokens", "list_tokens", admin_tokens, handled_by<&impl::list_tokens>},
      {"DELETE", "/v1/admin/tokens/{id}", "revoke_token", admin_tokens,
       handled_by<&impl::revoke_token>},
      {"GET", "/v1/queues/{queue}", "get_queue", read_worklists, handled_by<&impl::get_queue>},
      {"GET", "/v1/sla/overdue", "sla_overdue", read_worklists, handled_by<&impl::sla_overdue>},
      {"GET", "/v1/sla/due-soon", "sla_due_soon", read_worklists, handled_by<&impl::sla_due_soon>},
      {"GET", "/v1/reports/monthly/{month}", "report_monthly", read_reports,
       handled_by<&impl::report_monthly>},
      {"GET", "/v1/reports/annual/{year}", "report_annual", read_reports,
       handled_by<&impl::report_annual>},
      {"GET", "/v1/reports/period", "report_period", read_reports,
       handled_by<&impl::report_period>},
      {"GET", "/v1/reports/assessment/{month}", "report_assessment", read_reports,
       handled_by<&impl::report_assessment>},
      {"GET", "/v1/reports/urgent/{day}", "report_urgent", read_reports,
       handled_by<&impl::report_urgent>},
      {"GET", "/v1/reports/overdue", "report_overdue", read_reports,
       handled_by<&impl::report_overdue>},
      {"GET", "/v1/retention/audit", "retention_audit", retention_audit,
       handled_by<&impl::retention_audit>},
      {"POST", "/v1/admin/retention/purge", "start_retention_purge", retention_purge,
       handled_by<&impl::start_purge>},
      {"GET", "/v1/admin/retention/purge/{id}", "get_retention_purge", retention_purge,
       handled_by<&impl::get_purge>},
      {"POST", "/v1/cases/{id}/legal-hold", "place_legal_hold", legal_hold,
       handled_by<&impl::command>},
      {"POST", "/v1/cases/{id}/lift-legal-hold", "lift_legal_hold", legal_hold,
       handled_by<&impl::command>},
      {"PUT", "/v1/recordings", "put_recording", upload_recording, handled_by<&impl::put_recording>,
       recording_body_limit},
      {"GET", "/v1/cases/{id}/recording", "get_recording", read_recording,
       handled_by<&impl::get_recording>},
  });
  return table;
}

namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}

bool is_parameter(std::string_view t) {
  return t.size() > 2 && t.front() == '{' && t.back() == '}';
}

// Whether a path's segments fit a template's: the same count, the literal ones equal, and none
// empty where the template has a parameter. Allocates nothing: most templates a request is tried
// against do not fit it.
bool fits(const std::vector<std::string_view>& t, const std::vector<std::string_view>& segs) {
  if (t.size() != segs.size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (is_parameter(t[i]) ? segs[i].empty() : t[i] != segs[i]) return false;
  }
  return true;
}

// The parameters of a path that fits template `t`.
std::map<std::string, std::string> parameters(const std::vector<std::string_view>& t,
                                              const std::vector<std::string_view>& segs) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (is_parameter(t[i]))
      out.emplace(std::string(t[i].substr(1, t[i].size() - 2)), std::string(segs[i]));
  return out;
}

// The routes' templates, split once (every request is matched, some twice).
const std::vector<std::vector<std::string_view>>& templates() {
  static const std::vector<std::vector<std::string_view>> split_once = [] {
    std::vector<std::vector<std::string_view>> out;
    for (const auto& r : route_table()) out.push_back(split(r.path));
    return out;
  }();
  return split_once;
}

// A trailing slash or an empty segment is another path: "/v1/cases/" is not "/v1/cases".
bool well_formed(std::string_view path) {
  return !path.empty() && path.front() == '/' && (path.size() == 1 || path.back() != '/') &&
         path.find("//") == std::string_view::npos;
}

// The index in route_table() of the route for `method` and a path's segments, or none. A literal
// route wins over a template one ("/v1/cases/x/events" is never "{id}").
std::optional<std::size_t> route_for(std::string_view method,
                                     const std::vector<std::string_view>& segs) {
  const auto table = route_table();
  const auto& t = templates();
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (table[i].method != method || !fits(t[i], segs)) continue;
    if (!found || table[*found].path.find('{') != std::string_view::npos) found = i;
  }
  return found;
}

}  // namespace

std::span<const route> route_table() { return api::impl::routes(); }

route_match match_route(std::string_view method, std::string_view path) {
  route_match m;
  if (!well_formed(path)) return m;
  const auto segs = split(path);
  if (const auto i = route_for(method, segs)) {
    m.matched = &route_table()[*i];
    m.params = parameters(templates()[*i], segs);
    return m;
  }
  // None for this method: the methods the path has, for a 405's Allow.
  const auto table = route_table();
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (!fits(templates()[i], segs) || m.allow.find(table[i].method) != std::string::npos) continue;
    m.allow += m.allow.empty() ? "" : ", ";
    m.allow += table[i].method;
  }
  return m;
}

std::size_t max_route_body_limit() {
  std::size_t n = 0;
  for (const auto& r : route_table()) n = std::max(n, r.body_limit);
  return n;
}

std::size_t route_body_limit(std::string_view method, std::string_view target) {
  // The raw path: a route with its own limit has no parameter that needs decoding to match.
  const auto path = target.substr(0, target.find('?'));
  if (!well_formed(path)) return 0;
  const auto i = route_for(method, split(path));
  return i ? route_table()[*i].body_limit : 0;
}

}  // namespace caseline::gateway
