#include "tools/token_cmd.h"

#include <charconv>
#include <filesystem>
#include <ostream>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "core/log_line.h"
#include "core/registry.h"
#include "events/errc.h"
#include "gateway/auth.h"
#include "gateway/command_json.h"
#include "gateway/json_input.h"
#include "gateway/json_text.h"
#include "gateway/problem.h"
#include "gateway/read_model_json.h"
#include "projections/clock.h"
#include "projections/server_state.h"
#include "projections/store.h"
#include "tools/admin_client.h"
#include "tools/install_paths.h"
#include "tools/local_admin.h"

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

// The stopped server's stack without HTTP: its log, and its store caught up with the log. On
// Kafka without a group, a command that writes the log holds the topic's single-writer claim
// meanwhile (tools/serve.h); `token list` only reads, and takes no partition from a server
// writing the topic from another folder.
result<std::unique_ptr<server_stack>> open_token_stack(const store_options& options, bool writes) {
  serve_options o;
  o.store = options;
  if (!writes) o.store.claim_topic = false;
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
  auto stack = open_token_stack(options, true);
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

// A token request to a running server: through its API with --url, otherwise through the admin
// socket of the server running on the data folder (tools/local_admin.h). nullopt: no --url and
// no server runs there, so the command works on the stopped server's log.
std::optional<result<admin_answer>> to_running_server(const store_options& options,
                                                      const token_admin& via,
                                                      const local_request& r) {
  if (!via.url.empty()) return admin_request({via.url, via.token}, r.method, r.path, r.body);
  auto local = local_admin_request(options.data_dir, r);
  if (!local) return result<admin_answer>(local.error());
  if (!local.value()) return std::nullopt;
  return result<admin_answer>(std::move(*local.value()));
}

}  // namespace

int run_token_create(const store_options& options, const token_admin& via, const token_request& r,
                     std::ostream& out, std::ostream& err) {
  boost::json::object body{{"role", r.role}, {"center", r.center}};
  if (!r.unit.empty()) body["unit"] = r.unit;
  if (r.expires_at) body["expires"] = to_rfc3339_shanghai(*r.expires_at);
  if (auto a =
          to_running_server(options, via, {"POST", "/v1/admin/tokens", gateway::json_text(body)})) {
    if (int rc = report_answer("create", *a, 201, err); rc != 0) return rc;
    const auto answer = boost::json::parse(a->value().body).as_object();
    out << answer.at("token").as_string().c_str() << "\n";
    err << "token " << answer.at("id").as_string().c_str()
        << ": shown once, stored only as its SHA-256\n";
    return 0;
  }
  // A mistyped --data makes a token for a log no server reads: say so.
  std::error_code ec;
  const bool fresh =
      !std::filesystem::exists(std::filesystem::path(options.data_dir) / "store", ec);
  auto t = create_token(options, r);
  if (!t) {
    err << "caseline token create: " << t.error().message() << "\n";
    return 1;
  }
  if (fresh)
    err << "caseline token create: no server runs on " << options.data_dir
        << " and it held no server's data: the token was written to a new "
        << (options.kafka.empty() ? "log in that folder"
                                  : "store in that folder, and topic " + options.topic)
        << ", for a server started with --data " << options.data_dir << "\n";
  out << t.value().secret << "\n";
  err << "token " << t.value().info.id << " (" << r.role << ", center " << r.center
      << (r.unit.empty() ? "" : ", unit " + r.unit)
      << "): shown once, stored only as its SHA-256\n";
  return 0;
}

int run_token_list(const store_options& options, const token_admin& via, std::ostream& out,
                   std::ostream& err) {
  if (auto a = to_running_server(options, via, {"GET", "/v1/admin/tokens", ""})) {
    if (int rc = report_answer("list", *a, 200, err); rc != 0) return rc;
    out << a->value().body << "\n";
    return 0;
  }
  auto s = open_token_stack(options, false);
  if (!s) {
    err << "caseline token list: " << s.error().message() << "\n";
    return 1;
  }
  auto all = projections::token_store(s.value()->store()).list();
  if (!all) {
    err << "caseline token list: " << all.error().message() << "\n";
    return 1;
  }
  out << gateway::json_text(gateway::token_list_json(all.value(), s.value()->now())) << "\n";
  return 0;
}

int run_token_revoke(const store_options& options, const token_admin& via, const std::string& id,
                     std::ostream& out, std::ostream& err) {
  if (auto a = to_running_server(options, via, {"DELETE", "/v1/admin/tokens/" + id, ""})) {
    if (int rc = report_answer("revoke", *a, 204, err); rc != 0) return rc;
    out << "revoked " << id << "\n";
    return 0;
  }
  auto s = open_token_stack(options, true);
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

namespace {

admin_answer problem_answer(const error& e) {
  auto r = gateway::error_response(e);
  return {r.status, r.body};
}

admin_answer json_answer(int status, const boost::json::object& body) {
  return {status, gateway::json_text(body)};
}

// An error of a write to the tokens' stream. In a group, on a server that does not write the
// tokens' partition: 409 naming the server that does (the operator goes to its machine; a
// retry here would not help), or 503 while a rebalance moves it.
admin_answer write_problem(server_stack& stack, const error& e) {
  if (e.code != events::errc::not_owner) return problem_answer(e);
  const auto owner = stack.stream_owner(projections::token_writer::stream_key);
  if (!owner) return problem_answer(e);
  const auto p = gateway::problem_response(
      {409, "tokens-written-elsewhere", "Another server of the group writes the tokens",
       "this server does not write the tokens' partition; the server at " + *owner +
           " does: run the command on that server's data folder",
       "", ""});
  return {p.status, p.body};
}

}  // namespace

admin_answer local_admin_answer(server_stack& stack, const local_request& r,
                                const local_peer& peer) {
  static constexpr std::string_view tokens_path = "/v1/admin/tokens";
  const events::actor by{"local-admin:uid=" + std::to_string(peer.uid), "admin", "", ""};
  const std::string correlation_id = "local-admin-" + std::to_string(peer.pid);
  if (r.path == tokens_path && r.method == "POST") {
    auto order = gateway::parse_token_order(r.body, stack.now());
    if (!order) return problem_answer(order.error());
    token_request t{std::move(order.value().role), std::move(order.value().center),
                    std::move(order.value().unit), order.value().expires_at};
    auto created = stack.create_token(t, by, correlation_id);
    if (!created) return write_problem(stack, created.error());
    spdlog::info("{}", log_line("token_created", {{"id", created.value().info.id},
                                                  {"role", created.value().info.role},
                                                  {"by", by.user}}));
    return json_answer(201, gateway::created_token_json(created.value()));
  }
  if (r.path == tokens_path && r.method == "GET") {
    auto all = projections::token_store(stack.store()).list();
    if (!all) return problem_answer(all.error());
    return json_answer(200, gateway::token_list_json(all.value(), stack.now()));
  }
  if (r.path.starts_with(tokens_path) && r.path.size() > tokens_path.size() + 1 &&
      r.path[tokens_path.size()] == '/' && r.method == "DELETE") {
    const std::string id = r.path.substr(tokens_path.size() + 1);
    auto revoked = stack.tokens().revoke(id, by, correlation_id);
    if (!revoked) return write_problem(stack, revoked.error());
    if (!revoked.value())
      return problem_answer(make_error(gateway::errc::not_found, "no token with id " + id));
    spdlog::info("{}", log_line("token_revoked", {{"id", id}, {"by", by.user}}));
    return {204, ""};
  }
  if (r.path == tokens_path || r.path.starts_with(std::string(tokens_path) + "/"))
    return problem_answer(make_error(gateway::errc::method_not_allowed, r.method + " " + r.path));
  return problem_answer(
      make_error(gateway::errc::not_found, "the local admin socket serves POST and GET " +
                                               std::string(tokens_path) + " and DELETE " +
                                               std::string(tokens_path) + "/{id}"));
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
