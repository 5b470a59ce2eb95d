#include "gateway/api.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "core/codec.h"
#include "core/errc.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/thread_pool.h"
#include "gateway/auth.h"
#include "gateway/case_json.h"
#include "gateway/command_json.h"
#include "gateway/json_input.h"
#include "gateway/metrics.h"
#include "gateway/openapi.h"
#include "gateway/problem.h"
#include "gateway/routes.h"
#include "events/field_crypto.h"
#include "projections/access_log.h"
#include "projections/case_index.h"
#include "projections/case_projection.h"
#include "projections/errc.h"
#include "projections/idempotency_index.h"
#include "projections/idempotency_store.h"
#include "projections/queues.h"
#include "projections/recordings.h"
#include "projections/reports.h"
#include "projections/retention.h"
#include "projections/sla_index.h"
#include "projections/token_store.h"

namespace caseline::gateway {

namespace json = boost::json;

namespace {

// How long a read waits for the projection to show this server's own acknowledged writes.
constexpr std::chrono::seconds read_your_writes_timeout{5};
// How long a command with an Idempotency-Key waits for the key index to hold the log's end.
constexpr std::chrono::seconds idempotency_catch_up_timeout{10};

// The answer to a request that arrives while the server stops (the client retries elsewhere or
// later; nothing was written).
http_response shutting_down() {
  return error_response(make_error(projections::errc::shutting_down,
                                   "the server is shutting down; nothing was written"));
}

http_response json_response(int status, const json::object& body) {
  http_response r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

bool valid_token_text(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == ':'))
      return false;
  return true;
}

std::string new_correlation_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

// The 404 of a case that does not exist, and of one outside the caller's scope: the same bytes.
error case_not_found(const std::string& id) {
  return make_error(projections::errc::case_not_found, id);
}

result<void> require_json(const http_request& req) {
  const auto ct = req.header("content-type");
  if (!ct || !(ct->starts_with("application/json")))
    return make_error(errc::unsupported_media_type,
                      "send the body as Content-Type: application/json");
  return success();
}

// If-Match: "3" (or W/"3", or 3). Absent: no precondition.
result<std::optional<std::uint64_t>> parse_if_match(const http_request& req) {
  auto h = req.header("if-match");
  if (!h) return std::optional<std::uint64_t>{};
  std::string_view v = *h;
  if (v.starts_with("W/")) v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string_view::npos)
    return make_error(errc::bad_precondition, "If-Match");
  return std::optional<std::uint64_t>{std::stoull(std::string(v))};
}

std::string etag(std::uint64_t version) { return fmt::format("\"{}\"", version); }

// A body some projection already rendered as JSON.
http_response raw_json_response(std::string body, std::string content_type = "application/json") {
  http_response r;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

std::string param(const http_request& req, std::string_view name) {
  const auto v = req.query_param(name);
  return v ? std::string(*v) : std::string();
}

// Unknown query parameters are refused: a typo must not silently widen or narrow an answer.
result<void> known_params(const http_request& req, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : req.query)
    if (std::find(known.begin(), known.end(), name) == known.end())
      return field_error(name, "unknown query parameter");
  return success();
}

// The event id an idempotent answer is sealed under: short (seal_field takes at most 255 bytes)
// and never the id of a case event.
std::string answer_seal_id(std::string_view token, std::string_view key) {
  return "answer:" +
         events::to_hex(events::sha256(std::string(token) + '\0' + std::string(key))).substr(0, 32);
}
constexpr std::string_view answer_field = "answer.body";

json::object summary_json(const projections::case_summary& c) {
  auto opt = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  return {{"id", c.id},
          {"center", c.center},
          {"owner_center", c.owner_center},
          {"status", c.status},
          {"unit", opt(c.unit)},
          {"category", opt(c.category)},
          {"domain", opt(c.domain)},
          {"received_on", c.received_on.to_string()},
          {"version", c.version},
          {"major_urgent", c.major_urgent}};
}

json::object unit_json(const core::unit_info& u) {
  return {{"id", u.id()},
          {"name", u.name},
          {"center", u.center()},
          {"contact",
           {{"name", u.contact.name},
            {"mobile", u.contact.mobile},
            {"email", u.contact.email},
            {"fax", u.contact.fax}}}};
}

std::string digits_of(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c >= '0' && c <= '9') out += c;
  return out;
}

template <class E>
bool is_enum_name(std::string_view v) {
  for (int i = 0; i < 64; ++i) {
    const auto n = core::to_string(static_cast<E>(i));
    if (n == "unknown") return false;
    if (n == v) return true;
  }
  return false;
}

struct request_scope {
  http_request req;
  std::string correlation_id;
  route_match match;
  std::optional<principal> who;
  std::string route_name;  // the template, for logs and metrics
  // The case whose opened personal data the answer shows: a stored idempotent answer is sealed
  // with that case's key, so that no plaintext reaches RocksDB (and shredding covers it).
  std::string sealed_for;
  // The Idempotency-Key of a command, as its record carries it into the log.
  std::optional<events::idempotency_mark> idempotency;
};

using scope_ptr = std::shared_ptr<request_scope>;

// A POST with an Idempotency-Key that is being answered now: later duplicates wait for it.
struct in_flight {
  std::string request_hash;
  std::vector<responder> waiters;
};

}  // namespace

class api::impl {
 public:
  impl(services s, api_options o)
      : s_(std::move(s)),
        tokens_(s_.store),
        idempotency_(s_.store),
        access_(s_.store),
        token_limit_(o.token_rate),
        status_limit_(o.status_rate),
        assessment_weights_(o.assessment_weights),
        pool_(o.threads) {}

  void handle(http_request req, responder respond) {
    const auto started = std::chrono::steady_clock::now();
    auto sc = std::make_shared<request_scope>();
    sc->req = std::move(req);
    const auto given = sc->req.header("x-correlation-id");
    sc->correlation_id =
        given && valid_token_text(*given, 64) ? std::string(*given) : new_correlation_id();
    sc->match = match_route(sc->req.method, sc->req.path);
    // Without `--clock manual` the clock routes do not exist.
    if (sc->match.matched && !s_.manual_clock &&
        (sc->match.matched->name == "set_clock" || sc->match.matched->name == "get_clock"))
      sc->match = route_match{};
    sc->route_name = sc->match.matched ? std::string(sc->match.matched->path) : "unmatched";
    // Every answer carries the correlation id, is counted, and is logged once: route template,
    // status, duration, correlation id, token id. Never a phone number, a body or a secret.
    auto done = [this, sc, started, respond = std::move(respond)](http_response r) {
      r.headers.emplace_back("X-Correlation-Id", sc->correlation_id);
      const auto elapsed = std::chrono::steady_clock::now() - started;
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
      metrics_.observe_request(sc->route_name, sc->req.method, r.status,
                               std::chrono::duration<double>(elapsed).count());
      spdlog::info("{}", log_line("request",
                                  {{"method", valid_token_text(sc->req.method, 16)
                                                  ? std::string_view(sc->req.method)
                                                  : std::string_view("other")},
                                   {"route", sc->route_name},
                                   {"status", r.status},
                                   {"duration_us", us},
                                   {"correlation_id", sc->correlation_id},
                                   {"token_id", sc->who ? sc->who->token_id : ""}}));
      respond(std::move(r));
    };
    // Liveness and readiness never wait (readiness reads the log's last health probe): they are
    // answered at once on the calling thread, so that workers busy with a slow log cannot
    // delay them.
    if (sc->route_name == "/healthz" || sc->route_name == "/readyz")
      return dispatch(sc, std::move(done));
    if (stopping_.load()) return done(shutting_down());
    // The task holds the only copy of `done`: a pool that no longer runs tasks answers here.
    auto task = std::make_shared<responder>(std::move(done));
    if (!pool_.post([this, sc, task] {
          if (stopping_.load()) return (*task)(shutting_down());
          // A handler that throws is answered 500 here, unless it answered (or handed its
          // responder on) before it threw: `once` lets only the first answer through, so that
          // no connection is written twice.
          auto answered = std::make_shared<std::atomic<bool>>(false);
          responder once = [answered, task](http_response r) {
            if (!answered->exchange(true)) (*task)(std::move(r));
          };
          try {
            dispatch(sc, once);
          } catch (const std::exception& ex) {
            spdlog::error("{}", log_line("handler_exception",
                                         {{"correlation_id", sc->correlation_id},
                                          {"what", ex.what()}}));
            once(error_response(make_error(errc::internal)));
          }
        }))
      (*task)(shutting_down());
  }

  void stop() {
    stopping_.store(true);
    pool_.shutdown();
  }

 private:
  using handler = void (impl::*)(const scope_ptr&, responder);

  void dispatch(const scope_ptr& sc, responder done) {
    const auto& m = sc->match;
    if (!m.matched) {
      if (m.allow.empty())
        return done(problem_response({404, "not-found", "Not found", "no route for this path", "",
                                      ""}));
      auto r = problem_response({405, "method-not-allowed", "Method not allowed",
                                 "allowed: " + m.allow, "", ""});
      r.headers.emplace_back("Allow", m.allow);
      return done(std::move(r));
    }
    const route& rt = *m.matched;
    if (rt.op) {
      auto who = authenticate(sc->req);
      if (!who) {
        auto r = error_response(who.error(), sc->req.path);
        if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return done(std::move(r));
      }
      sc->who = who.value();
      int retry_after = 1;
      if (!token_limit_.allow(sc->who->token_id, retry_after)) {
        auto r = error_response(make_error(errc::too_many_requests, "per-token request rate"));
        r.headers.emplace_back("Retry-After", std::to_string(retry_after));
        return done(std::move(r));
      }
      if (!permitted(sc->who->role, *rt.op))
        return done(error_response(
            make_error(errc::forbidden, "role " + std::string(to_string(sc->who->role))),
            sc->req.path));
    }
    const auto h = handlers().find(rt.name);
    if (h == handlers().end()) return done(error_response(make_error(errc::internal)));
    const handler fn = h->second;
    if (rt.method == "POST" && sc->req.header("idempotency-key"))
      return idempotent(sc, std::move(done), fn);
    (this->*fn)(sc, std::move(done));
  }

  static const std::map<std::string_view, handler>& handlers() {
    static const std::map<std::string_view, handler> table{
        {"healthz", &impl::healthz},
        {"readyz", &impl::readyz},
        {"openapi", &impl::openapi},
        {"metrics", &impl::metrics_text},
        {"receive", &impl::receive},
        {"list_cases", &impl::list_cases},
        {"get_case", &impl::get_case},
        {"get_case_events", &impl::get_events},
        {"answer", &impl::command},
        {"not_accept", &impl::command},
        {"redirect", &impl::command},
        {"classify", &impl::command},
        {"transfer", &impl::command},
        {"flag_major_urgent", &impl::command},
        {"escalate", &impl::command},
        {"return", &impl::command},
        {"extend", &impl::command},
        {"approve_extension", &impl::command},
        {"reply", &impl::command},
        {"accept_late_return", &impl::command},
        {"revisit", &impl::command},
        {"archive", &impl::command},
        {"get_calendar", &impl::get_calendar},
        {"publish_calendar", &impl::publish_calendar},
        {"get_status", &impl::get_status},
        {"get_unit", &impl::get_unit},
        {"put_unit", &impl::put_unit},
        {"list_centers", &impl::list_centers},
        {"get_clock", &impl::get_clock},
        {"set_clock", &impl::set_clock},
        {"create_token", &impl::create_token},
        {"list_tokens", &impl::list_tokens},
        {"revoke_token", &impl::revoke_token},
        {"get_queue", &impl::get_queue},
        {"sla_overdue", &impl::sla_overdue},
        {"sla_due_soon", &impl::sla_due_soon},
        {"report_monthly", &impl::report_monthly},
        {"report_annual", &impl::report_annual},
        {"report_period", &impl::report_period},
        {"report_assessment", &impl::report_assessment},
        {"report_urgent", &impl::report_urgent},
        {"report_overdue", &impl::report_overdue},
        {"retention_audit", &impl::retention_audit},
        {"place_legal_hold", &impl::command},
        {"lift_legal_hold", &impl::command},
        {"put_recording", &impl::put_recording},
        {"get_recording", &impl::get_recording},
    };
    return table;
  }

  // --- authentication, idempotency, access log --------------------------------------------

  result<principal> authenticate(const http_request& req) {
    const auto h = req.header("authorization");
    if (!h || !h->starts_with("Bearer "))
      return make_error(errc::unauthorized, "send Authorization: Bearer <token>");
    auto found = tokens_.find(h->substr(7));
    if (!found) return found.error();
    if (!found.value()) return make_error(errc::unauthorized, "unknown token");
    if (projections::expired(*found.value(), s_.clock.now()))
      return make_error(errc::unauthorized, "the token has expired");
    auto p = to_principal(*found.value());
    if (!p) return make_error(errc::unauthorized, "the token's role is unknown");
    // A unit token made before its unit was checked, or whose unit has since moved to another
    // center, is not honoured: it would act on another center's cases.
    if (unit_role(p->role) &&
        !check_token_scope(p->role, p->center, p->unit, *s_.registry.snapshot()))
      return make_error(errc::unauthorized, "the token's unit is not registered with its center");
    return *p;
  }

  void idempotent(const scope_ptr& sc, responder done, handler fn) {
    const std::string key(*sc->req.header("idempotency-key"));
    if (!valid_token_text(key, 255))
      return done(error_response(
          make_error(errc::bad_request, "Idempotency-Key: 1-255 of A-Z a-z 0-9 - _ . :")));
    const std::string token = sc->who ? sc->who->token_id : std::string("-");
    const std::string hash = projections::request_hash(sc->req.method, sc->req.path, sc->req.body);
    const std::string slot = token + '\0' + key;
    auto reused = [&] {
      done(error_response(make_error(errc::idempotency_key_reused, key), sc->req.path));
    };
    {
      std::lock_guard lk(idem_mu_);
      if (auto it = in_flight_.find(slot); it != in_flight_.end()) {
        if (it->second.request_hash != hash) return reused();
        it->second.waiters.push_back(std::move(done));
        return;
      }
      auto stored = idempotency_.find(token, key);
      if (!stored) return done(error_response(stored.error(), sc->req.path));
      if (stored.value()) {
        const auto& a = *stored.value();
        if (a.request_hash != hash) return reused();
        http_response r;
        r.status = a.status;
        r.content_type = a.content_type;
        r.headers = a.headers;
        auto body = open_answer(*sc, token, key, a);
        if (!body) return done(error_response(body.error(), sc->req.path));
        r.body = std::move(body).value();
        r.headers.emplace_back("Idempotent-Replayed", "true");
        return done(std::move(r));
      }
      in_flight_[slot] = in_flight{hash, {}};
    }
    // Answers this request and the duplicates that waited for it. A final answer is kept; a 5xx
    // or 429 is not, so that the retry can succeed; `keep` false keeps nothing (a refusal that
    // is not this key's answer). `replayed`: the answer is an earlier request's.
    auto finish = [this, sc, slot, token, key, hash, done = std::move(done)](
                      http_response r, bool keep, bool replayed) {
      if (keep && r.status < 500 && r.status != 429) {
        auto body = seal_answer(*sc, token, key, r.body);
        auto put = body ? idempotency_.put(token, key,
                                           {hash, r.status, r.content_type,
                                            std::move(body).value(), r.headers})
                        : result<void>(body.error());
        if (!put) {
          spdlog::error("{}", log_line("idempotency_store_failed",
                                       {{"error", put.error().message()}}));
          r = error_response(put.error());
        }
      }
      std::vector<responder> waiters;
      {
        std::lock_guard lk(idem_mu_);
        waiters = std::move(in_flight_[slot].waiters);
        in_flight_.erase(slot);
      }
      for (auto& w : waiters) {
        http_response copy = r;
        copy.headers.emplace_back("Idempotent-Replayed", "true");
        w(std::move(copy));
      }
      if (replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
      done(std::move(r));
    };
    // Commands write the key into their record. The stored answer may be missing although the
    // record was written (a crash before it was stored, a timeout, a 503 whose write landed):
    // the key index, once it holds every record that could carry the key, has the first write.
    if (fn == &impl::receive || fn == &impl::command) {
      sc->idempotency = events::idempotency_mark{events::idempotency_key_hash(token, key), hash};
      const bool creates = fn == &impl::receive;
      auto first = logged_write(*sc, creates);
      if (!first) return finish(error_response(first.error(), sc->req.path), false, false);
      if (first.value()) {
        if (first.value()->request_hash != hash)
          return finish(error_response(make_error(errc::idempotency_key_reused, key),
                                       sc->req.path),
                        false, false);
        auto answer = case_answer(*sc, first.value()->id(), creates ? 201 : 200);
        if (!answer) return finish(error_response(answer.error(), sc->req.path), false, false);
        return finish(std::move(answer).value(), true, true);
      }
    }
    (this->*fn)(sc, [finish = std::move(finish)](http_response r) mutable {
      finish(std::move(r), true, false);
    });
  }

  // The first write of this request's key, from the key index, once the index holds every
  // record that could carry the key: those of the case's partition for a command on a case, of
  // every partition for a new case (its id, hence its partition, is not known before).
  result<std::optional<projections::keyed_write>> logged_write(const request_scope& sc,
                                                               bool creates) {
    auto caught = creates ? s_.runner.catch_up(idempotency_catch_up_timeout)
                          : s_.runner.catch_up(events::partition_for(sc.match.params.at("id"),
                                                                     s_.log.partition_count()),
                                               idempotency_catch_up_timeout);
    if (!caught) return caught.error();
    return projections::idempotency_index(s_.store).find(sc.idempotency->key_hash);
  }

  // An answer that shows a case's personal data is stored sealed with the case's key (bound to
  // the token and the key), as every other copy of that data is.
  result<std::string> seal_answer(const request_scope& sc, std::string_view token,
                                  std::string_view key, const std::string& body) {
    if (sc.sealed_for.empty()) return body;
    auto k = s_.keys.get(case_id{sc.sealed_for});
    if (!k) return k.error();
    if (!k.value()) return body;  // shredded: the answer holds no personal data
    return events::seal_field(*k.value(), sc.sealed_for, answer_seal_id(token, key),
                              answer_field, body);
  }
  result<std::string> open_answer(const request_scope& sc, std::string_view token,
                                  std::string_view key, const projections::stored_answer& a) {
    if (!events::is_sealed_field(a.body)) return a.body;
    // The case: the command's {id}, or for POST /v1/cases the Location of the first answer.
    std::string id;
    if (auto it = sc.match.params.find("id"); it != sc.match.params.end()) id = it->second;
    for (const auto& [name, value] : a.headers)
      if (name == "Location") id = value.substr(value.rfind('/') + 1);
    auto k = s_.keys.get(case_id{id});
    if (!k) return k.error();
    if (!k.value())
      return make_error(errc::not_found,
                        "the first answer showed personal data that has since been shredded "
                        "(Art. 38)");
    auto body = events::open_field(*k.value(), id, answer_field, a.body, answer_seal_id(token, key));
    if (!body) log_unverified(sc, id, body.error());
    return body;
  }

  // Every read of a case's personal data is recorded before it is shown.
  result<void> record_read(const request_scope& sc, const std::string& case_id) {
    return access_.record({s_.clock.now(), sc.who ? sc.who->token_id : "", 
                           sc.who ? std::string(to_string(sc.who->role)) : "", case_id,
                           sc.route_name, sc.correlation_id});
  }

  // Read-your-writes: wait until the projection holds this server's acknowledged writes to the
  // partition.
  result<void> await_own_writes(events::partition_id p) {
    const auto acked = s_.writer.last_acked(p);
    if (acked < 0) return success();
    if (!s_.runner.wait_applied({p, events::log_offset{acked}}, read_your_writes_timeout)) {
      if (auto f = s_.runner.failure()) return *f;
      return make_error(errc::not_ready, "the projection is behind the log");
    }
    return success();
  }
  result<void> await_own_writes(const std::string& id) {
    return await_own_writes(events::partition_for(id, s_.log.partition_count()));
  }

  // The case, if it exists and is in the caller's scope; nullopt answers 404 either way.
  result<std::optional<core::case_state>> visible_case(const request_scope& sc,
                                                       const std::string& id) {
    if (auto w = await_own_writes(id); !w) return w.error();
    auto row = projections::case_reader(s_.store).get(case_id{id});
    if (!row) return row.error();
    if (!row.value() || !sc.who || !in_scope(*sc.who, row.value()->state))
      return std::optional<core::case_state>{};
    return std::optional<core::case_state>{std::move(row.value()->state)};
  }

  bool masked(const request_scope& sc) const { return !sc.who || !sees_phone(sc.who->role); }
  personal_view view(const request_scope& sc, bool available) const {
    return personal_view{masked(sc), !available};
  }

  // Opens the personal fields of a copy of a case's state (or of one of its events) for display:
  // true when opened, false when the case's text was shredded. A field that does not verify is
  // logged with the case id and the field's name (never a value) and answers 500.
  result<bool> open_personal(const request_scope& sc, core::case_state& s) {
    auto r = s_.privacy.open(s);
    if (!r) log_unverified(sc, s.id(), r.error());
    return r;
  }
  result<bool> open_personal(const request_scope& sc, const std::string& id,
                             std::string_view event_id, core::event& e) {
    auto r = s_.privacy.open(case_id{id}, event_id, e);
    if (!r) log_unverified(sc, id, r.error());
    return r;
  }
  // A sealed field whose tag does not verify (altered bytes, a wrong key, a field moved) is an
  // integrity failure: logged with the case id and the field's name (never a value) and counted
  // (caseline_integrity_failures_total). Other errors (the key store unreachable) are logged only.
  void log_unverified(const request_scope& sc, std::string_view id, const error& e) {
    if (integrity_failure(e)) integrity_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}", log_line("personal_data_unreadable",
                                 {{"case_id", valid_token_text(id, 64) ? id : "?"},
                                  {"correlation_id", sc.correlation_id},
                                  {"error", e.message()}}));
  }
  static bool integrity_failure(const error& e) {
    return e.code == events::errc::corrupt_record;
  }

  // Read-your-writes over every partition (lists and projections that span cases).
  result<void> await_all_writes() {
    for (std::int32_t p = 0; p < s_.log.partition_count(); ++p)
      if (auto w = await_own_writes(events::partition_id{p}); !w) return w.error();
    return success();
  }

  // --- operations ---------------------------------------------------------------------------

  void healthz(const scope_ptr&, responder done) { done(json_response(200, {{"status", "ok"}})); }

  void readyz(const scope_ptr&, responder done) {
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
    // A provisional year never makes the server unready: work goes on, deadlines are revised
    // when the notice is published.
    checks["calendar"] = "ok";
    if (const auto cal = s_.calendar.snapshot();
        cal && core::next_year_provisional(*cal, shanghai_date(s_.clock.now())))
      checks["calendar"] = "provisional next year";
    if (!ok)
      return done(problem_response(
          {503, "not-ready", "Service unavailable", "a dependency is not ready", "", ""}));
    done(json_response(200, {{"status", "ready"}, {"checks", checks}}));
  }

  void openapi(const scope_ptr&, responder done) {
    http_response r;
    r.body = std::string(openapi_document());
    done(std::move(r));
  }

  void metrics_text(const scope_ptr&, responder done) {
    std::vector<gauge_sample> gauges;
    double lag = 0;
    for (std::int32_t p = 0; p < s_.log.partition_count(); ++p) {
      auto end = s_.log.end_offset(events::partition_id{p});
      if (!end) return done(error_response(end.error()));
      lag += static_cast<double>(
          std::max<std::int64_t>(0, end.value()() - s_.runner.applied(events::partition_id{p})));
    }
    // One runner applies every projection in the same batch, so they share one lag.
    for (const auto& name : s_.projection_names)
      gauges.push_back({"caseline_projection_lag_records",
                        "Records in the log that the projection has not applied yet.", "gauge",
                        {{"projection", name}}, lag});
    gauges.push_back({"caseline_projection_events_applied_total",
                      "Events applied by the projection runner since start.", "counter", {},
                      static_cast<double>(s_.runner.events_applied())});
    if (const auto cal = s_.calendar.snapshot())
      gauges.push_back({"caseline_calendar_official_days_left",
                        "Days until the last day of the official calendar years (a State Council "
                        "notice loaded); deadlines counted past it are provisional.",
                        "gauge", {}, static_cast<double>(core::official_days_left(
                                         *cal, shanghai_date(s_.clock.now())))});
    gauges.push_back({"caseline_integrity_failures_total",
                      "Sealed personal fields or recordings that failed their authentication tag "
                      "when read (altered or damaged data).",
                      "counter", {},
                      static_cast<double>(integrity_failures_.load(std::memory_order_relaxed))});
    if (s_.connection_metrics)
      for (auto& g : s_.connection_metrics()) gauges.push_back(std::move(g));
    http_response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_.render(gauges);
    done(std::move(r));
  }

  // Submits a command and answers with the case after it (201 for receive). `written` runs once
  // the log holds the command, before the answer.
  void submit(const scope_ptr& sc, projections::command_request req, int status, responder done,
              std::function<void(const core::case_state&)> written = {}) {
    const auto submitted = std::chrono::steady_clock::now();
    req.correlation_id = sc->correlation_id;
    req.who = to_actor(*sc->who);
    req.idempotency = sc->idempotency;
    s_.writer.submit(std::move(req), [this, sc, status, submitted, done = std::move(done),
                                      written = std::move(written)](
                                         result<projections::command_outcome> r) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
      if (!r) {
        const auto p = to_problem(r.error());
        metrics_.observe_append(p.status >= 500 ? "failed" : "refused", seconds);
        return done(error_response(r.error(), sc->req.path));
      }
      metrics_.observe_append("ok", seconds);
      if (written) written(r.value().state);
      auto resp = render_case(*sc, r.value().state, status);
      done(resp ? std::move(resp).value() : error_response(resp.error(), sc->req.path));
    });
  }

  // The answer to a command: the case after it (201 and its Location for a new case), its
  // personal data opened for display and the read recorded.
  result<http_response> render_case(request_scope& sc, core::case_state st, int status) {
    auto opened = open_personal(sc, st);  // st is a copy: opened for display only
    if (!opened) return opened.error();
    if (auto rec = record_read(sc, st.id()); !rec) return rec.error();
    sc.sealed_for = st.id();
    auto resp = json_response(status, case_to_json(st, s_.clock.now(), view(sc, opened.value())));
    if (status == 201) resp.headers.emplace_back("Location", "/v1/cases/" + st.id());
    resp.headers.emplace_back("ETag", etag(st.version));
    return resp;
  }

  // A command's answer given again from the log: the case as it stands now (the index has been
  // caught up with the log, so the store holds the write), if the caller still sees it.
  result<http_response> case_answer(request_scope& sc, const std::string& id, int status) {
    auto row = projections::case_reader(s_.store).get(case_id{id});
    if (!row) return row.error();
    if (!row.value() || !sc.who || !in_scope(*sc.who, row.value()->state))
      return case_not_found(id);
    return render_case(sc, std::move(row.value()->state), status);
  }

  void receive(const scope_ptr& sc, responder done) {
    if (auto r = require_json(sc->req); !r) return done(error_response(r.error(), sc->req.path));
    std::optional<timestamp> occurred_at;
    auto cmd = parse_receive(sc->req.body, occurred_at);
    if (!cmd) return done(error_response(cmd.error(), sc->req.path));
    // The case's recording must have been uploaded, and belong to no other case.
    std::optional<std::string> recording;
    if (const auto& rec = cmd.value().recording) {
      if (auto ok = recordings_.claimable(rec->sha256, case_id{}); !ok) {
        const auto& e = ok.error();
        if (e.code == events::errc::not_found)
          return done(error_response(
              field_error("recording.sha256", "no such recording: upload it first (PUT /v1/recordings)"),
              sc->req.path));
        if (e.code == core::errc::invalid_argument)
          return done(error_response(
              field_error("recording.sha256", "the recording belongs to another case"), sc->req.path));
        return done(error_response(e, sc->req.path));
      }
      recording = rec->sha256;
    }
    projections::command_request req;
    req.cmd = std::move(cmd).value();
    req.occurred_at = occurred_at;
    // Once the case is in the log its recording is re-sealed under the case's key; should that
    // fail, the first fetch through the case claims it.
    auto claim = [this, sc, recording](const core::case_state& st) {
      if (!recording) return;
      if (auto c = recordings_.claim(*recording, st.id); !c)
        spdlog::error(
            R"({{"event":"recording_not_claimed","case_id":"{}","correlation_id":"{}","error":"{}"}})",
            st.id(), sc->correlation_id, c.error().message());
    };
    submit(sc, std::move(req), 201, std::move(done), std::move(claim));
  }

  void command(const scope_ptr& sc, responder done) {
    const std::string& id = sc->match.params.at("id");
    const std::string_view path = sc->match.matched->path;
    // What follows "/v1/cases/{id}/": "reply", "extension/approve".
    const std::string action(path.substr(path.find("{id}/") + 5));
    if (!sc->req.body.empty())
      if (auto r = require_json(sc->req); !r) return done(error_response(r.error(), sc->req.path));
    auto cmd = parse_case_command(action, sc->req.body);
    if (!cmd) return done(error_response(cmd.error(), sc->req.path));
    auto if_match = parse_if_match(sc->req);
    if (!if_match) return done(error_response(if_match.error(), sc->req.path));
    auto found = visible_case(*sc, id);
    if (!found) return done(error_response(found.error(), sc->req.path));
    if (!found.value()) return done(error_response(case_not_found(id), sc->req.path));
    projections::command_request req;
    req.id = case_id{id};
    req.cmd = std::move(cmd).value();
    req.if_match = if_match.value();
    submit(sc, std::move(req), 200, std::move(done));
  }

  void get_case(const scope_ptr& sc, responder done) {
    const std::string& id = sc->match.params.at("id");
    auto found = visible_case(*sc, id);
    if (!found) return done(error_response(found.error(), sc->req.path));
    if (!found.value()) return done(error_response(case_not_found(id), sc->req.path));
    auto& st = *found.value();
    auto opened = open_personal(*sc, st);
    if (!opened) return done(error_response(opened.error(), sc->req.path));
    if (auto rec = record_read(*sc, id); !rec) return done(error_response(rec.error(), sc->req.path));
    auto resp = json_response(200, case_to_json(st, s_.clock.now(), view(*sc, opened.value())));
    resp.headers.emplace_back("ETag", etag(found.value()->version));
    done(std::move(resp));
  }

  void get_events(const scope_ptr& sc, responder done) {
    const std::string& id = sc->match.params.at("id");
    const std::string& instance = sc->req.path;
    auto found = visible_case(*sc, id);
    if (!found) return done(error_response(found.error(), instance));
    if (!found.value()) return done(error_response(case_not_found(id), instance));
    auto locations = projections::case_reader(s_.store).locations(case_id{id});
    if (!locations) return done(error_response(locations.error(), instance));
    if (auto rec = record_read(*sc, id); !rec) return done(error_response(rec.error(), instance));
    json::array out;
    bool shredded = false;
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
      auto opened = open_personal(*sc, id, env.value().event_id, ev.value());
      if (!opened) return done(error_response(opened.error(), instance));
      shredded = shredded || !opened.value();
      out.emplace_back(event_to_json(env.value(), ev.value(), view(*sc, opened.value())));
    }
    done(json_response(200, {{"case_id", id},
                             {"personal_data", shredded ? "shredded" : "available"},
                             {"events", std::move(out)}}));
  }

  void list_cases(const scope_ptr& sc, responder done) {
    const auto& q = sc->req.query;
    static constexpr std::string_view known[] = {"center",   "status",        "unit",
                                                 "category", "domain",        "received_from",
                                                 "received_to", "cursor",     "limit"};
    for (const auto& [name, value] : q)
      if (std::find(std::begin(known), std::end(known), name) == std::end(known))
        return done(error_response(field_error(name, "unknown query parameter"), sc->req.path));
    auto param = [&](std::string_view n) -> std::string {
      auto v = sc->req.query_param(n);
      return v ? std::string(*v) : std::string();
    };
    projections::list_query lq;
    lq.scope = list_scope(*sc->who);
    const std::string center = param("center"), unit = param("unit"), status = param("status"),
                      category = param("category"), domain = param("domain");
    if (!status.empty() && !is_enum_name<core::case_status>(status))
      return done(error_response(field_error("status", "not a case status"), sc->req.path));
    if (!category.empty() && !is_enum_name<core::category>(category))
      return done(error_response(field_error("category", "not a category"), sc->req.path));
    if (!domain.empty() && !is_enum_name<core::domain>(domain))
      return done(error_response(field_error("domain", "not a domain"), sc->req.path));
    for (const char* n : {"received_from", "received_to"}) {
      const std::string v = param(n);
      if (v.empty()) continue;
      auto d = civil_date::parse(v);
      if (!d) return done(error_response(field_error(n, "must be YYYY-MM-DD"), sc->req.path));
      (std::string_view(n) == "received_from" ? lq.received_from : lq.received_to) = *d;
    }
    if (const std::string l = param("limit"); !l.empty()) {
      if (l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(l) < 1 || std::stoul(l) > 200)
        return done(error_response(field_error("limit", "must be 1 to 200"), sc->req.path));
      lq.limit = std::stoul(l);
    }
    lq.after = param("cursor");
    // Narrow the scanned range with the most selective index the caller's scope allows.
    if (lq.scope.unbounded() && !unit.empty())
      lq.scope = core::scope::of_unit(unit_id{unit});
    else if (lq.scope.unbounded() && !center.empty())
      lq.scope = core::scope::of_center(center_code{center});
    lq.keep = [=](const projections::case_summary& c) {
      return (center.empty() || c.center == center || c.owner_center == center) &&
             (unit.empty() || c.unit == unit) && (status.empty() || c.status == status) &&
             (category.empty() || c.category == category) && (domain.empty() || c.domain == domain);
    };
    if (auto w = await_all_writes(); !w) return done(error_response(w.error(), sc->req.path));
    auto page = projections::case_index_reader(s_.store).list(lq);
    if (!page) {
      if (page.error().code == core::errc::invalid_argument)
        return done(error_response(field_error("cursor", "not a cursor of this list"), sc->req.path));
      return done(error_response(page.error(), sc->req.path));
    }
    json::array items;
    for (const auto& c : page.value().items) items.emplace_back(summary_json(c));
    done(json_response(200, {{"items", std::move(items)},
                             {"next_cursor", page.value().next.empty()
                                                 ? json::value(nullptr)
                                                 : json::value(page.value().next)}}));
  }

  void get_status(const scope_ptr& sc, responder done) {
    int retry_after = 1;
    // Per client address: behind a trusted proxy, the address it forwarded.
    if (!status_limit_.allow(sc->req.client_key.empty() ? sc->req.client : sc->req.client_key,
                             retry_after)) {
      auto r = error_response(make_error(errc::too_many_requests, "per-address request rate"));
      r.headers.emplace_back("Retry-After", std::to_string(retry_after));
      return done(std::move(r));
    }
    const std::string& id = sc->match.params.at("id");
    const auto last4 = sc->req.query_param("phone_last4");
    if (!last4 || last4->size() != 4 || digits_of(*last4).size() != 4)
      return done(error_response(field_error("phone_last4", "must be 4 digits"), sc->req.path));
    if (auto w = await_own_writes(id); !w) return done(error_response(w.error(), sc->req.path));
    auto row = projections::case_reader(s_.store).get(case_id{id});
    if (!row && integrity_failure(row.error())) {
      log_unverified(*sc, id, row.error());
      return done(error_response(case_not_found(id), sc->req.path));
    }
    if (!row) return done(error_response(row.error(), sc->req.path));
    // A wrong id, a wrong phone, a shredded case (no phone left) and a damaged one answer the
    // same bytes.
    if (!row.value()) return done(error_response(case_not_found(id), sc->req.path));
    auto st = row.value()->state;
    auto opened = open_personal(*sc, st);
    // A damaged case answers as a missing one: this route needs no token, and "exists but
    // damaged" must not be learnt from it (the failure is logged and counted).
    if (!opened && integrity_failure(opened.error()))
      return done(error_response(case_not_found(id), sc->req.path));
    if (!opened) return done(error_response(opened.error(), sc->req.path));
    const std::string phone = digits_of(st.caller.phone);
    if (phone.size() < 4 || phone.substr(phone.size() - 4) != *last4)
      return done(error_response(case_not_found(id), sc->req.path));
    json::object deadlines{{"transfer_by", nullptr}, {"reply_by", nullptr}};
    for (const auto& d : core::deadlines(st, s_.clock.now()))
      deadlines[d.kind == core::deadline_kind::transfer ? "transfer_by" : "reply_by"] =
          json::object{{"due", d.due.to_string()},
                       {"state", core::to_string(d.state)},
                       {"provisional", d.basis.provisional}};
    auto date = [](const std::optional<civil_date>& d) {
      return d ? json::value(d->to_string()) : json::value(nullptr);
    };
    done(json_response(200, {{"id", id},
                             {"status", core::to_string(st.status)},
                             {"received_on", st.received_on.to_string()},
                             {"closed_on", date(st.closed_on)},
                             {"archived_on", date(st.archived_on)},
                             {"deadlines", std::move(deadlines)}}));
  }

  // The working-day calendar as the log has published it: a year with its notice is official,
  // one without is provisional; a year with no data at all is answered from the weekdays.
  result<int> calendar_year(const scope_ptr& sc) {
    const std::string& y = sc->match.params.at("year");
    if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos || y < "1971")
      return field_error("year", "must be YYYY");
    return std::stoi(y);
  }

  std::shared_ptr<const core::calendar> current_calendar() {
    auto cal = s_.calendar.snapshot();
    return cal ? cal : std::make_shared<const core::calendar>();
  }

  void get_calendar(const scope_ptr& sc, responder done) {
    auto year = calendar_year(sc);
    if (!year) return done(error_response(year.error(), sc->req.path));
    const auto cal = current_calendar();
    json::array days;
    int workdays = 0;
    for (civil_date d{year.value(), 1, 1}; d.year == year.value(); d = d.plus_days(1)) {
      auto kind = cal->kind(d);
      if (!kind) return done(error_response(kind.error(), sc->req.path));
      if (kind.value() == core::day_kind::workday || kind.value() == core::day_kind::makeup_workday)
        ++workdays;
      days.emplace_back(json::object{{"date", d.to_string()},
                                     {"kind", core::to_string(kind.value())},
                                     {"name", cal->name_of(d)}});
    }
    json::object o{{"year", year.value()},
                   {"status", core::to_string(cal->status(year.value()))},
                   {"provisional", cal->status(year.value()) != core::year_status::official},
                   {"source", cal->source(year.value())},
                   {"calendar", cal->version()},
                   {"workdays", workdays},
                   {"published_on", nullptr},
                   {"text", nullptr}};
    const auto years = s_.calendar.years();
    if (const auto it = years.find(year.value()); it != years.end()) {
      o["published_on"] = it->second.published_on.to_string();
      o["text"] = it->second.text;
    }
    o["days"] = std::move(days);
    done(json_response(200, std::move(o)));
  }

  // PUT /v1/calendar/{year}: the year's lines in the calendar data file format (text/plain).
  void publish_calendar(const scope_ptr& sc, responder done) {
    const auto ct = sc->req.header("content-type");
    if (!ct || !ct->starts_with("text/plain"))
      return done(error_response(make_error(errc::unsupported_media_type,
                                            "send the year's lines as Content-Type: text/plain"),
                                 sc->req.path));
    auto year = calendar_year(sc);
    if (!year) return done(error_response(year.error(), sc->req.path));
    const auto a = to_actor(*sc->who);
    auto p = s_.calendar_writer.publish(
        year.value(), sc->req.body,
        events::actor{a.id(), std::string(to_string(sc->who->role)), a.center(), a.unit()},
        sc->correlation_id);
    if (!p) return done(error_response(p.error(), sc->req.path));
    // Pending deadlines counted on the replaced year are revised in the background.
    if (p.value().changed && s_.clock_moved) s_.clock_moved();
    done(json_response(p.value().changed ? 201 : 200,
                       {{"year", year.value()},
                        {"status", core::to_string(current_calendar()->status(year.value()))},
                        {"calendar", p.value().calendar_version},
                        {"published_on", p.value().year.published_on.to_string()},
                        {"changed", p.value().changed}}));
  }

  void get_unit(const scope_ptr& sc, responder done) {
    const std::string& id = sc->match.params.at("id");
    const auto reg = s_.registry.snapshot();
    const core::unit_info* u = reg->unit(unit_id{id});
    if (!u) return done(error_response(make_error(errc::not_found, "unit " + id), sc->req.path));
    auto shown = opened_unit(*sc, *u);
    if (!shown) return done(error_response(shown.error(), sc->req.path));
    done(json_response(200, unit_json(shown.value())));
  }

  // A unit with its contact (personal data, sealed in the log and the registry rows) opened on
  // a copy for display; a contact that does not verify is logged and counted like a case field.
  result<core::unit_info> opened_unit(const request_scope& sc, core::unit_info u) {
    auto opened = s_.privacy.open(u);
    if (!opened) {
      if (integrity_failure(opened.error()))
        integrity_failures_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error(
          R"({{"event":"personal_data_unreadable","unit_id":"{}","correlation_id":"{}","error":"{}"}})",
          valid_token_text(u.id(), 64) ? u.id() : "?", sc.correlation_id, opened.error().message());
      return opened.error();
    }
    return u;
  }

  void put_unit(const scope_ptr& sc, responder done) {
    if (auto r = require_json(sc->req); !r) return done(error_response(r.error(), sc->req.path));
    const std::string& id = sc->match.params.at("id");
    auto e = parse_unit(unit_id{id}, sc->req.body);
    if (!e) return done(error_response(e.error(), sc->req.path));
    // The contact is sealed before it enters the log.
    if (auto sealed = s_.privacy.seal(e.value()); !sealed)
      return done(error_response(sealed.error(), sc->req.path));
    const auto a = to_actor(*sc->who);
    const principal who = *sc->who;
    auto u = s_.registry_writer.put(
        e.value(),
        events::actor{a.id(), std::string(to_string(sc->who->role)), a.center(), a.unit()},
        sc->correlation_id,
        [&](const core::registry& reg) { return may_register_unit(who, e.value(), reg); });
    if (!u) return done(error_response(u.error(), sc->req.path));
    auto shown = opened_unit(*sc, u.value());
    if (!shown) return done(error_response(shown.error(), sc->req.path));
    done(json_response(200, unit_json(shown.value())));
  }

  void list_centers(const scope_ptr&, responder done) {
    const auto reg = s_.registry.snapshot();
    json::array out;
    for (const auto& c : reg->centers()) {
      json::array units;
      for (const auto& u : reg->units_of(c.code)) units.emplace_back(u.id());
      out.emplace_back(json::object{
          {"code", c.code()},
          {"name", c.name},
          {"parent", c.parent ? json::value((*c.parent)()) : json::value(nullptr)},
          {"units", std::move(units)}});
    }
    done(json_response(200, {{"centers", std::move(out)}}));
  }

  void get_clock(const scope_ptr&, responder done) {
    done(json_response(200, {{"now", to_rfc3339_shanghai(s_.manual_clock->now())}}));
  }

  void set_clock(const scope_ptr& sc, responder done) {
    if (auto r = require_json(sc->req); !r) return done(error_response(r.error(), sc->req.path));
    auto t = parse_clock(sc->req.body);
    if (!t) return done(error_response(t.error(), sc->req.path));
    s_.manual_clock->set(t.value());
    done(json_response(200, {{"now", to_rfc3339_shanghai(s_.manual_clock->now())}}));
  }

  // --- bearer tokens (admin): created, listed and revoked while the server runs -------------

  static json::object token_json(const projections::token_info& t) {
    return {{"id", t.id},
            {"role", t.role},
            {"center", t.center},
            {"unit", t.unit.empty() ? json::value(nullptr) : json::value(t.unit)},
            {"created_at", to_rfc3339_shanghai(t.created_at)},
            {"expires", t.expires_at ? json::value(to_rfc3339_shanghai(*t.expires_at))
                                     : json::value(nullptr)}};
  }

  void create_token(const scope_ptr& sc, responder done) {
    if (auto r = require_json(sc->req); !r) return done(error_response(r.error(), sc->req.path));
    auto order = parse_token_order(sc->req.body);
    if (!order) return done(error_response(order.error(), sc->req.path));
    if (order.value().expires_at && order.value().expires_at->ms <= s_.clock.now().ms)
      return done(error_response(field_error("expires", "must be in the future"), sc->req.path));
    if (!s_.create_token) return done(error_response(make_error(errc::internal)));
    auto created = s_.create_token(order.value());
    if (!created) return done(error_response(created.error(), sc->req.path));
    // The secret is in this answer only; the log line names the token id, never the secret.
    spdlog::info(R"({{"event":"token_created","id":"{}","role":"{}","by":"{}"}})",
                 created.value().info.id, created.value().info.role, sc->who->token_id);
    auto body = token_json(created.value().info);
    body["token"] = created.value().secret;
    auto resp = json_response(201, body);
    resp.headers.emplace_back("Cache-Control", "no-store");
    done(std::move(resp));
  }

  void list_tokens(const scope_ptr& sc, responder done) {
    auto all = tokens_.list();
    if (!all) return done(error_response(all.error(), sc->req.path));
    const auto now = s_.clock.now();
    json::array items;
    for (const auto& t : all.value()) {
      auto o = token_json(t);
      o["expired"] = projections::expired(t, now);
      items.emplace_back(std::move(o));
    }
    done(json_response(200, {{"tokens", std::move(items)}}));
  }

  void revoke_token(const scope_ptr& sc, responder done) {
    const auto& id = sc->match.params.at("id");
    auto revoked = tokens_.revoke(id);
    if (!revoked) return done(error_response(revoked.error(), sc->req.path));
    if (!revoked.value())
      return done(problem_response({404, "not-found", "Not found", "no token with this id", "", ""}));
    spdlog::info(R"({{"event":"token_revoked","id":"{}","by":"{}"}})", id, sc->who->token_id);
    done(http_response{204, "", "", {}});
  }

  // --- work queues, deadlines, reports, retention and recordings (Art. 38-41) ---------------

  // The scope of a queue or deadline list: non-provincial center staff see their own center
  // (and the units registered with it), a unit token its own unit; the provincial center's staff
  // and auditors what they name. Asking for another's is 403 (the names are not secret).
  result<projections::scope> worklist_scope(const principal& p, const std::string& center,
                                            const std::string& unit) {
    if (!center.empty() && !is_center_code(center))
      return field_error("center", "must be a 6-digit GB/T 2260 code");
    if (!unit.empty() && !valid_token_text(unit, 64)) return field_error("unit", "not a unit id");
    return read_scope(p, operation::read_worklists, center, unit, *s_.registry.snapshot());
  }

  // The center a report is about: "" is province-wide. Non-provincial staff get their own
  // center's only.
  result<std::string> report_center(const principal& p, const std::string& center) {
    if (!center.empty() && !is_center_code(center))
      return field_error("center", "must be a 6-digit GB/T 2260 code");
    auto sc = read_scope(p, operation::read_reports, center, "", *s_.registry.snapshot());
    if (!sc) return sc.error();
    const auto named = sc.value().named_center();
    return named ? (*named)() : std::string();
  }

  // Answers a projection's rendered JSON (or its error) after this server's writes are applied.
  void answer_projection(const scope_ptr& sc, const responder& done,
                         const std::function<result<std::string>()>& render) {
    if (auto w = await_all_writes(); !w) return done(error_response(w.error(), sc->req.path));
    auto body = render();
    if (!body) return done(error_response(body.error(), sc->req.path));
    done(raw_json_response(std::move(body).value()));
  }

  void get_queue(const scope_ptr& sc, responder done) {
    const auto& q = sc->req;
    if (auto k = known_params(q, {"center", "unit", "cursor", "limit"}); !k)
      return done(error_response(k.error(), q.path));
    auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
    if (!scope) return done(error_response(scope.error(), q.path));
    if (scope.value().unbounded())
      return done(error_response(field_error("center", "a queue belongs to a center or a unit: "
                                                       "name one"),
                                 q.path));
    answer_projection(sc, done, [&] {
      return projections::queue_json(s_.store, sc->match.params.at("queue"), scope.value(),
                                     param(q, "cursor"), param(q, "limit"),
                                     shanghai_date(s_.clock.now()));
    });
  }

  void sla_overdue(const scope_ptr& sc, responder done) {
    const auto& q = sc->req;
    if (auto k = known_params(q, {"center", "unit"}); !k)
      return done(error_response(k.error(), q.path));
    auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
    if (!scope) return done(error_response(scope.error(), q.path));
    answer_projection(sc, done, [&] {
      return projections::sla_overdue_json(s_.store, *current_calendar(), s_.clock.now(),
                                           scope.value());
    });
  }

  void sla_due_soon(const scope_ptr& sc, responder done) {
    const auto& q = sc->req;
    if (auto k = known_params(q, {"within", "center", "unit"}); !k)
      return done(error_response(k.error(), q.path));
    auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
    if (!scope) return done(error_response(scope.error(), q.path));
    answer_projection(sc, done, [&] {
      return projections::sla_due_soon_json(s_.store, *current_calendar(), s_.clock.now(),
                                             param(q, "within"), scope.value());
    });
  }

  // The report routes share their checks: known parameters, then the caller's center.
  void report(const scope_ptr& sc, const responder& done,
              std::initializer_list<std::string_view> params,
              const std::function<result<std::string>(const core::registry&,
                                                      const std::string& center)>& render) {
    const auto& q = sc->req;
    if (auto k = known_params(q, params); !k) return done(error_response(k.error(), q.path));
    auto center = report_center(*sc->who, param(q, "center"));
    if (!center) return done(error_response(center.error(), q.path));
    const auto reg = s_.registry.snapshot();
    answer_projection(sc, done, [&] { return render(*reg, center.value()); });
  }

  void report_monthly(const scope_ptr& sc, responder done) {
    report(sc, done, {"center"}, [&](const core::registry& reg, const std::string& center) {
      return projections::report_monthly_json(s_.store, reg, sc->match.params.at("month"), center,
                                              assessment_weights_);
    });
  }

  void report_annual(const scope_ptr& sc, responder done) {
    report(sc, done, {"center"}, [&](const core::registry& reg, const std::string& center) {
      return projections::report_annual_json(s_.store, reg, sc->match.params.at("year"), center);
    });
  }

  void report_period(const scope_ptr& sc, responder done) {
    report(sc, done, {"from", "to", "center"},
           [&](const core::registry& reg, const std::string& center) {
             return projections::report_period_json(s_.store, reg, param(sc->req, "from"),
                                                    param(sc->req, "to"), center);
           });
  }

  void report_urgent(const scope_ptr& sc, responder done) {
    report(sc, done, {"center"}, [&](const core::registry& reg, const std::string& center) {
      return projections::report_urgent_json(s_.store, reg, sc->match.params.at("day"), center);
    });
  }

  // Art. 35: the matters reported to the department as overdue, for the department.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): the route table's handler signature
  void report_overdue(const scope_ptr& sc, responder done) {
    const auto& q = sc->req;
    const std::string unit = param(q, "unit");
    if (!unit.empty() && !valid_token_text(unit, 64))
      return done(error_response(field_error("unit", "not a unit id"), q.path));
    report(sc, done, {"from", "to", "center", "unit", "cursor", "limit"},
           [&](const core::registry& reg, const std::string& center) {
             return projections::report_overdue_json(s_.store, reg, param(q, "from"),
                                                     param(q, "to"), center, unit,
                                                     param(q, "cursor"), param(q, "limit"));
           });
  }

  // Art. 45: the provincial center assesses every city/county center; others do not see it.
  void report_assessment(const scope_ptr& sc, responder done) {
    const auto& q = sc->req;
    if (auto k = known_params(q, {}); !k) return done(error_response(k.error(), q.path));
    if (!reaches(*sc->who, operation::read_assessment))
      return done(error_response(
          make_error(errc::forbidden, "the assessment (Art. 45) is the provincial center's"),
          q.path));
    const auto reg = s_.registry.snapshot();
    answer_projection(sc, done, [&] {
      return projections::report_assessment_json(s_.store, *reg, sc->match.params.at("month"),
                                                 assessment_weights_);
    });
  }

  // Art. 38: auditors, and the provincial center's supervisors.
  void retention_audit(const scope_ptr& sc, responder done) {
    const auto& q = sc->req;
    if (auto k = known_params(q, {"as_of", "format"}); !k)
      return done(error_response(k.error(), q.path));
    if (!reaches(*sc->who, operation::retention_audit))
      return done(error_response(
          make_error(errc::forbidden,
                     "the retention audit is for auditors and the provincial center's supervisors"),
          q.path));
    civil_date as_of = shanghai_date(s_.clock.now());
    if (const auto a = param(q, "as_of"); !a.empty()) {
      const auto d = civil_date::parse(a);
      if (!d) return done(error_response(field_error("as_of", "must be YYYY-MM-DD"), q.path));
      as_of = *d;
    }
    const auto format = param(q, "format");
    if (!format.empty() && format != "json" && format != "text")
      return done(error_response(field_error("format", "json or text"), q.path));
    if (auto w = await_all_writes(); !w) return done(error_response(w.error(), q.path));
    auto audit = projections::audit_retention(s_.store, s_.retention, as_of, &s_.blobs, &s_.keys);
    if (!audit) return done(error_response(audit.error(), q.path));
    if (format == "text")
      return done(raw_json_response(projections::retention_audit_text(audit.value()),
                                    "text/plain; charset=utf-8"));
    done(raw_json_response(projections::retention_audit_json(audit.value())));
  }

  // The call's audio, stored content-addressed; the case refers to it by "blob:<sha256>".
  void put_recording(const scope_ptr& sc, responder done) {
    const auto ct = sc->req.header("content-type");
    const std::string_view type = ct ? ct->substr(0, ct->find(';')) : std::string_view{};
    if (!type.starts_with("audio/") && type != "application/octet-stream")
      return done(error_response(
          make_error(errc::unsupported_media_type,
                     "send the audio as Content-Type: audio/* or application/octet-stream"),
          sc->req.path));
    if (sc->req.body.empty())
      return done(error_response(field_error("body", "the audio is empty"), sc->req.path));
    // Staged, sealed under a key of its own, until the case that references it claims it.
    auto sha = recordings_.stage(sc->req.body);
    if (!sha) return done(error_response(sha.error(), sc->req.path));
    done(json_response(201, {{"sha256", sha.value()},
                             {"uri", "blob:" + sha.value()},
                             {"bytes", sc->req.body.size()}}));
  }

  // A call's audio is personal data, fetched through its case with the case's scope (a foreign
  // case is 404 exactly as a missing one); each fetch is recorded under the case.
  void get_recording(const scope_ptr& sc, responder done) {
    const std::string& id = sc->match.params.at("id");
    auto found = visible_case(*sc, id);
    if (!found) return done(error_response(found.error(), sc->req.path));
    if (!found.value()) return done(error_response(case_not_found(id), sc->req.path));
    const auto& st = *found.value();
    if (!st.recording)
      return done(error_response(make_error(errc::gone, "the case has no recording"), sc->req.path));
    if (st.recording_purged_on)
      return done(error_response(
          make_error(errc::gone, "the recording was purged when its retention ended (Art. 38)"),
          sc->req.path));
    const std::string sha = st.recording->sha256;
    auto bytes = recordings_.open(sha, st.id);
    if (!bytes) {
      if (bytes.error().code == events::errc::not_found)
        return done(error_response(
            make_error(errc::gone, "the recording is no longer stored or was shredded (Art. 38)"),
            sc->req.path));
      if (integrity_failure(bytes.error()))
        integrity_failures_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("{}", log_line("recording_unreadable",
                                   {{"case_id", valid_token_text(id, 64) ? id : "?"},
                                    {"correlation_id", sc->correlation_id},
                                    {"error", bytes.error().message()}}));
      return done(error_response(bytes.error(), sc->req.path));
    }
    if (auto rec = record_read(*sc, id); !rec)
      return done(error_response(rec.error(), sc->req.path));
    http_response r;
    r.content_type = "application/octet-stream";
    r.body = std::move(bytes).value();
    r.headers.emplace_back("ETag", "\"" + sha + "\"");
    done(std::move(r));
  }

  services s_;
  projections::token_store tokens_;
  projections::idempotency_store idempotency_;
  projections::access_log access_;
  rate_limiter token_limit_;
  rate_limiter status_limit_;
  const projections::assessment_weights assessment_weights_;
  gateway::metrics metrics_;
  std::mutex idem_mu_;
  std::map<std::string, in_flight> in_flight_;  // guarded by idem_mu_
  std::atomic<std::uint64_t> integrity_failures_{0};
  projections::recording_store recordings_{s_.blobs, s_.keys};
  std::atomic<bool> stopping_{false};  // stop(): requests are answered 503 from then on
  events::thread_pool pool_;                    // last: joined first
};

api::api(services s, api_options options)
    : impl_(std::make_unique<impl>(std::move(s), options)) {}
api::~api() = default;
void api::handle(http_request request, responder respond) {
  impl_->handle(std::move(request), std::move(respond));
}
void api::stop() { impl_->stop(); }

}  // namespace caseline::gateway
