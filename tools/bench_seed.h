#pragma once

// Seeding a benchmark's store through the write path itself, without HTTP in between: the
// commands go through a server_stack's case writer (decide, the real encoder, the log, the
// projection runner), so the log and the store are exactly what a serving server builds from
// the same commands — only the requests' parsing and answers are left out, which is what makes
// 10^5 and 10^6 cases practical to seed.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "projections/case_writer.h"
#include "tools/bench_server.h"

namespace caseline::projections {
class store;
}

namespace caseline::tools {

// Submits every request through `writer` with many in flight (projections::submit_windowed) and
// returns each one's outcome in the order given; the first failure, if any, instead.
result<std::vector<projections::command_outcome>> submit_all(
    projections::case_writer& writer, std::vector<projections::command_request> requests);

// Flushes every family of the store and waits, up to `timeout`, until RocksDB has no flush or
// compaction running or pending: what a read then costs is the settled store's, not that of a
// store still compacting its last writes. Returns how long it waited; errc::unavailable when the
// compactions did not end in time.
result<std::chrono::milliseconds> settle_store(projections::store& s,
                                               std::chrono::milliseconds timeout);

// What seed_received_cases did.
struct seeded_store {
  std::vector<std::string> ids;  // the cases' ids, in the order they were received
  std::uint64_t commands{0};     // the commands submitted, the receives included
  std::string admin_token;       // the bootstrap admin token, issued at the stack's first start
  double seconds{0};             // seeding, from the first command to the last answer
  double settle_seconds{0};      // settle_store after it
};

// Opens the server `o` describes in this process, exactly as `caseline serve` opens it on its
// first start (bench_server's settings: manual clock, no checkpoints, the rate limit out of the
// way; the calendar seed and the bootstrap token), receives `cases` phone calls for `center`
// through its writer (each with its own caller number and text), settles the store and stops the
// server (a graceful stop: the store holds every acknowledged command). A bench_server started
// on the same folder with `admin_token` serves them.
//
// With `histories`, each case then lives on as a center's archive holds it, by its number n
// (20,000 at a time, each step for all of them before the next): 5 % stay received (the
// to_classify queue), 5 % are classified and transferred to one of two units registered for the
// purpose (their replies due), 10 % are answered on the call and archived, and 80 % are
// classified, transferred, replied, revisited when the rules want it, and archived: about five
// events a case. Without it, every case has its one receive event.
result<seeded_store> seed_received_cases(const bench_server_options& o, std::uint64_t cases,
                                         const std::string& center, bool histories = false);

}  // namespace caseline::tools
