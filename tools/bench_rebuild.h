#pragma once

// `caseline bench rebuild`: how fast the projections are rebuilt from the log, beside the raw
// consume rate of the same log and RocksDB's own batched write rate (db_bench fillbatch) on the
// same machine in the same run. A benchmark: it never fails CI.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "core/calendar.h"
#include "core/result.h"
#include "events/event_log.h"

namespace caseline::tools {

struct bench_rebuild_options {
  std::uint64_t events{1'000'000};  // at least this many events are generated
  std::int32_t partitions{8};
  std::string dir;                  // working folder; default a fresh one under the temp dir
  // Where the generated log is kept, outside `dir`: a run finding there the log of the same
  // events, partitions and seed (and generator) reuses it instead of generating it again; empty:
  // generated into `dir` and removed with it.
  std::string log_dir;
  std::string calendar_file;
  std::uint64_t seed{12328};
  std::string db_bench{"db_bench"};  // empty: skip it
  unsigned lanes{
      0};  // replay threads (projections::replay); 0: one per core, at most one per partition
};

struct generated_log {
  std::uint64_t cases{0};
  std::uint64_t records{0};
  std::uint64_t events{0};
};

// Appends realistic case histories (intake outcomes, classification, transfers, returns,
// extensions, late replies with their reminders, revisits, archiving) decided by core::decide
// from a seeded generator, until at least `events` events are in `log`. Deterministic: the same
// seed gives the same records in the same order.
result<generated_log> generate_log(events::event_log& log, const core::calendar& cal,
                                   std::uint64_t events, std::uint64_t seed);

// What a run measured, for `caseline bench all`.
struct bench_rebuild_figures {
  std::uint64_t events{0};
  unsigned lanes{1};                              // the replay's threads
  double events_per_second{0};                    // the rebuild
  double keys_per_event{0};                       // keys the rebuild wrote per event
  double raw_consume_per_second{0};               // reading and decoding the same log
  std::optional<double> db_bench_ops_per_second;  // db_bench fillbatch, when it ran
  // The target's bound: min(raw consume, db_bench keys/s ÷ keys per event).
  double bound_per_second() const;
};

int run_bench_rebuild(const bench_rebuild_options& o, std::ostream& out, std::ostream& err,
                      bench_rebuild_figures* figures = nullptr);

}  // namespace caseline::tools
