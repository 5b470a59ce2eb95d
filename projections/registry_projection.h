#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/registry.h"
#include "core/result.h"
#include "events/event_log.h"
#include "events/record.h"
#include "projections/clock.h"
#include "projections/projection.h"
#include "projections/reference_stream.h"
#include "projections/runner.h"
#include "projections/store.h"

namespace caseline::projections {

// The registry of centers and handling units (core::registry) as a projection of the registry
// events in the log: the Henan centers, plus every unit_registered event applied in log order.
// Rows: "unit/<id>" -> unit_info, "meta" -> (sequence, hash) of the registry stream's last event.
//
// snapshot() hands out an immutable copy that decisions read (core::context::reg); a committed
// batch publishes a new one. Lifecycle: construct (loads the stored rows) before the runner
// starts. apply* run on the runner's thread; snapshot() and head() from any thread.
class registry_projection final : public projection {
 public:
  explicit registry_projection(store& s);
  std::string_view name() const override { return "registry"; }
  void begin_batch() override;
  result<void> apply(const decoded_event&, rocksdb::WriteBatch&) override { return success(); }
  result<void> apply_registry(const decoded_registry_event& e, rocksdb::WriteBatch& batch) override;
  void end_batch(bool committed) override;

  std::shared_ptr<const core::registry> snapshot() const;
  stream_head head() const;
  // Fails when the stored rows cannot be read (the constructor loads them).
  const std::optional<error>& load_error() const { return load_error_; }

 private:
  store& store_;
  mutable std::mutex mu_;
  std::shared_ptr<const core::registry> current_;  // guarded by mu_
  stream_head head_;                               // guarded by mu_
  // The batch being applied (runner thread only).
  std::optional<core::registry> pending_;
  stream_head pending_head_;
  std::optional<error> load_error_;
};

// A unit as registered, and where its event is in the log.
struct registration {
  core::unit_info unit;
  events::log_position position;
};

// The write side of the registry: checks a registration against the current registry and
// appends it to the log under the key "registry" (one ordered stream), then waits until the
// projection has applied it, so the answer and every later decision see it. Registrations are
// serialised (one at a time). Thread-safe; every reference must outlive it.
class registry_writer {
 public:
  registry_writer(events::event_log& log, projection_runner& runner, registry_projection& reg,
                  const clock& clk)
      : log_(log), runner_(runner), registry_(reg), clock_(clk) {}

  // `allowed` (may be empty) is asked under the writer's lock against the registry the log
  // holds, so that the caller's permission cannot be checked against a unit that has moved.
  result<registration> put(const core::unit_registered& e, const events::actor& by,
                           const std::string& correlation_id,
                           const std::function<result<void>(const core::registry&)>& allowed = {});

  static constexpr const char* stream_key = "registry";

  // Checked before each append (reference_stream.h): a server alone on Kafka passes its claim's.
  // Set before the first write.
  void set_write_lease(write_lease lease) { lease_ = std::move(lease); }

 private:
  events::event_log& log_;
  projection_runner& runner_;
  registry_projection& registry_;
  const clock& clock_;
  write_lease lease_;
  std::mutex mu_;
};

}  // namespace caseline::projections
