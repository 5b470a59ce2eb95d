#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "events/event_log.h"
#include "events/log_reader.h"
#include "tools/serve.h"

namespace caseline::tools {

// ------------------------------------------------------- shared by audit, replay and rebuild

// open_log for the tools that only read: an embedded log that is not there is an error
// (bad_config), instead of a new empty log created under a mistyped --data. The embedded log is
// opened read-only (a RocksDB secondary instance), so this works while `caseline serve` holds
// it, and sees every record acknowledged before the open; Kafka is read as it is.
result<std::unique_ptr<events::event_log>> open_existing_log(const store_options& options);

// ------------------------------------------------------------------------- caseline audit verify

struct audit_options {
  store_options store;
  // Draw a progress bar on `err` (it is drawn only when `err` is a terminal anyway).
  bool progress{true};
};

// What audit verify found: the log's verification (events/log_reader.h), and the sealed fields.
struct audit_report {
  events::log_verification log;  // chains, records, checkpoints, the log itself
  // Sealed personal fields that fail their tag, in the log's events or the store's case rows
  // (checked only when the keys are at hand: sealed_fields). Shredded cases are not problems.
  events::problem_tally sealed;
  bool sealed_checked{false};

  bool clean() const { return log.clean() && sealed.count == 0; }
};

// What audit_log needs to open sealed fields: the case keys, and optionally the projection
// store whose case rows are checked too. Borrowed.
struct sealed_fields {
  projections::personal_data& privacy;
  projections::store* store{nullptr};
};

// events::verify_log (every chain, record and checkpoint of the log) and, with `sealed`, every
// sealed personal field of every case event, and of every stored case row, must open.
result<audit_report> audit_log(events::event_log& log,
                               const std::function<void(std::uint64_t done, std::uint64_t total)>&
                                   on_progress = {},
                               const sealed_fields* sealed = nullptr);

// `caseline audit verify`: audit_log over the log the options name, with a progress bar on `err`,
// and a summary on `out`; the sealed fields too when <data>/keys exists (the store must not be
// open elsewhere, else they are reported as not checked). Exit code: 0 clean, 1 a problem found, 2 the log could not be read.
int run_audit_verify(const audit_options& options, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
