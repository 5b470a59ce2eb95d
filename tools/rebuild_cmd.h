#pragma once

// `caseline rebuild [--verify]` as a library function (main.cpp wires it to CLI11, tests call
// it). Exit codes: 0 done (and, with --verify, identical), 1 a failure or a difference, 2 bad
// arguments.

#include <cstdint>
#include <ostream>
#include <string>

#include "projections/rebuild.h"
#include "tools/serve.h"

namespace caseline::tools {

struct rebuild_options {
  store_options store;
  std::string into;     // the fresh store; default <data>/rebuild (replaced if it exists)
  bool verify{false};   // rebuild up to the live store's offsets, then compare key by key
  bool progress{true};  // a progress line on `err`
  // Records between two flushes of the fresh store (written without the WAL): the most a crash
  // loses, to be replayed again from the stored offsets.
  std::uint64_t checkpoint_records{projections::replay_checkpoint_records};
  // Replay threads, each taking its share of the partitions (projections::replay); 0: one per
  // core, at most one per partition.
  unsigned lanes{0};
};

// Replays the log from offset 0 into a fresh store with every log-derived projection
// (projections::projection_set), printing progress and events per second. With verify, the
// replay stops at the offsets the live store (<data>/store, opened read-only) has applied, and
// every log-derived family is compared key by key and byte by byte. Runs beside a running server:
// the log and the live store are opened read-only (secondary instances), the live store once, so
// that its offsets and rows are of one moment; only the fresh store is written.
int run_rebuild(const rebuild_options& o, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
