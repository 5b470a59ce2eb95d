#pragma once

// The api's insides, shared by gateway/api.cpp (the pipeline: authenticate -> rate limit ->
// idempotency -> handler -> access log, and the helpers handlers share) and the handler files
// gateway/handlers/*.cpp (one per resource). Only those files include it. Beast and Asio stay
// out; Boost.JSON is only forward-declared here, so that a handler file that renders no JSON
// object does not pay for it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "core/authorization.h"
#include "core/case_state.h"
#include "core/result.h"
#include "events/record.h"
#include "events/thread_pool.h"
#include "gateway/api.h"
#include "gateway/auth.h"
#include "gateway/http.h"
#include "gateway/metrics.h"
#include "gateway/peer_client.h"
#include "gateway/problem.h"
#include "gateway/purge_jobs.h"
#include "gateway/rate_limit.h"
#include "gateway/routes.h"
#include "projections/access_log.h"
#include "projections/idempotency_index.h"
#include "projections/idempotency_store.h"
#include "projections/recordings.h"
#include "projections/token_store.h"

namespace caseline::projections {
struct report_request;  // projections/reports.h
}  // namespace caseline::projections

namespace caseline::gateway {

namespace json = boost::json;

struct personal_view;  // gateway/case_json.h

// How long a read waits for the projection to show this server's own acknowledged writes, or
// the positions a Caseline-After names.
inline constexpr std::chrono::seconds read_your_writes_timeout{5};

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
  // In a group: the partition a new case goes to (forwarding.cpp, write_partition).
  std::optional<events::partition_id> new_case_partition;
  // Every write this server acknowledged was applied when the request arrived (api::impl::handle
  // checked): read-your-writes asks it to wait for nothing, and a read answered on the I/O thread
  // must never wait there. A write acknowledged later is concurrent with the read.
  bool own_writes_applied_on_arrival = false;
  // Answered on the HTTP I/O thread that read it (api::impl::handle): its access entry may be
  // gathered with those of the other reads of the loop's turn (api::impl::answer_read).
  bool on_io_thread = false;
};

using scope_ptr = std::shared_ptr<request_scope>;

// A handler's responder: answers its request exactly once, from any thread, like the responder
// it wraps. fail() answers with the problem of an error (error_response), the request's path as
// its instance: `return done.fail(e);`. Hand it on with std::move where a responder is taken.
class answerer {
 public:
  answerer(responder respond, std::string instance)
      : respond_(std::move(respond)), instance_(std::move(instance)) {}
  void operator()(http_response r) const { respond_(std::move(r)); }
  void fail(const error& e) const { respond_(error_response(e, instance_)); }

 private:
  responder respond_;
  std::string instance_;
};

// What the route table's handlers are called on (routes.h); api::impl is the only one.
class api_handlers {
 protected:
  api_handlers() = default;
  ~api_handlers() = default;

 public:
  api_handlers(const api_handlers&) = delete;
  api_handlers& operator=(const api_handlers&) = delete;
};

// A POST with an Idempotency-Key that is being answered now: later duplicates wait for it.
struct in_flight {
  std::string request_hash;
  std::vector<responder> waiters;
};

// Helpers the handlers share, defined (and explained) in gateway/api.cpp.
http_response json_response(int status, const json::object& body);
// A body already written as JSON text (json_writer).
http_response json_text_response(int status, std::string body);
bool valid_token_text(std::string_view s, std::size_t max);
error case_not_found(const std::string& id);
result<void> require_json(const http_request& req);
std::string etag(std::uint64_t version);
// Adds Caseline-Position: where the write an answer reports is in the log (forwarding.cpp).
void with_position(http_response& r, events::log_position at);

// The API's state and its handlers. Each handler is a member, named by its route in the route
// table (gateway/routes.cpp) and defined in the handler file of its resource. Lifecycle and
// thread-safety as class api states: one instance, owned by api, used from the api's worker
// threads.
class api::impl : api_handlers {
 public:
  impl(services s, api_options o);

  void handle(http_request req, responder respond);
  void stop();

  // The route table (gateway/routes.cpp): every route with its handler.
  static std::span<const route> routes();

 private:
  using member_handler = void (impl::*)(const scope_ptr&, answerer);

  // A member handler as the route table holds it: called with an answerer for the request.
  template <member_handler Handler>
  static void handled_by(api_handlers& api, const scope_ptr& sc, responder done) {
    (static_cast<impl&>(api).*Handler)(sc, answerer{std::move(done), sc->req.path});
  }

  // --- the pipeline and shared helpers (gateway/api.cpp) ---------------------------------
  void dispatch(const scope_ptr& sc, responder done);
  // dispatch, answering 500 if the handler throws before it answered.
  void dispatch_guarded(const scope_ptr& sc, responder done);
  bool never_waits(const request_scope& sc) const;
  result<principal> authenticate(const http_request& req);
  void idempotent(const scope_ptr& sc, responder done, route_handler fn);
  result<std::optional<projections::keyed_write>> logged_write(const request_scope& sc,
                                                               bool creates);
  result<std::string> seal_answer(const request_scope& sc, std::string_view token,
                                  std::string_view key, const std::string& body);
  result<std::string> open_answer(const request_scope& sc, std::string_view token,
                                  std::string_view key, const projections::stored_answer& a);
  projections::access_entry access_entry_of(const request_scope& sc, const std::string& case_id);
  result<void> record_read(const request_scope& sc, const std::string& case_id);
  void answer_read(const request_scope& sc, const std::string& id, const answerer& done,
                   http_response resp);
  result<void> await_own_writes(const request_scope& sc, events::partition_id p);
  result<void> await_own_writes(const request_scope& sc, const std::string& id);
  result<std::optional<core::case_state>> visible_case(const request_scope& sc,
                                                       const std::string& id);
  bool masked(const request_scope& sc) const;
  personal_view view(const request_scope& sc, bool available) const;
  result<bool> open_personal(const request_scope& sc, core::case_state& s);
  // One event of case `id`, with the case's key looked up once for all its events.
  result<bool> open_personal(const request_scope& sc, const std::string& id,
                             const projections::personal_data::case_key& key,
                             std::string_view event_id, core::event& e);
  void log_unverified(const request_scope& sc, std::string_view id, const error& e);
  error history_missing(const request_scope& sc, std::string_view id);
  static bool integrity_failure(const error& e);
  result<void> await_all_writes(const request_scope& sc);
  void submit(const scope_ptr& sc, projections::command_request req, int status, responder done,
              std::function<void(const core::case_state&)> written = {});
  // `in_clear`: st's personal fields are already in the clear (the writer's answer to a new
  // case), not sealed.
  result<http_response> render_case(request_scope& sc, core::case_state st, int status,
                                    bool in_clear = false);
  // A written command's answer without its personal fields (personal_view::withheld), when
  // render_case failed for `why` after the write.
  result<http_response> written_answer(const request_scope& sc, const core::case_state& st,
                                       int status, const error& why);
  result<http_response> case_answer(request_scope& sc, const std::string& id, int status);
  std::shared_ptr<const core::calendar> current_calendar();

  // --- scale-out: where a write goes, forwarding, positions (gateway/forwarding.cpp) -------
  std::optional<events::partition_id> write_partition(request_scope& sc);
  // True when the request was answered here because another server writes its partition
  // (forwarded there, or 503 partition-moving); false: this server handles it.
  bool routed_elsewhere(const scope_ptr& sc, responder& done);
  void forward(const scope_ptr& sc, events::partition_id p, const std::string& owner,
               responder& done);
  result<void> await_positions(const request_scope& sc);
  // True when an unknown token's record may have been applied since the caller's lookup, with
  // or without a wait here (look again).
  bool await_token(const request_scope& sc);

  void answer_projection(const request_scope& sc, const answerer& done,
                         const std::function<result<json::object>()>& read);
  // The same for a body read as JSON text (json_writer: the list pages).
  void answer_projection_text(const request_scope& sc, const answerer& done,
                              const std::function<result<std::string>()>& read);

  // --- operations: health, readiness, the OpenAPI document, metrics (handlers/operations.cpp)
  void healthz(const scope_ptr&, answerer done);
  void readyz(const scope_ptr&, answerer done);
  void openapi(const scope_ptr&, answerer done);
  void metrics_text(const scope_ptr&, answerer done);

  // --- cases: receive, list, read, history, public status (handlers/cases.cpp) -------------
  void receive(const scope_ptr& sc, answerer done);
  void get_case(const scope_ptr& sc, answerer done);
  void get_events(const scope_ptr& sc, answerer done);
  void list_cases(const scope_ptr& sc, answerer done);
  void get_status(const scope_ptr& sc, answerer done);

  // --- commands on a case (handlers/commands.cpp) ---------------------------------------
  void command(const scope_ptr& sc, answerer done);

  // --- the working-day calendar and the registry of units (handlers/calendar_registry.cpp) -
  result<int> calendar_year(const scope_ptr& sc);
  void get_calendar(const scope_ptr& sc, answerer done);
  void publish_calendar(const scope_ptr& sc, answerer done);
  void get_unit(const scope_ptr& sc, answerer done);
  result<core::unit_info> opened_unit(const request_scope& sc, core::unit_info u);
  void put_unit(const scope_ptr& sc, answerer done);
  void list_centers(const scope_ptr&, answerer done);

  // --- admin: the manual clock, bearer tokens (handlers/admin.cpp) ------------------------
  void get_clock(const scope_ptr&, answerer done);
  void set_clock(const scope_ptr& sc, answerer done);
  void create_token(const scope_ptr& sc, answerer done);
  void list_tokens(const scope_ptr&, answerer done);
  void revoke_token(const scope_ptr& sc, answerer done);

  // --- work queues and deadline lists (handlers/worklists.cpp) -----------------------------
  result<core::scope> worklist_scope(const principal& p, const std::string& center,
                                     const std::string& unit);
  void get_queue(const scope_ptr& sc, answerer done);
  void sla_overdue(const scope_ptr& sc, answerer done);
  void sla_due_soon(const scope_ptr& sc, answerer done);

  // --- reports (handlers/reports.cpp) -----------------------------------------------------
  result<std::string> report_center(const principal& p, const std::string& center);
  result<json::object> report_body(const core::registry& reg,
                                   result<projections::report_request> req);
  void report(const scope_ptr& sc, const answerer& done,
              std::initializer_list<std::string_view> params,
              const std::function<result<json::object>(const core::registry&,
                                                       const std::string& center)>& read);
  void report_monthly(const scope_ptr& sc, answerer done);
  void report_annual(const scope_ptr& sc, answerer done);
  void report_period(const scope_ptr& sc, answerer done);
  void report_urgent(const scope_ptr& sc, answerer done);
  void report_overdue(const scope_ptr& sc, answerer done);
  void report_assessment(const scope_ptr& sc, answerer done);

  // --- the retention audit (handlers/retention.cpp) ---------------------------------------
  void retention_audit(const scope_ptr& sc, answerer done);

  // --- the retention purge as a job, fanned out to the owners (handlers/retention_purge.cpp)
  void start_purge(const scope_ptr& sc, answerer done);
  void get_purge(const scope_ptr& sc, answerer done);
  void run_purge(purge_job& job, const core::actor& purger, const std::string& authorization);
  purge_round purge_partitions(purge_job& job, const std::vector<events::partition_id>& asked,
                               const core::actor& purger,
                               const std::vector<std::pair<std::string, std::string>>& headers);
  void await_new_owners(const std::vector<purge_gap>& gaps,
                        std::chrono::steady_clock::time_point deadline,
                        const std::atomic<bool>& cancel);
  void save_purge(const purge_report& r);
  void forget_old_purges();

  // --- call recordings (handlers/recordings.cpp) ------------------------------------------
  void put_recording(const scope_ptr& sc, answerer done);
  void get_recording(const scope_ptr& sc, answerer done);

  services s_;
  projections::token_store tokens_;
  projections::idempotency_store idempotency_;
  projections::access_log access_;
  projections::access_gatherer reads_;  // the access entries of reads answered on I/O threads
  rate_limiter token_limit_;
  rate_limiter status_limit_;
  const projections::assessment_weights assessment_weights_;
  gateway::metrics metrics_;
  std::mutex idem_mu_;
  std::map<std::string, in_flight> in_flight_;  // guarded by idem_mu_
  std::atomic<std::uint64_t> integrity_failures_{0};
  std::atomic<std::size_t> next_writable_{0};  // round robin over writable() for new cases
  std::atomic<std::uint64_t> forwarded_answered_{0};
  std::atomic<std::uint64_t> forwarded_unreachable_{0};
  std::atomic<std::uint64_t> forwarded_unanswered_{0};
  std::atomic<std::uint64_t> forwarded_no_owner_{0};
  projections::recording_store recordings_{s_.blobs, s_.keys};
  peer_client peers_{s_.forwarding};   // the owners' connections (forwarding.cpp)
  std::atomic<bool> stopping_{false};  // stop(): requests are answered 503 from then on
  purge_jobs purges_;                  // stop() joins the running one before the writer goes
  events::thread_pool pool_;           // last: joined first
};

}  // namespace caseline::gateway
