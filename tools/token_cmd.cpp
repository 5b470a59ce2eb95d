#include "tools/token_cmd.h"

#include <charconv>
#include <ostream>

#include <boost/json.hpp>

#include "core/registry.h"
#include "events/errc.h"
#include "gateway/auth.h"
#include "gateway/json_input.h"
#include "gateway/json_text.h"
#include "gateway/problem.h"
#include "projections/clock.h"
#include "projections/server_state.h"
#include "projections/store.h"
#include "tools/admin_client.h"
#include "tools/install_paths.h"

namespace caseline::tools {

result<void> check_token_request(const token_request& r, const core::registry& reg) {
  const auto role = gateway::parse_role(r.role);
  if (!role) {
    std::string names;
    for (auto n : gateway::role_names()) names += (names.empty() ? "" : ", ") + std::string(n);
    return gateway::field_error("role", "must be one of: " + names);
  }
  return gateway::check_token_scope(*role, center_code{r.center}, unit_id{r.unit}, reg);
}

result<projections::created_token> create_token(projections::token_writer& w,
                                                const core::registry& reg, const token_request& r,
                                                const events::actor& by,
                                                const std::string& correlation_id) {
  if (auto ok = check_token_request(r, reg); !ok) return ok.error();
  return w.issue(r.role, r.center, r.unit, r.expires_at, by, correlation_id);
}

namespace {

// The operator at the console of a stopped server, as the token events name them.
const events::actor console{"caseline-token", "admin", "", ""};

// The stopped server's stack without HTTP: its log, and its store caught up with the log.
result<std::unique_ptr<server_stack>> open_token_stack(const store_options& options) {
  serve_options o;
  o.store = options;
  // The stack loads the shipped calendar (it is not what a token needs, but it is checked).
  if (o.store.calendar_file.empty()) o.store.calendar_file = default_calendar_file();
  o.http = false;
  o.checkpoint_interval = std::chrono::minutes(0);  // a token command writes nothing else
  return server_stack::open(o);
}

}  // namespace

result<projections::created_token> create_token(const store_options& options,
                                                const token_request& r) {
  // Only a unit's registration needs the log: refuse the rest before opening it for nothing.
  if (r.role != "unit" && r.role != "unit_head")
    if (auto ok = check_token_request(r, core::registry::henan()); !ok) return ok.error();
  auto stack = open_token_stack(options);
  if (!stack) return stack.error();
  return stack.value()->create_token(r);
}

result<timestamp> parse_expires(std::string_view text, timestamp now) {
  if (auto t = parse_rfc3339(text)) return *t;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::int64_t per = 0;
  if (unit == "m") per = 60'000;
  else if (unit == "h") per = 3'600'000;
  else if (unit == "d") per = 86'400'000;
  if (ec != std::errc{} || n <= 0 || per == 0 || n > 3650LL * 86'400'000 / per)
    return gateway::field_error("expires",
                                "an RFC 3339 date-time or a duration such as 90m, 12h, 30d");
  return timestamp{now.ms + n * per};
}

namespace {

// A problem+json answer as one line for the operator.
int report_answer(std::string_view what, const result<admin_answer>& a, int ok_status,
                  std::ostream& err) {
  if (!a) {
    err << "caseline token " << what << ": " << a.error().message() << "\n";
    return 1;
  }
  if (a.value().status != ok_status) {
    err << "caseline token " << what << ": " << a.value().status << " " << a.value().body << "\n";
    return 1;
  }
  return 0;
}


}  // namespace

int run_token_create(const store_options& options, const token_admin& via, const token_request& r,
                     std::ostream& out, std::ostream& err) {
  if (!via.url.empty()) {
    boost::json::object body{{"role", r.role}, {"center", r.center}};
    if (!r.unit.empty()) body["unit"] = r.unit;
    if (r.expires_at) body["expires"] = to_rfc3339_shanghai(*r.expires_at);
    auto a =
        admin_request({via.url, via.token}, "POST", "/v1/admin/tokens", gateway::json_text(body));
    if (int rc = report_answer("create", a, 201, err); rc != 0) return rc;
    const auto answer = boost::json::parse(a.value().body).as_object();
    out << answer.at("token").as_string().c_str() << "\n";
    err << "token " << answer.at("id").as_string().c_str()
        << ": shown once, stored only as its SHA-256\n";
    return 0;
  }
  auto t = create_token(options, r);
  if (!t) {
    err << "caseline token create: " << t.error().message() << "\n";
    return 1;
  }
  out << t.value().secret << "\n";
  err << "token " << t.value().info.id << " (" << r.role << ", center " << r.center
      << (r.unit.empty() ? "" : ", unit " + r.unit)
      << "): shown once, stored only as its SHA-256\n";
  return 0;
}

int run_token_list(const store_options& options, const token_admin& via, std::ostream& out,
                   std::ostream& err) {
  if (!via.url.empty()) {
    auto a = admin_request({via.url, via.token}, "GET", "/v1/admin/tokens");
    if (int rc = report_answer("list", a, 200, err); rc != 0) return rc;
    out << a.value().body << "\n";
    return 0;
  }
  auto s = open_token_stack(options);
  if (!s) {
    err << "caseline token list: " << s.error().message() << "\n";
    return 1;
  }
  auto all = projections::token_store(s.value()->store()).list();
  if (!all) {
    err << "caseline token list: " << all.error().message() << "\n";
    return 1;
  }
  const auto now = projections::system_clock{}.now();
  boost::json::array items;
  for (const auto& t : all.value())
    items.emplace_back(boost::json::object{
        {"id", t.id}, {"role", t.role}, {"center", t.center},
        {"unit", t.unit.empty() ? boost::json::value(nullptr) : boost::json::value(t.unit)},
        {"created_at", to_rfc3339_shanghai(t.created_at)},
        {"expires", t.expires_at ? boost::json::value(to_rfc3339_shanghai(*t.expires_at))
                                 : boost::json::value(nullptr)},
        {"expired", projections::expired(t, now)}});
  out << gateway::json_text(boost::json::object{{"tokens", std::move(items)}}) << "\n";
  return 0;
}

int run_token_revoke(const store_options& options, const token_admin& via, const std::string& id,
                     std::ostream& out, std::ostream& err) {
  if (!via.url.empty()) {
    auto a = admin_request({via.url, via.token}, "DELETE", "/v1/admin/tokens/" + id);
    if (int rc = report_answer("revoke", a, 204, err); rc != 0) return rc;
    out << "revoked " << id << "\n";
    return 0;
  }
  auto s = open_token_stack(options);
  if (!s) {
    err << "caseline token revoke: " << s.error().message() << "\n";
    return 1;
  }
  auto revoked = s.value()->tokens().revoke(id, console, "token-revoke");
  if (!revoked || !revoked.value()) {
    err << "caseline token revoke: "
        << (revoked ? "no token with id " + id : revoked.error().message()) << "\n";
    return 1;
  }
  out << "revoked " << id << "\n";
  return 0;
}

result<std::optional<projections::created_token>> bootstrap_admin_token(
    projections::store& s, projections::token_writer& w, timestamp now,
    std::chrono::hours valid_for) {
  using none = std::optional<projections::created_token>;
  // A store from before tokens were in the log may have handed one out already.
  auto issued = projections::read_server_state(s, projections::server_state_key::bootstrap_token);
  if (!issued) return issued.error();
  if (issued.value()) return none{};
  auto t = w.issue_first(
      "admin", std::string(core::registry::provincial_center),
      timestamp{now.ms + std::chrono::duration_cast<std::chrono::milliseconds>(valid_for).count()},
      events::actor{"caseline", "admin", "", ""});
  // On a group member, not_owner too: the caller tries again on the partition's owner.
  if (!t) return t.error();
  if (!t.value()) return none{};  // the log holds tokens already
  if (auto r = projections::write_server_state(s, projections::server_state_key::bootstrap_token,
                                               t.value()->info.id);
      !r)
    return r.error();
  return t;
}

}  // namespace caseline::tools
