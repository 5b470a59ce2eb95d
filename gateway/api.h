#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/calendar.h"
#include "core/decide.h"
#include "core/retention.h"
#include "events/event_log.h"
#include "gateway/command_json.h"
#include "gateway/http.h"
#include "gateway/metrics.h"
#include "gateway/peer_client.h"
#include "gateway/rate_limit.h"
#include "projections/assessment_weights.h"
#include "projections/blob_store.h"
#include "projections/calendar_projection.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "projections/registry_projection.h"
#include "projections/runner.h"
#include "projections/store.h"
#include "projections/token_store.h"

namespace caseline::storage {
class disk_guard;
}  // namespace caseline::storage

namespace caseline::gateway {

// What the API serves from. Borrowed: every one must outlive the api.
struct services {
  events::event_log& log;
  projections::store& store;
  projections::projection_runner& runner;
  projections::case_writer& writer;
  const projections::clock& clock;
  // The working-day calendar as the log publishes it, and its write side.
  projections::calendar_projection& calendar;
  projections::calendar_writer& calendar_writer;
  projections::registry_projection& registry;
  projections::registry_writer& registry_writer;
  // Set only with `serve --clock manual`: POST /v1/admin/clock exists only then.
  projections::manual_clock* manual_clock{nullptr};
  // The projections the runner feeds, for the lag metric.
  std::vector<std::string> projection_names;
  // Personal data: fields are sealed in the log and the store; the API opens them to show them.
  projections::personal_data& privacy;
  projections::blob_store& blobs;  // call audio
  const core::retention_policy& retention;
  projections::key_store& keys;
  // Called after POST /v1/admin/clock moved the manual clock, or a calendar year was published
  // (the reminders' periodic task runs again at once: deadline revision, then reminders).
  std::function<void()> clock_moved;
  // POST /v1/admin/tokens: checks the order like `caseline token create` and issues the token
  // through the log (by the admin named).
  std::function<result<projections::created_token>(const token_order&, const events::actor& by,
                                                   const std::string& correlation_id)>
      create_token{};
  // The write side of the tokens (revocation through the log); null: tokens are read-only.
  projections::token_writer* tokens{nullptr};
  // The data folder's disk reserve (events/storage/disk_guard.h): while it refuses, every
  // request that writes (any method but GET and HEAD) is answered 503 disk-full. Null: none.
  const storage::disk_guard* disk{nullptr};
  // Gauges of the server's other parts, for /metrics: the HTTP server's connection counters
  // (http_server::connection_metrics), the reminder task's counters.
  std::function<std::vector<gauge_sample>()> server_metrics{};
  // In a Kafka group (gateway/forwarding.h): which partitions this server decides commands for
  // now, which of them take new cases, and the advertised base URL of each partition's owner
  // (from its claim record) and of this server. Empty: no group, this server writes everything.
  // Called from the api's threads (writable() also by /readyz: it must not wait).
  std::function<bool(events::partition_id)> writes{};
  std::function<std::vector<events::partition_id>()> writable{};
  std::function<std::optional<std::string>(events::partition_id)> owner_url{};
  std::string self_url{};
  // How long a forward may hold a worker, and the keep-alive pool per owner.
  peer_options forwarding{};
};

struct api_options {
  unsigned threads{4};
  rate token_rate{50, 100};  // per bearer token: 429 beyond it
  rate status_rate{0.2, 10}; // GET /v1/status per client address (Art. 36: no token needed)
  // The Art. 45 assessment score's weights (GET /v1/reports/monthly province-wide, assessment).
  projections::assessment_weights assessment_weights;
};

// The REST API: authenticates bearer tokens, checks role and scope, routes requests to the write
// side and the projections, and renders answers. Handlers that may wait (for the log, for the
// projection) run on the api's own threads, never on the server's I/O threads; /healthz and
// /readyz never wait and are answered at once, and so is the hand-over of a new case to the
// writer when it waits for nothing (no Idempotency-Key, no Caseline-After, no group). So are the
// projection reads without Caseline-After outside a group once every write this server
// acknowledged is applied; one that races a new acknowledgement waits at most the projection's
// next batch on the I/O thread.
// Thread-safe.
//
// Lifecycle: stop() once the HTTP server stopped handing it requests; then the write side
// (whose commands in flight answer through the api's responders), then the api, then the
// server that owns the responders' connections may be destroyed.
class api {
 public:
  explicit api(services s, api_options options = {});
  ~api();
  // The server's request handler.
  void handle(http_request request, responder respond);
  // Stops taking requests: one that arrives later, or still waits for a worker, is answered 503
  // shutting-down. Returns once the workers finished the requests they hold (each is bounded by
  // its own waits). A command already handed to the writer is answered when the writer is done
  // with it (case_writer::drain). Idempotent.
  void stop();

  // The api's insides: the pipeline's state and the handlers. Named here so that the route
  // table (gateway/routes.cpp) can point at its handlers; defined in gateway/detail/api_impl.h,
  // which only the gateway's own files include.
  class impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace caseline::gateway
