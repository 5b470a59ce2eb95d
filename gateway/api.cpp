#include "gateway/api.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/errc.h"
#include "core/log_line.h"
#include "events/errc.h"
#include "events/field_crypto.h"
#include "events/storage/disk_guard.h"
#include "gateway/case_json.h"
#include "gateway/detail/api_impl.h"
#include "gateway/detail/io_thread.h"
#include "gateway/forwarding.h"
#include "gateway/json_text.h"
#include "projections/access_log.h"
#include "projections/case_projection.h"
#include "projections/errc.h"

namespace caseline::gateway {

namespace {

// How long a command with an Idempotency-Key waits for the key index to hold the log's end.
constexpr std::chrono::seconds idempotency_catch_up_timeout{10};

// The answer to a request that arrives while the server stops (the client retries elsewhere or
// later; nothing was written).
http_response shutting_down() {
  return error_response(make_error(projections::errc::shutting_down,
                                   "the server is shutting down; nothing was written"));
}

std::string new_correlation_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

// The event id an idempotent answer is sealed under: short (seal_field takes at most 255 bytes)
// and never the id of a case event.
std::string answer_seal_id(std::string_view token, std::string_view key) {
  return "answer:" +
         events::to_hex(events::sha256(std::string(token) + '\0' + std::string(key))).substr(0, 32);
}
constexpr std::string_view answer_field = "answer.body";

// The reads of the projections that are answered on the calling (I/O) thread when they wait
// for nothing (api::impl::handle): they read the store and render, and never wait on the log.
bool projection_read(const route& r) {
  static constexpr std::array<std::string_view, 5> names{"get_case", "get_case_events", "get_queue",
                                                         "sla_overdue", "sla_due_soon"};
  return r.method == "GET" && std::find(names.begin(), names.end(), r.name) != names.end();
}

// Whether the projections hold every write this server acknowledged: then read-your-writes asks
// a read to wait for nothing. A write acknowledged after this look is concurrent with the read.
bool own_writes_applied(const services& s) {
  for (std::int32_t p = 0; p < s.log.partition_count(); ++p) {
    const events::partition_id q{p};
    const auto acked = s.writer.last_acked(q);
    if (acked >= 0 && s.runner.applied(q) <= acked) return false;
  }
  return true;
}

// Answers `resp` once the access entries recorded for it are written: at once when no batch is
// open on this thread (projections::access_batch); when their write failed, its problem instead.
void answer_when_recorded(responder done, http_response resp, std::string instance) {
  projections::access_batch::after_recorded(
      [done = std::move(done), resp = std::move(resp),
       instance = std::move(instance)](result<void> recorded) mutable {
        if (!recorded) return done(error_response(recorded.error(), instance));
        done(std::move(resp));
      });
}

}  // namespace

http_response json_response(int status, const json::object& body) {
  return json_text_response(status, json_text(body));
}

http_response json_text_response(int status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
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

std::string etag(std::uint64_t version) { return fmt::format("\"{}\"", version); }

api::impl::impl(services s, api_options o)
    : s_(std::move(s)),
      tokens_(s_.store, s_.tokens),
      idempotency_(s_.store),
      access_(s_.store),
      reads_(s_.store),
      token_limit_(o.token_rate),
      status_limit_(o.status_rate),
      assessment_weights_(o.assessment_weights),
      pool_(o.threads, "api-work") {}

void api::impl::handle(http_request req, responder respond) {
  const auto started = std::chrono::steady_clock::now();
  auto sc = std::make_shared<request_scope>();
  sc->req = std::move(req);
  const auto given = sc->req.header("x-correlation-id");
  sc->correlation_id =
      given && valid_token_text(*given, 64) ? std::string(*given) : new_correlation_id();
  sc->match = match_route(sc->req.method, sc->req.path);
  // Without `--clock manual` the clock routes do not exist.
  if (sc->match.matched && !s_.manual_clock &&
      sc->match.matched->available == route::availability::manual_clock)
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
    spdlog::info("{}", log_line("request", {{"method", valid_token_text(sc->req.method, 16)
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
  // A new case that waits for nothing is handed to the writer from here: a hop to a worker
  // would cost more than the handler does.
  if (never_waits(*sc)) return dispatch_guarded(sc, std::move(done));
  // So is a read of the projections that waits for nothing either: no Caseline-After, no group
  // (no token or write of another server to wait for), this server's writes applied. On two
  // cores the two thread hand-offs of a worker cost more than such a read.
  if (sc->match.matched && projection_read(*sc->match.matched) && !s_.writes &&
      !sc->req.header("caseline-after") && own_writes_applied(s_)) {
    sc->own_writes_applied_on_arrival = true;
    sc->on_io_thread = true;
    return dispatch_guarded(sc, std::move(done));
  }
  // The task holds the only copy of `done`: a pool that no longer runs tasks answers here.
  auto task = std::make_shared<responder>(std::move(done));
  if (!pool_.post([this, sc, task] {
        if (stopping_.load()) return (*task)(shutting_down());
        dispatch_guarded(sc, [task](http_response r) { (*task)(std::move(r)); });
      }))
    (*task)(shutting_down());
}

// A handler that throws is answered 500 here, unless it answered (or handed its responder on)
// before it threw: `once` lets only the first answer through, so that no connection is written
// twice.
void api::impl::dispatch_guarded(const scope_ptr& sc, responder done) {
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto shared = std::make_shared<responder>(std::move(done));
  responder once = [answered, shared](http_response r) {
    if (!answered->exchange(true)) (*shared)(std::move(r));
  };
  try {
    dispatch(sc, once);
  } catch (const std::exception& ex) {
    spdlog::error("{}", log_line("handler_exception",
                                 {{"correlation_id", sc->correlation_id}, {"what", ex.what()}}));
    once(error_response(make_error(errc::internal)));
  }
}

// Whether a request can be handled on the calling (I/O) thread: POST /v1/cases that waits for
// nothing. Authentication, the rate limit, parsing and the writer's submit never wait; the
// writer decides a new case without waiting too (case_writer::submit). With an Idempotency-Key
// the request waits for the key index, with Caseline-After for the projection, and in a group
// it may be forwarded to a peer: those go to a worker.
bool api::impl::never_waits(const request_scope& sc) const {
  constexpr route_handler receive_handler = handled_by<&impl::receive>;
  return sc.match.matched && sc.match.matched->handler == receive_handler && !s_.writes &&
         !sc.req.header("idempotency-key") && !sc.req.header("caseline-after");
}

void api::impl::stop() {
  stopping_.store(true);
  pool_.shutdown();
  purges_.stop();
}

void api::impl::dispatch(const scope_ptr& sc, responder done) {
  const auto& m = sc->match;
  if (!m.matched) {
    if (m.allow.empty())
      return done(
          problem_response({404, "not-found", "Not found", "no route for this path", "", ""}));
    auto r = problem_response(
        {405, "method-not-allowed", "Method not allowed", "allowed: " + m.allow, "", ""});
    r.headers.emplace_back("Allow", m.allow);
    return done(std::move(r));
  }
  const route& rt = *m.matched;
  if (rt.op) {
    auto who = authenticate(sc->req);
    // A token made on another server of the group moments ago (see await_token).
    if (!who && await_token(*sc)) who = authenticate(sc->req);
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
  // In a group, a write whose partition another server writes is that server's to answer.
  if (routed_elsewhere(sc, done)) return;
  // Nothing is written while the data folder's disk is below its reserve; reads go on.
  if (s_.disk && s_.disk->refusing() && rt.method != "GET" && rt.method != "HEAD")
    return done(error_response(s_.disk->refusal(), sc->req.path));
  // Health and readiness never wait.
  if (rt.op || rt.name == "get_status")
    if (auto w = await_positions(*sc); !w) return done(error_response(w.error(), sc->req.path));
  if (rt.method == "POST" && sc->req.header("idempotency-key"))
    return idempotent(sc, std::move(done), rt.handler);
  rt.handler(*this, sc, std::move(done));
}

result<principal> api::impl::authenticate(const http_request& req) {
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

void api::impl::idempotent(const scope_ptr& sc, responder done, route_handler fn) {
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
      auto put = body ? idempotency_.put(
                            token, key,
                            {hash, r.status, r.content_type, std::move(body).value(), r.headers})
                      : result<void>(body.error());
      if (!put) {
        spdlog::error("{}",
                      log_line("idempotency_store_failed", {{"error", put.error().message()}}));
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
  constexpr route_handler receive_handler = handled_by<&impl::receive>;
  if (fn == receive_handler || fn == handled_by<&impl::command>) {
    sc->idempotency = events::idempotency_mark{events::idempotency_key_hash(token, key), hash};
    const bool creates = fn == receive_handler;
    auto first = logged_write(*sc, creates);
    if (!first) return finish(error_response(first.error(), sc->req.path), false, false);
    if (first.value()) {
      if (first.value()->request_hash != hash)
        return finish(error_response(make_error(errc::idempotency_key_reused, key), sc->req.path),
                      false, false);
      auto answer = case_answer(*sc, first.value()->id(), creates ? 201 : 200);
      if (!answer) return finish(error_response(answer.error(), sc->req.path), false, false);
      with_position(answer.value(), first.value()->position);
      return finish(std::move(answer).value(), true, true);
    }
  }
  fn(*this, sc,
     [finish = std::move(finish)](http_response r) mutable { finish(std::move(r), true, false); });
}

// The first write of this request's key, from the key index, once the index holds every
// record that could carry the key: those of the case's partition for a command on a case, of
// every partition for a new case (its id, hence its partition, is not known before).
result<std::optional<projections::keyed_write>> api::impl::logged_write(const request_scope& sc,
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
result<std::string> api::impl::seal_answer(const request_scope& sc, std::string_view token,
                                           std::string_view key, const std::string& body) {
  if (sc.sealed_for.empty()) return body;
  auto k = s_.keys.get(case_id{sc.sealed_for});
  if (!k) return k.error();
  if (!k.value()) return body;  // shredded: the answer holds no personal data
  return events::seal_field(*k.value(), sc.sealed_for, answer_seal_id(token, key), answer_field,
                            body);
}

result<std::string> api::impl::open_answer(const request_scope& sc, std::string_view token,
                                           std::string_view key,
                                           const projections::stored_answer& a) {
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

projections::access_entry api::impl::access_entry_of(const request_scope& sc,
                                                     const std::string& case_id) {
  return {s_.clock.now(),
          sc.who ? sc.who->token_id : "",
          sc.who ? std::string(to_string(sc.who->role)) : "",
          case_id,
          sc.route_name,
          sc.correlation_id};
}

// Every read of a case's personal data is recorded before it is shown: its answer waits for
// the record (answer_when_recorded, answer_read).
result<void> api::impl::record_read(const request_scope& sc, const std::string& case_id) {
  return access_.record(access_entry_of(sc, case_id));
}

// Records the read of case `id` and answers `resp` once the record is written. A read answered
// on an I/O thread has its entry written with those of the other reads the server's loops have
// ready (projections::access_gatherer): the first one staged defers the write behind them, so
// under load the entries of a loop's turn take one write instead of one each, and a lone read
// waits for nothing more than its own write. Elsewhere the entry is written at once.
void api::impl::answer_read(const request_scope& sc, const std::string& id, const answerer& done,
                            http_response resp) {
  if (!sc.on_io_thread) {
    if (auto rec = record_read(sc, id); !rec) return done.fail(rec.error());
    return answer_when_recorded([done](http_response r) { done(std::move(r)); }, std::move(resp),
                                sc.req.path);
  }
  auto answer = [done, resp = std::move(resp)](result<void> recorded) mutable {
    if (!recorded) return done.fail(recorded.error());
    done(std::move(resp));
  };
  if (reads_.stage(access_entry_of(sc, id), std::move(answer)) &&
      !defer_on_io_thread([this] { reads_.write(); }))
    reads_.write();
}

// Read-your-writes: wait until the projection holds this server's acknowledged writes to the
// partition.
result<void> api::impl::await_own_writes(const request_scope& sc, events::partition_id p) {
  if (sc.own_writes_applied_on_arrival) return success();
  const auto acked = s_.writer.last_acked(p);
  if (acked < 0) return success();
  if (!s_.runner.wait_applied({p, events::log_offset{acked}}, read_your_writes_timeout))
    return s_.runner.not_applied(make_error(errc::not_ready, "the projection is behind the log"));
  return success();
}

result<void> api::impl::await_own_writes(const request_scope& sc, const std::string& id) {
  return await_own_writes(sc, events::partition_for(id, s_.log.partition_count()));
}

// The case, if it exists and is in the caller's scope; nullopt answers 404 either way.
result<std::optional<core::case_state>> api::impl::visible_case(const request_scope& sc,
                                                                const std::string& id) {
  if (auto w = await_own_writes(sc, id); !w) return w.error();
  auto row = projections::case_reader(s_.store).get(case_id{id});
  if (!row) return row.error();
  if (!row.value() || !sc.who || !in_scope(*sc.who, row.value()->state))
    return std::optional<core::case_state>{};
  return std::optional<core::case_state>{std::move(row.value()->state)};
}

bool api::impl::masked(const request_scope& sc) const {
  return !sc.who || !sees_phone(sc.who->role);
}

personal_view api::impl::view(const request_scope& sc, bool available) const {
  return personal_view{masked(sc), !available};
}

// Opens the personal fields of a copy of a case's state (or of one of its events) for display:
// true when opened, false when the case's text was shredded. A field that does not verify is
// logged with the case id and the field's name (never a value) and answers 500.
result<bool> api::impl::open_personal(const request_scope& sc, core::case_state& s) {
  auto r = s_.privacy.open(s);
  if (!r) log_unverified(sc, s.id(), r.error());
  return r;
}

result<bool> api::impl::open_personal(const request_scope& sc, const std::string& id,
                                      const projections::personal_data::case_key& key,
                                      std::string_view event_id, core::event& e) {
  auto r = s_.privacy.open(case_id{id}, key, event_id, e);
  if (!r) log_unverified(sc, id, r.error());
  return r;
}

// A sealed field whose tag does not verify (altered bytes, a wrong key, a field moved) is an
// integrity failure: logged with the case id and the field's name (never a value) and counted
// (caseline_integrity_failures_total). Other errors (the key store unreachable) are logged only.
void api::impl::log_unverified(const request_scope& sc, std::string_view id, const error& e) {
  if (integrity_failure(e)) integrity_failures_.fetch_add(1, std::memory_order_relaxed);
  spdlog::error(
      "{}", log_line("personal_data_unreadable", {{"case_id", valid_token_text(id, 64) ? id : "?"},
                                                  {"correlation_id", sc.correlation_id},
                                                  {"error", e.message()}}));
}

bool api::impl::integrity_failure(const error& e) { return e.code == events::errc::corrupt_record; }

// A case whose row is in the store but none of its history's rows: an integrity failure of the
// store (counted as a damaged field is), answered 500, never 404 (the case exists).
error api::impl::history_missing(const request_scope& sc, std::string_view id) {
  integrity_failures_.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("{}",
                log_line("case_history_missing", {{"case_id", valid_token_text(id, 64) ? id : "?"},
                                                  {"correlation_id", sc.correlation_id}}));
  return make_error(events::errc::corrupt_record,
                    "the case's history is missing from the projection store; `caseline rebuild` "
                    "restores it from the log");
}

// Read-your-writes over every partition (lists and projections that span cases).
result<void> api::impl::await_all_writes(const request_scope& sc) {
  if (sc.own_writes_applied_on_arrival) return success();
  for (std::int32_t p = 0; p < s_.log.partition_count(); ++p)
    if (auto w = await_own_writes(sc, events::partition_id{p}); !w) return w.error();
  return success();
}

// Submits a command and answers with the case after it (201 for receive). `written` runs once
// the log holds the command, before the answer.
void api::impl::submit(const scope_ptr& sc, projections::command_request req, int status,
                       responder done, std::function<void(const core::case_state&)> written) {
  const auto submitted = std::chrono::steady_clock::now();
  req.correlation_id = sc->correlation_id;
  req.who = to_actor(*sc->who);
  req.idempotency = sc->idempotency;
  if (!req.id && sc->new_case_partition) req.partition = sc->new_case_partition;
  s_.writer.submit(
      std::move(req),
      [this, sc, status, submitted, done = std::move(done),
       written = std::move(written)](result<projections::command_outcome> r) mutable {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
        if (!r) {
          const auto p = to_problem(r.error());
          metrics_.observe_append(p.status >= 500 ? "failed" : "refused", seconds);
          return done(error_response(r.error(), sc->req.path));
        }
        metrics_.observe_append("ok", seconds);
        if (written) written(r.value().state);
        auto& outcome = r.value();
        auto resp = outcome.shown ? render_case(*sc, std::move(*outcome.shown), status, true)
                                  : render_case(*sc, outcome.state, status);
        // The command is in the log: its answer says so even when its personal fields cannot
        // be shown (their read not recorded, e.g. on a full disk) — never an error that a
        // client would retry into a second case.
        if (!resp) resp = written_answer(*sc, outcome.state, status, resp.error());
        // Where the write is in the log: a read on any server of the group may wait for it
        // (Caseline-After).
        if (const auto& at = r.value().position) with_position(resp.value(), *at);
        // On a writer thread the answer waits for its access entry, written with those of the
        // other answers of its burst (projections::access_batch); elsewhere it goes at once.
        answer_when_recorded(std::move(done), std::move(resp).value(), sc->req.path);
      });
}

// The answer to a command: the case after it (201 and its Location for a new case), its
// personal data opened for display and the read recorded.
result<http_response> api::impl::render_case(request_scope& sc, core::case_state st, int status,
                                             bool in_clear) {
  auto opened = in_clear ? result<bool>(true) : open_personal(sc, st);  // st: a copy, for display
  if (!opened) return opened.error();
  if (auto rec = record_read(sc, st.id()); !rec) return rec.error();
  sc.sealed_for = st.id();
  auto resp = json_text_response(status, case_json(st, s_.clock.now(), view(sc, opened.value())));
  if (status == 201) resp.headers.emplace_back("Location", "/v1/cases/" + st.id());
  resp.headers.emplace_back("ETag", etag(st.version));
  return resp;
}

result<http_response> api::impl::written_answer(const request_scope& sc, const core::case_state& st,
                                                int status, const error& why) {
  spdlog::warn("{}", log_line("answer_withheld", {{"correlation_id", sc.correlation_id},
                                                  {"case", st.id()},
                                                  {"error", why.message()}}));
  personal_view v = view(sc, true);
  v.withheld = true;
  auto resp = json_text_response(status, case_json(st, s_.clock.now(), v));
  if (status == 201) resp.headers.emplace_back("Location", "/v1/cases/" + st.id());
  resp.headers.emplace_back("ETag", etag(st.version));
  return resp;
}

// A command's answer given again from the log: the case as it stands now (the index has been
// caught up with the log, so the store holds the write), if the caller still sees it.
result<http_response> api::impl::case_answer(request_scope& sc, const std::string& id, int status) {
  auto row = projections::case_reader(s_.store).get(case_id{id});
  if (!row) return row.error();
  if (!row.value() || !sc.who || !in_scope(*sc.who, row.value()->state)) return case_not_found(id);
  return render_case(sc, std::move(row.value()->state), status);
}

std::shared_ptr<const core::calendar> api::impl::current_calendar() {
  auto cal = s_.calendar.snapshot();
  return cal ? cal : std::make_shared<const core::calendar>();
}

// Answers what a projection read, as JSON (or its error), after this server's writes are
// applied.
void api::impl::answer_projection(const request_scope& sc, const answerer& done,
                                  const std::function<result<json::object>()>& read) {
  answer_projection_text(sc, done, [&]() -> result<std::string> {
    auto body = read();
    if (!body) return body.error();
    return json_text(body.value());
  });
}

void api::impl::answer_projection_text(const request_scope& sc, const answerer& done,
                                       const std::function<result<std::string>()>& read) {
  if (auto w = await_all_writes(sc); !w) return done.fail(w.error());
  auto body = read();
  if (!body) return done.fail(body.error());
  http_response r;
  r.body = std::move(body).value();
  done(std::move(r));
}

api::api(services s, api_options options) : impl_(std::make_unique<impl>(std::move(s), options)) {}
api::~api() = default;
void api::handle(http_request request, responder respond) {
  impl_->handle(std::move(request), std::move(respond));
}
void api::stop() { impl_->stop(); }

}  // namespace caseline::gateway
