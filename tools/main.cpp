// caseline: one executable, one subcommand per tool. Each subcommand is a thin adapter over a
// library function in tools/ that tests call directly.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "core/calendar.h"
#include "tools/audit_cmd.h"
#include "tools/bench_ingest.h"
#include "tools/bench_produce.h"
#include "tools/calendar_cmd.h"
#include "tools/replay_cmd.h"
#include "tools/serve.h"
#include "tools/token_cmd.h"

namespace {

using namespace caseline;

// --data, --kafka, --topic, --partitions, --calendar: shared by every subcommand that touches
// the store; each also reads CASELINE_<NAME> from the environment.
void add_store_options(CLI::App& app, tools::store_options& o) {
  app.add_option("--data", o.data_dir, "data folder (projection store, embedded log)")
      ->envname("CASELINE_DATA")
      ->capture_default_str();
  app.add_option("--kafka", o.kafka, "Kafka bootstrap servers; without it, the embedded log")
      ->envname("CASELINE_KAFKA");
  app.add_option("--topic", o.topic, "Kafka topic of case events")
      ->envname("CASELINE_TOPIC")
      ->capture_default_str();
  app.add_option("--partitions", o.partitions, "partitions of the log (fixed at creation)")
      ->envname("CASELINE_PARTITIONS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--calendar", o.calendar_file, "working-day calendar data file")
      ->envname("CASELINE_CALENDAR")
      ->capture_default_str();
}

int with_calendar(const std::string& path, const std::function<int(const core::calendar&)>& f) {
  auto cal = core::calendar::load_file(path);
  if (!cal) {
    std::cerr << "caseline: calendar " << path << ": " << cal.error().message() << "\n";
    return 2;
  }
  return f(cal.value());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"caseline: event-sourced case management for the 12328 hotline"};
  app.require_subcommand(1);
  app.set_config("--config", "", "read options from this TOML/INI file");

  tools::serve_options serve;
  serve.store.calendar_file = CASELINE_DEFAULT_CALENDAR;
  auto* serve_cmd = app.add_subcommand("serve", "run the HTTP server");
  add_store_options(*serve_cmd, serve.store);
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free)")
      ->envname("CASELINE_LISTEN")
      ->capture_default_str();
  serve_cmd->add_option("--io-threads", serve.io_threads, "HTTP I/O threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();

  serve_cmd->add_option("--clock", serve.clock,
                        "system, or manual: moves only through POST /v1/admin/clock (tests, demos)")
      ->envname("CASELINE_CLOCK")
      ->check(CLI::IsMember({"system", "manual"}))
      ->capture_default_str();
  serve_cmd->add_option("--token-rate", serve.token_rate.per_second, "requests/s per token")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve_cmd->add_option("--token-burst", serve.token_rate.burst, "burst per token")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  tools::store_options token_store;
  tools::token_request token_req;
  auto* token_cmd = app.add_subcommand("token", "bearer tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand(
      "create", "create a token; prints it once (stored only as its SHA-256)");
  add_store_options(*token_create, token_store);
  token_create->add_option("--role", token_req.role,
                           "agent, shift_lead, quality_inspector, analyst, revisit_officer, "
                           "supervisor, unit, auditor, admin")
      ->required();
  token_create->add_option("--center", token_req.center, "GB/T 2260 center code")->required();
  token_create->add_option("--unit", token_req.unit, "handling unit id (role unit)");

  std::string calendar_file = CASELINE_DEFAULT_CALENDAR;
  auto* cal_cmd = app.add_subcommand("calendar", "the working-day calendar");
  cal_cmd->require_subcommand(1);
  cal_cmd->add_option("--calendar", calendar_file, "calendar data file")
      ->envname("CASELINE_CALENDAR")
      ->capture_default_str();
  std::string cal_date, cal_n, cal_year;
  bool cal_json = false;
  auto* is_workday = cal_cmd->add_subcommand("is-workday", "is DATE a working day?");
  is_workday->add_option("DATE", cal_date, "YYYY-MM-DD")->required();
  auto* add = cal_cmd->add_subcommand("add", "the Nth working day after DATE");
  add->add_option("DATE", cal_date, "YYYY-MM-DD")->required();
  add->add_option("N", cal_n, "working days (>= 1)")->required();
  auto* show = cal_cmd->add_subcommand("show", "every date of YEAR with its kind");
  show->add_option("YEAR", cal_year, "YYYY")->required();
  show->add_flag("--json", cal_json, "JSON output");

  auto* bench_cmd = app.add_subcommand("bench", "benchmarks (they never fail CI)");
  bench_cmd->require_subcommand(1);
  tools::bench_ingest_options ingest;
  unsigned ingest_seconds = 10;
  auto* ingest_cmd = bench_cmd->add_subcommand("ingest", "drive POST /v1/cases");
  ingest_cmd->add_option("--url", ingest.url, "server base URL")->capture_default_str();
  ingest_cmd->add_option("--connections", ingest.connections)->capture_default_str();
  ingest_cmd->add_option("--seconds", ingest_seconds)->capture_default_str();
  ingest_cmd->add_option("--center", ingest.center)->capture_default_str();
  bool no_baseline = false;
  ingest_cmd->add_flag("--no-baseline", no_baseline, "skip the HTTP-layer baseline run");

  tools::bench_produce_options produce;
  unsigned produce_seconds = 10;
  auto* produce_cmd =
      bench_cmd->add_subcommand("produce", "raw librdkafka produce rate, the log's settings");
  produce_cmd->add_option("--kafka", produce.brokers, "bootstrap servers")
      ->envname("CASELINE_KAFKA")
      ->required();
  produce_cmd->add_option("--topic", produce.topic)->capture_default_str();
  produce_cmd->add_option("--partitions", produce.partitions)->capture_default_str();
  produce_cmd->add_option("--seconds", produce_seconds)->capture_default_str();
  produce_cmd->add_option("--records", produce.max_records, "stop after this many (0: no limit)")
      ->capture_default_str();
  produce_cmd->add_option("--size", produce.record_size, "value bytes per record")
      ->capture_default_str();
  produce_cmd->add_option("--keys", produce.keys, "distinct keys")->capture_default_str();
  produce_cmd->add_option("--in-flight", produce.max_in_flight, "records awaiting delivery")
      ->capture_default_str();

  // issue 6: tamper evidence
  tools::replay_options replay;
  auto* replay_cmd =
      app.add_subcommand("replay", "a case's history from the log, its chain verified");
  add_store_options(*replay_cmd, replay.store);
  replay_cmd->add_option("case", replay.case_id, "case id")->required();
  replay_cmd->add_option("--as-of", replay.as_of, "RFC 3339: the case as it stood then");
  replay_cmd->add_option("--format", replay.format)
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  replay_cmd->add_flag("--verify", replay.verify, "also recompute the partition's checkpoints");
  tools::audit_options audit;
  auto* audit_cmd = app.add_subcommand("audit", "tamper evidence over the whole log");
  audit_cmd->require_subcommand(1);
  auto* audit_verify = audit_cmd->add_subcommand("verify", "every case chain and checkpoint");
  add_store_options(*audit_verify, audit.store);

  CLI11_PARSE(app, argc, argv);

  if (*replay_cmd) return tools::run_replay(replay, std::cout, std::cerr);
  if (*audit_verify) return tools::run_audit_verify(audit, std::cout, std::cerr);

  if (*serve_cmd) return tools::run_serve(serve, std::cout, std::cerr);
  if (*token_create) return tools::run_token_create(token_store, token_req, std::cout, std::cerr);
  if (*cal_cmd) {
    return with_calendar(calendar_file, [&](const core::calendar& cal) {
      if (*is_workday) return tools::calendar_is_workday(cal, cal_date, std::cout, std::cerr);
      if (*add) return tools::calendar_add(cal, cal_date, cal_n, std::cout, std::cerr);
      return tools::calendar_show(cal, cal_year, cal_json, std::cout, std::cerr);
    });
  }
  if (*produce_cmd) {
    produce.duration = std::chrono::seconds(produce_seconds);
    return tools::run_bench_produce(produce, std::cout);
  }
  if (*ingest_cmd) {
    ingest.duration = std::chrono::seconds(ingest_seconds);
    ingest.baseline = !no_baseline;
    return tools::run_bench_ingest(ingest, std::cout, std::cerr);
  }
  return 2;
}
