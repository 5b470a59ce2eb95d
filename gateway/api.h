#pragma once

#include <memory>

#include "core/calendar.h"
#include "core/decide.h"
#include "events/event_log.h"
#include "gateway/http.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/runner.h"
#include "projections/store.h"

namespace caseline::gateway {

// What the API serves from. Borrowed: every one must outlive the api.
struct services {
  events::event_log& log;
  projections::store& store;
  projections::projection_runner& runner;
  projections::case_writer& writer;
  const projections::clock& clock;
};

// The REST API: routes requests to the write side and the projections, and renders answers.
// Handlers that may wait (for the log, for the projection) run on the api's own threads, never
// on the server's I/O threads. Thread-safe.
class api {
 public:
  explicit api(services s, unsigned threads = 4);
  ~api();
  // The server's request handler.
  void handle(http_request request, responder respond);

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace caseline::gateway
