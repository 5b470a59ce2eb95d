#pragma once

// `caseline bench purge`: the Art. 38 retention purge of N eligible cases through a running
// server's API (POST /v1/admin/retention/purge, followed to its end), beside the write path's own
// command rate measured in the same run (seeding the same server through the same writer). A
// benchmark: it never fails CI.

#include <cstdint>
#include <ostream>
#include <string>

#include "core/result.h"
#include "projections/case_writer.h"

namespace caseline::tools {

struct bench_purge_options {
  std::uint64_t cases{100'000};
  std::int32_t partitions{8};
  std::string dir;  // working folder; default a fresh one under the temp dir
  std::string calendar_file;
};

// What seeding measured.
struct seeded_cases {
  std::uint64_t cases{0};
  std::uint64_t commands{0};
  double seconds{0};
};

// Receives `cases` phone calls for `center` through `writer`, answers each at once (revisited
// when the sample picks it, Art. 23, 46) and archives it, with many commands in flight: cases
// that become eligible for the Art. 38 purge once the clock is past their retention. Counts the
// commands and the time.
result<seeded_cases> seed_archived_cases(projections::case_writer& writer, std::uint64_t cases,
                                         const std::string& center);

// What a run measured, for `caseline bench all`.
struct bench_purge_figures {
  std::uint64_t cases{0};
  double purge_seconds{0};
  double purge_per_second{0};       // cases purged per second, through the API
  double write_path_per_second{0};  // commands per second while seeding, same writer and log
};

int run_bench_purge(const bench_purge_options& o, std::ostream& out, std::ostream& err,
                    bench_purge_figures* figures = nullptr);

}  // namespace caseline::tools
