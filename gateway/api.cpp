#include "gateway/api.h"

#include <chrono>
#include <random>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/codec.h"
#include "core/errc.h"
#include "events/errc.h"
#include "events/thread_pool.h"
#include "gateway/case_json.h"
#include "gateway/json_input.h"
#include "gateway/problem.h"
#include "projections/case_projection.h"
#include "projections/errc.h"

namespace caseline::gateway {

namespace json = boost::json;

namespace {

// How long a read waits for the projection to show this server's own acknowledged writes.
constexpr std::chrono::seconds read_your_writes_timeout{5};

http_response json_response(int status, const json::object& body) {
  http_response r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

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
result<E> read_enum(object_reader& r, std::string_view field) {
  auto s = r.optional_string(field, 64);
  if (!s) return s.error();
  if (!s.value()) return field_error(r.path(field), "required");
  const auto names = enum_names<E>();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == *s.value()) return static_cast<E>(i);
  std::string list;
  for (auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  return field_error(r.path(field), "must be one of: " + list);
}

bool valid_correlation_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

std::string new_correlation_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

bool is_center_code(std::string_view s) {
  if (s.size() != 6) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool is_phone(std::string_view s) {
  if (s.size() < 3 || s.size() > 20) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == ' ')) return false;
  return true;
}

// "/v1/cases/X/events" -> {"v1", "cases", "X", "events"}
std::vector<std::string_view> segments(std::string_view path) {
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

struct request_scope {
  http_request req;
  std::string correlation_id;
  std::vector<std::string_view> path;
};

}  // namespace

class api::impl {
 public:
  impl(services s, unsigned threads) : s_(s), pool_(threads) {}

  void handle(http_request req, responder respond) {
    const auto started = std::chrono::steady_clock::now();
    auto scope = std::make_shared<request_scope>();
    scope->req = std::move(req);
    const auto given = scope->req.header("x-correlation-id");
    scope->correlation_id =
        given && valid_correlation_id(*given) ? std::string(*given) : new_correlation_id();
    scope->path = segments(scope->req.path);
    // Every answer carries the correlation id and is logged once.
    auto done = [scope, started, respond = std::move(respond)](http_response r) {
      r.headers.emplace_back("X-Correlation-Id", scope->correlation_id);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      spdlog::info(R"({{"method":"{}","route":"{}","status":{},"duration_us":{},"correlation_id":"{}"}})",
                   scope->req.method, route_name(scope->path), r.status, us, scope->correlation_id);
      respond(std::move(r));
    };
    pool_.post([this, scope, done = std::move(done)]() mutable {
      try {
        route(*scope, std::move(done));
      } catch (const std::exception& ex) {
        spdlog::error(R"({{"event":"handler_exception","correlation_id":"{}","what":"{}"}})",
                      scope->correlation_id, ex.what());
        done(error_response(make_error(errc::internal)));
      }
    });
  }

 private:
  // The route template, for logs and metrics: ids are replaced so that no personal or
  // high-cardinality value is logged.
  static std::string route_name(const std::vector<std::string_view>& p) {
    if (p.size() >= 3 && p[0] == "v1" && p[1] == "cases")
      return p.size() == 3 ? "/v1/cases/{id}" : "/v1/cases/{id}/" + std::string(p[3]);
    std::string out;
    for (auto s : p) out += "/" + std::string(s).substr(0, 32);
    return out.empty() ? "/" : out;
  }

  void route(request_scope& sc, responder done) {
    const auto& p = sc.path;
    const auto& m = sc.req.method;
    auto method_not_allowed = [&](std::string_view allow) {
      auto r = problem_response({405, "method-not-allowed", "Method not allowed",
                                 m + " is not allowed here; allowed: " + std::string(allow), "",
                                 ""});
      r.headers.emplace_back("Allow", std::string(allow));
      done(std::move(r));
    };
    if (p.size() == 1 && (p[0] == "healthz" || p[0] == "readyz")) {
      if (m != "GET") return method_not_allowed("GET");
      return p[0] == "healthz" ? done(json_response(200, {{"status", "ok"}})) : readyz(done);
    }
    if (p.size() >= 2 && p[0] == "v1" && p[1] == "cases") {
      if (p.size() == 2) {
        if (m != "POST") return method_not_allowed("POST");
        return post_case(sc, std::move(done));
      }
      const case_id id{std::string(p[2])};
      if (p.size() == 3) {
        if (m != "GET") return method_not_allowed("GET");
        return get_case(id, done);
      }
      if (p.size() == 4 && p[3] == "events") {
        if (m != "GET") return method_not_allowed("GET");
        return get_events(id, done);
      }
    }
    done(problem_response({404, "not-found", "Not found",
                           "no route for " + route_name(p), "", ""}));
  }

  void readyz(const responder& done) {
    json::object checks;
    bool ok = true;
    if (auto r = s_.log.check(); !r) {
      ok = false;
      checks["log"] = r.error().message();
    } else {
      checks["log"] = "ok";
    }
    if (auto f = s_.runner.failure()) {
      ok = false;
      checks["projections"] = f->message();
    } else {
      checks["projections"] = "ok";
    }
    if (!ok) {
      auto r = problem_response({503, "not-ready", "Service unavailable",
                                 "a dependency is not ready", "", ""});
      return done(std::move(r));
    }
    done(json_response(200, {{"status", "ready"}, {"checks", checks}}));
  }

  static result<void> require_json(const http_request& req) {
    const auto ct = req.header("content-type");
    if (!ct || !(ct->starts_with("application/json")))
      return make_error(errc::unsupported_media_type,
                        "send the body as Content-Type: application/json");
    return success();
  }

  static result<core::receive> parse_receive(const http_request& req,
                                             std::optional<timestamp>& occurred_at) {
    if (auto r = require_json(req); !r) return r.error();
    const json_limits limits;
    auto body = parse_json_object(req.body, limits);
    if (!body) return body.error();
    object_reader r(body.value(), "", limits);
    core::receive cmd;
    auto via = read_enum<core::channel>(r, "channel");
    if (!via) return via.error();
    cmd.via = via.value();
    auto center = r.required_string("center", 6, 6);
    if (!center) return center.error();
    if (!is_center_code(center.value()))
      return field_error("center", "must be a 6-digit GB/T 2260 code");
    cmd.center = center_code{center.value()};
    auto caller = r.required_object("caller");
    if (!caller) return caller.error();
    {
      object_reader c(*caller.value(), "caller", limits);
      auto phone = c.required_string("phone", 3, 20);
      if (!phone) return phone.error();
      if (!is_phone(phone.value()))
        return field_error("caller.phone", "digits, '+', '-' and spaces only");
      auto name = c.optional_string("name", 64);
      if (!name) return name.error();
      cmd.caller = core::caller_info{phone.value(), name.value().value_or("")};
      if (auto f = c.finish(); !f) return f.error();
    }
    auto content = r.required_string("content", 1, 4000);
    if (!content) return content.error();
    cmd.content = content.value();
    auto rec = r.optional_object("recording");
    if (!rec) return rec.error();
    if (rec.value()) {
      object_reader c(*rec.value(), "recording", limits);
      auto uri = c.required_string("uri", 1, 1024);
      if (!uri) return uri.error();
      auto sha = c.required_string("sha256", 64, 64);
      if (!sha) return sha.error();
      for (char ch : sha.value())
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
          return field_error("recording.sha256", "must be 64 lower-case hex digits");
      auto dur = c.required_int("duration_s", 0, 24 * 3600);
      if (!dur) return dur.error();
      if (auto f = c.finish(); !f) return f.error();
      cmd.recording = core::recording_ref{uri.value(), sha.value(),
                                          static_cast<std::uint32_t>(dur.value())};
    }
    auto urgent = r.optional_string("major_urgent_reason", 500);
    if (!urgent) return urgent.error();
    cmd.major_urgent_reason = urgent.value().value_or("");
    auto occurred = r.optional_string("occurred_at", 40);
    if (!occurred) return occurred.error();
    if (occurred.value()) {
      occurred_at = parse_rfc3339(*occurred.value());
      if (!occurred_at) return field_error("occurred_at", "must be an RFC 3339 date-time");
    }
    if (auto f = r.finish(); !f) return f.error();
    return cmd;
  }

  void post_case(request_scope& sc, responder done) {
    std::optional<timestamp> occurred_at;
    auto cmd = parse_receive(sc.req, occurred_at);
    if (!cmd) return done(error_response(cmd.error(), sc.req.path));
    projections::command_request req;
    req.cmd = std::move(cmd).value();
    req.correlation_id = sc.correlation_id;
    req.occurred_at = occurred_at;
    // Until tokens exist (issue 4) the actor is the intake desk of the case's center.
    req.who = core::actor{user_id{"intake"}, core::role::agent,
                          std::get<core::receive>(req.cmd).center, unit_id{}};
    const timestamp now = s_.clock.now();
    s_.writer.submit(std::move(req), [done = std::move(done), now](
                                         result<projections::command_outcome> r) {
      if (!r) return done(error_response(r.error(), "/v1/cases"));
      const auto& st = r.value().state;
      auto resp = json_response(201, case_to_json(st, now));
      resp.headers.emplace_back("Location", "/v1/cases/" + st.id());
      resp.headers.emplace_back("ETag", fmt::format("\"{}\"", st.version));
      done(std::move(resp));
    });
  }

  // Read-your-writes: wait until the projection holds this server's acknowledged writes to the
  // case's partition.
  result<void> await_own_writes(const case_id& id) {
    const auto p = events::partition_for(id(), s_.log.partition_count());
    const auto acked = s_.writer.last_acked(p);
    if (acked < 0) return success();
    if (!s_.runner.wait_applied({p, events::log_offset{acked}}, read_your_writes_timeout)) {
      if (auto f = s_.runner.failure()) return *f;
      return make_error(errc::not_ready, "the projection is behind the log");
    }
    return success();
  }

  void get_case(const case_id& id, const responder& done) {
    const std::string instance = "/v1/cases/" + id();
    if (auto w = await_own_writes(id); !w) return done(error_response(w.error(), instance));
    auto row = projections::case_reader(s_.store).get(id);
    if (!row) return done(error_response(row.error(), instance));
    if (!row.value())
      return done(error_response(make_error(projections::errc::case_not_found, id()), instance));
    auto resp = json_response(200, case_to_json(row.value()->state, s_.clock.now()));
    resp.headers.emplace_back("ETag", fmt::format("\"{}\"", row.value()->state.version));
    done(std::move(resp));
  }

  void get_events(const case_id& id, const responder& done) {
    const std::string instance = "/v1/cases/" + id() + "/events";
    if (auto w = await_own_writes(id); !w) return done(error_response(w.error(), instance));
    auto locations = projections::case_reader(s_.store).locations(id);
    if (!locations) return done(error_response(locations.error(), instance));
    if (locations.value().empty())
      return done(error_response(make_error(projections::errc::case_not_found, id()), instance));
    json::array out;
    std::optional<events::log_position> cached_pos;
    events::record cached;
    for (const auto& loc : locations.value()) {
      if (!cached_pos || *cached_pos != loc.position) {
        auto recs = s_.log.read(loc.position.partition, loc.position.offset, 1,
                                std::chrono::milliseconds(0));
        if (!recs) return done(error_response(recs.error(), instance));
        if (recs.value().empty() || recs.value().front().position != loc.position)
          return done(error_response(
              make_error(events::errc::corrupt_record, "an indexed record is missing from the log"),
              instance));
        auto rec = events::decode_record(recs.value().front().value);
        if (!rec) return done(error_response(rec.error(), instance));
        cached = std::move(rec).value();
        cached_pos = loc.position;
      }
      if (loc.index >= cached.events.size())
        return done(error_response(
            make_error(events::errc::corrupt_record, "an indexed event is missing from its record"),
            instance));
      auto env = events::decode_envelope(cached.events[loc.index]);
      if (!env) return done(error_response(env.error(), instance));
      auto ev = core::decode(env.value().type_id, env.value().version, env.value().body);
      if (!ev) return done(error_response(ev.error(), instance));
      out.emplace_back(event_to_json(env.value(), ev.value()));
    }
    done(json_response(200, {{"case_id", id()}, {"events", std::move(out)}}));
  }

  services s_;
  events::thread_pool pool_;
};

api::api(services s, unsigned threads) : impl_(std::make_unique<impl>(s, threads)) {}
api::~api() = default;
void api::handle(http_request request, responder respond) {
  impl_->handle(std::move(request), std::move(respond));
}

}  // namespace caseline::gateway
