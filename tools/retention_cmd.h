#pragma once

#include <iosfwd>
#include <string>

#include "tools/serve.h"

namespace caseline::tools {

struct retention_options {
  store_options store;
  std::string as_of;          // YYYY-MM-DD (Asia/Shanghai); default today
  std::string format{"text"}; // audit: text | json
  bool dry_run{false};        // purge: only list
  std::string user{"retention-job"};
  // purge through a running server (POST /v1/admin/retention/purge): its base URL and an admin
  // token. Empty url: on the stopped server's data folder.
  std::string url;
  std::string token;
};

// `caseline retention audit`: every recording and text with its retain-until date and status,
// every purge (who, when), every refused attempt and legal hold, and the verdict that nothing was
// purged before its retain-until date. Exit 0 when the verdict holds, 1 when it does not, 2 for
// bad options or a store that cannot be opened. Needs the store not to be open elsewhere
// (embedded log: stop the server, or use GET /v1/retention/audit).
int run_retention_audit(const retention_options& o, std::ostream& out, std::ostream& err);

// `caseline retention purge --as-of DATE [--dry-run]`: purges the audio and shreds the text that
// are past retention and not on hold (Art. 38). Items not past retention by today's date are
// refused (and the refusal recorded): --as-of cannot purge early. Exit 0 when everything asked
// was purged, 1 when something was refused or failed, 2 for bad options.
// With --url and --token: through the running server (its job, followed until it ends; in a
// group every partition by its owner), printing the job's counts, its items shown and the
// partitions not done; exit 1 also when a partition was not done (run it again later).
// Without --url: on a stopped server's data folder (--dry-run also beside a running one).
int run_retention_purge(const retention_options& o, std::ostream& out, std::ostream& err);

// `caseline recording put FILE`: stages call audio (sealed, projections/recordings.h) under
// --data and prints its sha256 and the uri to put in the case's "recording".
int run_recording_put(const store_options& o, const std::string& file, std::ostream& out,
                      std::ostream& err);

}  // namespace caseline::tools
