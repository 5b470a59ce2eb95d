#pragma once

// `caseline report ...` and the report jobs (Art. 40-41) as library functions: main.cpp wires
// them to CLI11, tests call them directly, `serve` runs them as a periodic task
// (start_report_jobs). Exit codes: 0 success, 1 a failure (store, file), 2 bad arguments.

#include <chrono>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "core/calendar.h"
#include "core/registry.h"
#include "core/result.h"
#include "events/periodic.h"
#include "projections/assessment_weights.h"
#include "projections/clock.h"
#include "projections/report_render.h"
#include "projections/store.h"
#include "tools/serve.h"

namespace caseline::tools {

struct report_options {
  store_options store;
  std::string kind{"monthly"};  // monthly | annual | period | assessment | urgent
  std::string month;            // YYYY-MM (monthly, assessment)
  std::string year;             // YYYY (annual)
  std::string from, to;         // YYYY-MM-DD (period)
  std::string day;              // YYYY-MM-DD (urgent)
  std::string center;           // a center code; empty: province-wide
  std::string title;            // period: e.g. "国庆节 National Day"
  std::string format{"json"};   // json | csv | html
  std::string out;              // a file; empty: `out`
  projections::assessment_weights weights;  // the Art. 45 score (monthly province-wide, assessment)
};

// Reads the projection store under <data>/store as the projections left it (the server must not
// be running: the store is locked; use GET /v1/reports/... or report jobs in `serve` then).
int run_report(const report_options& o, std::ostream& out, std::ostream& err);

struct report_jobs_options {
  store_options store;
  std::string outbox;
  std::vector<std::string> formats{"json", "html"};
  std::string now;  // RFC 3339; empty: the system clock
  projections::assessment_weights weights;  // the Art. 45 score of the province-wide monthly
};

struct report_jobs_summary {
  std::vector<std::string> written;  // file names written by this run
  std::size_t present{0};            // reports already in the outbox (written before)
  std::size_t recovered{0};          // files found without a manifest line (a crash): added
};

// Writes every report that has fallen due by `now` and is not in `outbox` yet: the monthly
// report of every finished month (province-wide and per center, with the Art. 45 assessment in
// the province-wide one), the annual report of every finished year, the report of every holiday
// period of the calendar once it has ended, and a special report for every major-urgent matter
// as soon as it is flagged, due the same day (Art. 40(4)): the report of its day as it stands
// then, named `urgent-<day>-<case id>-province`. From the first month with any figure on. Each file is written to a temporary name
// and renamed, then a line is appended to manifest.jsonl; a file that exists is never written
// again, and one without its manifest line (a crash in between) gets the line: a restart never
// writes a report twice or skips one. The province-wide monthly reports score the assessment
// with `weights`; a report already written keeps the weights it was written with.
result<report_jobs_summary> run_report_jobs(projections::store& s, const core::registry& reg,
                                            const core::calendar& cal, const std::string& outbox,
                                            timestamp now,
                                            const std::vector<projections::report_format>& formats,
                                            const projections::assessment_weights& weights = {});

// `caseline report jobs --outbox DIR`.
int run_report_jobs_cmd(const report_jobs_options& o, std::ostream& out, std::ostream& err);

// Runs report jobs inside `serve` (`--report-outbox DIR`) as the periodic task "report-jobs": at
// once, then every `interval` and whenever poked (a matter flagged major-urgent: its special
// report is due that day, Art. 40(4); the task's poker() may be held by a writer's observer), at
// the time of `clk`. `before_run` (optional) runs before each run and says whether to run: `serve`
// waits there for the projections to apply what the log holds, so a run that was poked sees the
// event that poked it, and in a group only the owner of partition 0 runs the jobs (once per due
// report, whichever server is up: the outbox then is that server's).
// Failures are logged and retried at the next run. Borrows the store, registry, calendar and
// clock; all must outlive the task.
events::periodic_task start_report_jobs(
    projections::store& s, const core::registry& reg, const core::calendar& cal, std::string outbox,
    const projections::clock& clk, std::chrono::milliseconds interval = std::chrono::minutes(1),
    std::function<bool()> before_run = {}, projections::assessment_weights weights = {});

}  // namespace caseline::tools
