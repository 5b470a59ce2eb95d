// caseline: one executable, one subcommand per tool. Each subcommand is a thin adapter over a
// library function in tools/ that tests call directly.
#include <cstdint>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "core/calendar.h"
#include "gateway/client_address.h"
#include "gateway/log_output.h"
#include "projections/clock.h"
#include "tools/audit_cmd.h"
#include "tools/backup_cmd.h"
#include "tools/bench_all.h"
#include "tools/bench_ingest.h"
#include "tools/bench_produce.h"
#include "tools/bench_purge.h"
#include "tools/bench_reads.h"
#include "tools/bench_rebuild.h"
#include "tools/calendar_cmd.h"
#include "tools/calendar_publish.h"
#include "tools/install_paths.h"
#include "tools/openapi_cmd.h"
#include "tools/rebuild_cmd.h"
#include "tools/replay_cmd.h"
#include "tools/report_cmd.h"
#include "tools/retention_cmd.h"
#include "tools/scaling_sim.h"
#include "tools/serve.h"
#include "tools/token_cmd.h"

namespace {

using namespace caseline;

// --kafka, --topic, --partitions: the log, named the same way by every subcommand that reads or
// writes it (through the store options, or directly like bench produce), each also read from
// CASELINE_<NAME>. --kafka takes every broker of a cluster (host:port,host:port,...). Returns the
// --kafka option, for a subcommand that needs it.
CLI::Option* add_log_options(CLI::App& app, std::string& kafka, std::string& topic,
                             std::int32_t& partitions) {
  auto* k = app.add_option("--kafka", kafka,
                           "Kafka bootstrap servers (host:port[,host:port...]); without it, the "
                           "embedded log")
                ->envname("CASELINE_KAFKA");
  app.add_option("--topic", topic, "Kafka topic of case events")
      ->envname("CASELINE_TOPIC")
      ->capture_default_str();
  app.add_option("--partitions", partitions, "partitions of the log (fixed at creation)")
      ->envname("CASELINE_PARTITIONS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  return k;
}

// --data, the log options, --calendar, the master key and retention: shared by every subcommand
// that touches the store; each also reads CASELINE_<NAME> from the environment.
void add_store_options(CLI::App& app, tools::store_options& o) {
  app.add_option("--data", o.data_dir, "data folder (projection store, embedded log)")
      ->envname("CASELINE_DATA")
      ->capture_default_str();
  add_log_options(app, o.kafka, o.topic, o.partitions);
  app.add_option("--calendar", o.calendar_file, "working-day calendar data file")
      ->envname("CASELINE_CALENDAR")
      ->capture_default_str();
  app.add_option("--master-key-file", o.master_key_file,
                 "file with the 64-hex-digit master key that wraps the case keys")
      ->envname("CASELINE_MASTER_KEY_FILE");
  o.master_key_hex = std::getenv("CASELINE_MASTER_KEY") ? std::getenv("CASELINE_MASTER_KEY") : "";
  app.add_option("--keep-audio-years", o.retention.recording_years,
                 "years call audio is kept after the call (at least 1, Art. 38)")
      ->envname("CASELINE_KEEP_AUDIO_YEARS")
      ->capture_default_str();
  app.add_option("--keep-text-years", o.retention.text_years,
                 "years text is kept after archiving (at least 5, Art. 38)")
      ->envname("CASELINE_KEEP_TEXT_YEARS")
      ->capture_default_str();
  app.add_option("--memory-mib", o.memory_mib,
                 "MiB RocksDB may hold for the store, the embedded log and the key store together "
                 "(one block cache, memtables charged to it)")
      ->envname("CASELINE_MEMORY_MIB")
      ->check(CLI::Range(16, 1 << 20))
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
  // One JSON object per log line: every message is itself a JSON object (no personal data).
  constexpr const char* log_pattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":%v})";
  spdlog::set_pattern(log_pattern);
  CLI::App app{"caseline: event-sourced case management for the 12328 hotline"};
  const std::string default_calendar = tools::default_calendar_file();
  app.require_subcommand(1);
  app.set_config("--config", "", "read options from this TOML/INI file");

  tools::serve_options serve;
  serve.store.calendar_file = default_calendar;
  auto* serve_cmd = app.add_subcommand("serve", "run the HTTP server");
  add_store_options(*serve_cmd, serve.store);
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free)")
      ->envname("CASELINE_LISTEN")
      ->capture_default_str();
  serve_cmd
      ->add_option("--group", serve.store.group,
                   "Kafka consumer group: servers with the same group share the partitions, each "
                   "the only writer of its own (needs --kafka)")
      ->envname("CASELINE_GROUP");
  serve_cmd
      ->add_option("--advertise", serve.store.advertise,
                   "with --group: the base URL the other servers forward commands to "
                   "(default http://<--listen>)")
      ->envname("CASELINE_ADVERTISE");
  unsigned group_session_seconds = 10;
  serve_cmd
      ->add_option("--group-session-timeout", group_session_seconds,
                   "with --group: seconds a silent server keeps its partitions; without: "
                   "seconds a stopped server keeps the topic's single-writer claim (its "
                   "delivery timeout: this less a heartbeat interval less 1 s, at most 10 s)")
      ->check(CLI::Range(6, 300))
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
  serve_cmd
      ->add_option("--max-connections", serve.max_connections,
                   "HTTP connections open at once (capped by RLIMIT_NOFILE less 1024 kept)")
      ->envname("CASELINE_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-connections-per-address", serve.max_connections_per_address,
                   "HTTP connections open at once from one client address (IPv6: a /64); at "
                   "most half of --max-connections; trusted proxies only by the total")
      ->envname("CASELINE_MAX_CONNECTIONS_PER_ADDRESS")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  serve_cmd
      ->add_option("--trusted-proxy", serve.trusted_proxies,
                   "ADDR or ADDR/PREFIX of a reverse proxy whose Forwarded / X-Forwarded-For "
                   "name the client (repeatable); from other peers those headers are ignored")
      ->envname("CASELINE_TRUSTED_PROXIES")
      ->delimiter(',')
      ->check([](const std::string& v) {
        return gateway::parse_prefix(v) ? std::string()
                                        : "not an address or ADDR/PREFIX: " + v;
      });

  tools::store_options token_store;
  tools::token_request token_req;
  auto* token_cmd = app.add_subcommand("token", "bearer tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand(
      "create", "create a token; prints it once (stored only as its SHA-256)");
  token_create->add_option("--role", token_req.role,
                           "agent, shift_lead, quality_inspector, analyst, revisit_officer, "
                           "supervisor, unit, unit_head, auditor, admin")
      ->required();
  token_create->add_option("--center", token_req.center, "GB/T 2260 center code")->required();
  token_create->add_option("--unit", token_req.unit, "handling unit id (roles unit, unit_head)");
  std::string token_expires;
  token_create->add_option("--expires", token_expires,
                           "RFC 3339 date-time or a duration (90m, 12h, 30d); default never");
  tools::token_admin token_via;
  // Through the running server's API (admin token) or, without --url, through the admin socket
  // of the server running on --data, or the stopped server's log.
  auto add_token_via = [&](CLI::App* c) {
    add_store_options(*c, token_store);
    c->add_option("--url", token_via.url,
                  "a running server (http://HOST:PORT): through its API; without it, the server "
                  "running on --data through its admin socket, or a stopped server's log");
    c->add_option("--token", token_via.token, "an admin bearer token, with --url")
        ->envname("CASELINE_TOKEN");
  };
  add_token_via(token_create);
  auto* token_list = token_cmd->add_subcommand("list", "every token (never a secret)");
  add_token_via(token_list);
  std::string token_id;
  auto* token_revoke = token_cmd->add_subcommand("revoke", "revoke a token: 401 from then on");
  add_token_via(token_revoke);
  token_revoke->add_option("ID", token_id, "the token's id (token list)")->required();

  std::string calendar_file = default_calendar;
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
  tools::calendar_publish_options publish;
  auto* publish_cmd = cal_cmd->add_subcommand(
      "publish", "publish each year of FILE through a running server (PUT /v1/calendar/{year})");
  publish_cmd->add_option("FILE", publish.file, "calendar data file with the years to publish")
      ->required();
  publish_cmd->add_option("--url", publish.url, "server base URL")->capture_default_str();
  publish_cmd->add_option("--token", publish.token, "an admin bearer token")
      ->envname("CASELINE_TOKEN")
      ->required();

  auto* bench_cmd = app.add_subcommand("bench", "benchmarks (they never fail CI)");
  bench_cmd->require_subcommand(1);
  tools::bench_ingest_options ingest;
  unsigned ingest_seconds = 10;
  auto* ingest_cmd = bench_cmd->add_subcommand("ingest", "drive POST /v1/cases");
  ingest_cmd->add_option("--url", ingest.url, "server base URL")->capture_default_str();
  ingest_cmd->add_option("--connections", ingest.connections)->capture_default_str();
  ingest_cmd->add_option("--seconds", ingest_seconds)->capture_default_str();
  unsigned ingest_warmup = 3;
  ingest_cmd->add_option("--warmup", ingest_warmup, "seconds of load before the measured run")
      ->capture_default_str();
  ingest_cmd->add_option("--center", ingest.center)->capture_default_str();
  ingest_cmd->add_option("--token", ingest.token, "bearer token (caseline token create)")
      ->envname("CASELINE_TOKEN");
  ingest_cmd->add_option("--metrics-token", ingest.metrics_token,
                         "a token that reads /metrics (admin, analyst, auditor): server CPU per "
                         "accepted command and RSS");
  ingest_cmd->add_option("--server-pid", ingest.server_pid,
                         "the server's process id on this machine: its CPU per accepted command "
                         "split by thread (/proc/PID/task)");
  bool no_baseline = false;
  ingest_cmd->add_flag("--no-baseline", no_baseline, "skip the HTTP-layer baseline run");

  tools::bench_reads_options reads;
  unsigned reads_seconds = 5;
  bool reads_no_embedded = false;
  auto* reads_cmd = bench_cmd->add_subcommand(
      "reads", "the read routes at 1 and 32 connections on a store seeded with N cases");
  reads_cmd->add_option("--cases", reads.cases, "cases seeded before the reads")
      ->capture_default_str();
  reads_cmd
      ->add_option("--seed", reads.seed,
                   "writer: through the server's own writer before it serves (fast, no HTTP); "
                   "post: through POST /v1/cases")
      ->check(CLI::IsMember({"writer", "post"}))
      ->capture_default_str();
  reads_cmd->add_option("--seed-connections", reads.seed_connections, "with --seed post")
      ->capture_default_str();
  reads_cmd->add_flag("--histories", reads.histories,
                      "with --seed writer: each case lives on after its receive as an archive "
                      "holds it (about five events a case) instead of one event");
  reads_cmd->add_option("--connections", reads.connections, "connection counts")
      ->delimiter(',')
      ->capture_default_str();
  reads_cmd->add_option("--seconds", reads_seconds, "per route and connection count")
      ->capture_default_str();
  reads_cmd->add_option("--kafka", reads.kafka, "bootstrap servers: also on Kafka");
  reads_cmd->add_option("--topic", reads.topic, "default caseline-bench-reads-<time>");
  reads_cmd->add_flag("--no-embedded", reads_no_embedded, "only on Kafka");
  reads_cmd->add_option("--dir", reads.dir, "working folder");
  reads_cmd->add_option("--program", reads.program, "the server's caseline executable");
  reads_cmd->add_option("--routes", reads.routes, "which routes: case, history, queue, overdue")
      ->delimiter(',')
      ->capture_default_str();
  reads_cmd->add_flag("--reuse", reads.reuse,
                      "keep the seeded folders in --dir and read kept ones again");
  reads_cmd
      ->add_option("--hot-share", reads.hot_share,
                   "also read the case and history routes with this share of the reads on a "
                   "working set (0: uniform reads only)")
      ->capture_default_str();
  reads_cmd
      ->add_option("--hot-cases", reads.hot_cases,
                   "the working set: this many cases, those seeded last")
      ->capture_default_str();
  reads_cmd->add_flag("--no-baseline", no_baseline, "skip the HTTP-layer baseline run");

  tools::bench_all_options all;
  unsigned all_ingest_seconds = 20, all_read_seconds = 5, all_produce_seconds = 10;
  auto* all_cmd = bench_cmd->add_subcommand(
      "all", "every benchmark beside its baseline; a Markdown table with the machine's conditions");
  all_cmd->add_option("--out", all.out_file, "the Markdown file")->capture_default_str();
  all_cmd->add_option("--note", all.note, "a line under the title");
  all_cmd->add_option("--kafka", all.kafka, "bootstrap servers: also the Kafka rows")
      ->envname("CASELINE_KAFKA");
  all_cmd->add_option("--connections", all.ingest_connections, "ingest connections")
      ->capture_default_str();
  all_cmd->add_option("--ingest-seconds", all_ingest_seconds)->capture_default_str();
  unsigned all_ingest_warmup = 3;
  all_cmd->add_option("--ingest-warmup", all_ingest_warmup, "seconds of load before each ingest")
      ->capture_default_str();
  all_cmd->add_option("--produce-seconds", all_produce_seconds)->capture_default_str();
  all_cmd->add_option("--cases", all.read_cases, "cases in the store for the reads (10^5, 10^6)")
      ->capture_default_str();
  all_cmd->add_option("--read-seconds", all_read_seconds)->capture_default_str();
  all_cmd->add_flag("--read-histories", all.read_histories,
                    "the reads' cases with their histories (bench reads --histories)");
  all_cmd->add_option("--read-seed", all.read_seed, "how the reads' cases are seeded (bench reads)")
      ->check(CLI::IsMember({"writer", "post"}))
      ->capture_default_str();
  all_cmd
      ->add_option("--read-hot-share", all.read_hot_share,
                   "the working-set reads' share (bench reads --hot-share; 0: none)")
      ->capture_default_str();
  all_cmd
      ->add_option("--read-hot-cases", all.read_hot_cases,
                   "the working set's cases (bench reads --hot-cases)")
      ->capture_default_str();
  all_cmd->add_option("--events", all.rebuild_events, "events for the rebuild (10^6, 10^7)")
      ->capture_default_str();
  all_cmd->add_option("--purge-cases", all.purge_cases, "cases for the retention purge (10^5)")
      ->capture_default_str();
  all_cmd->add_option("--dir", all.dir, "working folder");
  all_cmd->add_option("--db-bench", all.db_bench, "db_bench program; empty to skip")
      ->capture_default_str();

  tools::bench_produce_options produce;
  unsigned produce_seconds = 10;
  auto* produce_cmd =
      bench_cmd->add_subcommand("produce", "raw librdkafka produce rate, the log's settings");
  add_log_options(*produce_cmd, produce.brokers, produce.topic, produce.partitions)
      ->required()
      ->description("Kafka bootstrap servers (host:port[,host:port...])");
  produce_cmd->add_option("--seconds", produce_seconds)->capture_default_str();
  produce_cmd->add_option("--records", produce.max_records, "stop after this many (0: no limit)")
      ->capture_default_str();
  produce_cmd->add_option("--size", produce.record_size, "value bytes per record")
      ->capture_default_str();
  produce_cmd->add_option("--keys", produce.keys, "distinct keys")->capture_default_str();
  produce_cmd->add_option("--in-flight", produce.max_in_flight, "records awaiting delivery")
      ->capture_default_str();

  std::string openapi_write;
  auto* openapi_cmd = app.add_subcommand(
      "openapi", "the OpenAPI document with its paths from the route table (prints it)");
  openapi_cmd->add_option("--write", openapi_write,
                          "rewrite this file (gateway/openapi.json) in place instead");

  // --- tamper evidence ---
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

  unsigned checkpoint_minutes = 5;
  unsigned reminder_seconds = 5;
  serve_cmd
      ->add_option("--reminder-interval", reminder_seconds,
                   "seconds between the reminder task's passes over passed deadlines (Art. 35; "
                   "each pass sends at most 1,000; a moved clock or a published year starts one "
                   "at once)")
      ->envname("CASELINE_REMINDER_INTERVAL")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  serve_cmd
      ->add_option("--checkpoint-interval", checkpoint_minutes,
                   "minutes between tamper-evidence checkpoints (0: none)")
      ->envname("CASELINE_CHECKPOINT_INTERVAL")
      ->capture_default_str();
  serve_cmd
      ->add_option("--min-free-disk-mib", serve.min_free_disk_mib,
                   "MiB of free space the server keeps on the data folder's disk: below it, "
                   "commands are answered 503 disk-full and nothing is written, reads go on "
                   "(0: no reserve)")
      ->envname("CASELINE_MIN_FREE_DISK_MIB")
      ->capture_default_str();
  // The group commits' wait for more work under load (events/group_linger.h), in microseconds.
  const auto add_linger_option = [&serve_cmd](const char* name, std::uint64_t& us, const char* env,
                                              const std::string& what) {
    serve_cmd
        ->add_option(name, us,
                     "microseconds " + what +
                         " under load before one synced write for them all (0: never; one that "
                         "comes alone never waits)")
        ->envname(env)
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
  };
  std::uint64_t log_commit_linger_us = 300;
  add_linger_option("--log-commit-linger-us", log_commit_linger_us, "CASELINE_LOG_COMMIT_LINGER_US",
                    "the embedded log waits for more appends");
  std::uint64_t key_commit_linger_us = 1000;
  add_linger_option("--key-commit-linger-us", key_commit_linger_us, "CASELINE_KEY_COMMIT_LINGER_US",
                    "the key store waits for more new cases' keys");
  serve_cmd->add_option("--report-outbox", serve.report_outbox,
                        "write each statutory report once when it falls due (Art. 41)")
      ->envname("CASELINE_REPORT_OUTBOX");
  // Art. 45: the measures give no weights for the assessment score; they are configuration.
  std::string assessment_weights;
  const auto add_weights = [&](CLI::App* c) {
    c->add_option("--assessment-weights", assessment_weights,
                  "Art. 45 score weights: immediate_answer=W,on_time=W,revisit=W,satisfaction=W "
                  "(names not given: 1)")
        ->envname("CASELINE_ASSESSMENT_WEIGHTS");
  };
  add_weights(serve_cmd);

  // --- reports, rebuild ---
  tools::report_options report;
  report.store.calendar_file = default_calendar;
  auto* report_cmd = app.add_subcommand("report", "statutory reports (Art. 39-41, 45)");
  report_cmd->require_subcommand(1);
  auto report_common = [&](CLI::App* c) {
    add_store_options(*c, report.store);
    c->add_option("--center", report.center, "center code; default province-wide");
    c->add_option("--format", report.format)
        ->check(CLI::IsMember({"json", "csv", "html"}))
        ->capture_default_str();
    c->add_option("--out", report.out, "output file; default stdout");
  };
  auto* r_monthly = report_cmd->add_subcommand("monthly", "monthly report");
  report_common(r_monthly);
  r_monthly->add_option("--month", report.month, "YYYY-MM")->required();
  add_weights(r_monthly);
  auto* r_annual = report_cmd->add_subcommand("annual", "annual report");
  report_common(r_annual);
  r_annual->add_option("--year", report.year, "YYYY")->required();
  auto* r_period = report_cmd->add_subcommand("period", "special-period report");
  report_common(r_period);
  r_period->add_option("--from", report.from, "YYYY-MM-DD")->required();
  r_period->add_option("--to", report.to, "YYYY-MM-DD")->required();
  r_period->add_option("--title", report.title);
  auto* r_assess = report_cmd->add_subcommand("assessment", "Art. 45 ranking of the centers");
  add_store_options(*r_assess, report.store);
  r_assess->add_option("--month", report.month, "YYYY-MM")->required();
  r_assess->add_option("--out", report.out);
  add_weights(r_assess);
  auto* r_urgent = report_cmd->add_subcommand("urgent", "the day's major-urgent matters");
  report_common(r_urgent);
  r_urgent->add_option("--day", report.day, "YYYY-MM-DD")->required();
  tools::report_jobs_options jobs;
  jobs.store.calendar_file = default_calendar;
  auto* r_jobs = report_cmd->add_subcommand("jobs", "write every due report once into an outbox");
  add_store_options(*r_jobs, jobs.store);
  r_jobs->add_option("--outbox", jobs.outbox)->required();
  r_jobs->add_option("--format", jobs.formats)->capture_default_str();
  r_jobs->add_option("--now", jobs.now, "RFC 3339; default the system clock");
  add_weights(r_jobs);

  tools::rebuild_options rebuild;
  rebuild.store.calendar_file = default_calendar;
  auto* rebuild_cmd = app.add_subcommand("rebuild", "replay the log into fresh projections");
  add_store_options(*rebuild_cmd, rebuild.store);
  rebuild_cmd->add_option("--into", rebuild.into, "default <data>/rebuild");
  rebuild_cmd->add_flag("--verify", rebuild.verify, "compare with <data>/store key by key");
  rebuild_cmd
      ->add_option("--checkpoint-records", rebuild.checkpoint_records,
                   "records between two flushes of the fresh store")
      ->capture_default_str();
  rebuild_cmd->add_option("--threads", rebuild.lanes,
                          "replay threads; default one per core, at most one per partition "
                          "(1 leaves the other cores to a running server)");

  tools::bench_purge_options bpu;
  bpu.calendar_file = default_calendar;
  auto* bpu_cmd = bench_cmd->add_subcommand(
      "purge", "the Art. 38 retention purge through the API beside the write path's rate");
  bpu_cmd->add_option("--cases", bpu.cases, "eligible cases to purge")->capture_default_str();
  bpu_cmd->add_option("--partitions", bpu.partitions, "partitions of the embedded log")
      ->capture_default_str();
  bpu_cmd->add_option("--dir", bpu.dir, "working folder (emptied); default under the temp dir");
  bpu_cmd->add_option("--calendar", bpu.calendar_file)->capture_default_str();
  tools::bench_rebuild_options brb;
  brb.calendar_file = default_calendar;
  auto* brb_cmd =
      bench_cmd->add_subcommand("rebuild", "rebuild rate beside raw consume and db_bench");
  brb_cmd->add_option("--events", brb.events)->capture_default_str();
  brb_cmd->add_option("--partitions", brb.partitions)->capture_default_str();
  brb_cmd->add_option("--dir", brb.dir);
  brb_cmd->add_option("--log-dir", brb.log_dir,
                      "keep the generated log here and reuse it (same events, partitions, seed)");
  brb_cmd->add_option("--seed", brb.seed)->capture_default_str();
  brb_cmd->add_option("--db-bench", brb.db_bench, "db_bench program; empty to skip")
      ->capture_default_str();
  brb_cmd->add_option("--threads", brb.lanes,
                      "replay threads; default one per core, at most one per partition");

  // --- retention (Art. 38) ---
  tools::retention_options retention;
  retention.store.calendar_file = default_calendar;
  auto* retention_cmd = app.add_subcommand("retention", "call audio and text retention (Art. 38)");
  retention_cmd->require_subcommand(1);
  auto* ret_audit = retention_cmd->add_subcommand("audit", "what is kept, purged, eligible");
  add_store_options(*ret_audit, retention.store);
  ret_audit->add_option("--as-of", retention.as_of, "YYYY-MM-DD; default today");
  ret_audit->add_option("--format", retention.format)
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  auto* ret_purge = retention_cmd->add_subcommand("purge", "purge what is past retention");
  add_store_options(*ret_purge, retention.store);
  ret_purge->add_option("--as-of", retention.as_of, "YYYY-MM-DD")->required();
  ret_purge->add_flag("--dry-run", retention.dry_run, "only list what would be purged");
  ret_purge->add_option("--user", retention.user, "who purges (recorded)")->capture_default_str();
  ret_purge->add_option("--url", retention.url,
                        "a running server (http://HOST:PORT): the purge runs there, online");
  ret_purge->add_option("--token", retention.token, "an admin bearer token, with --url")
      ->envname("CASELINE_TOKEN");
  tools::store_options recording_store;
  recording_store.calendar_file = default_calendar;
  std::string recording_file;
  auto* recording_cmd = app.add_subcommand("recording", "call audio in the blob store");
  recording_cmd->require_subcommand(1);
  auto* rec_put = recording_cmd->add_subcommand("put", "store a call recording");
  add_store_options(*rec_put, recording_store);
  rec_put->add_option("FILE", recording_file)->required();

  // --- backup and restore (tools/backup_cmd.h) ---
  tools::store_options backup_store;
  std::string backup_out, backup_verify;
  auto* backup_cmd = app.add_subcommand(
      "backup", "back up a data folder, also while the server runs; or check a backup");
  add_store_options(*backup_cmd, backup_store);
  auto* backup_out_opt =
      backup_cmd->add_option("--out", backup_out, "the backup folder to write (must not exist)");
  backup_cmd->add_option("--verify", backup_verify, "check BACKUP against its manifest")
      ->excludes(backup_out_opt);
  std::string restore_from, restore_into;
  auto* restore_cmd = app.add_subcommand("restore", "restore a backup into a new data folder");
  restore_cmd->add_option("BACKUP", restore_from, "a backup folder (caseline backup)")->required();
  restore_cmd->add_option("--data", restore_into, "the new data folder (must not exist)")
      ->required();

  // --- scale-out: the ownership protocol, simulated (tools/scaling_sim.h, docs/scaling.md) ---
  tools::sim_options sim;
  std::uint64_t sim_seeds = 1;
  bool sim_no_fencing = false;
  auto* simulate_cmd = app.add_subcommand("simulate", "models checked by simulation");
  simulate_cmd->require_subcommand(1);
  auto* sim_rebalance = simulate_cmd->add_subcommand(
      "rebalance", "partitions moving between instances of a group, with faults and fencing");
  sim_rebalance->add_option("--instances", sim.instances)->capture_default_str();
  sim_rebalance->add_option("--partitions", sim.partitions)->capture_default_str();
  sim_rebalance->add_option("--steps", sim.steps, "per seed, the quiet tail included")
      ->capture_default_str();
  sim_rebalance->add_option("--seed", sim.seed, "the first seed")->capture_default_str();
  sim_rebalance->add_option("--seeds", sim_seeds, "seeds run, from --seed on")
      ->capture_default_str();
  sim_rebalance->add_option("--session-timeout", sim.session_timeout, "steps")
      ->capture_default_str();
  sim_rebalance->add_option("--max-pause", sim.max_pause, "steps")->capture_default_str();
  sim_rebalance->add_option("--writes-per-step", sim.writes_per_step)->capture_default_str();
  sim_rebalance->add_flag("--no-fencing", sim_no_fencing,
                          "commits ignore the epoch (a broken model: the checker must object)");

  CLI11_PARSE(app, argc, argv);
  serve.checkpoint_interval = std::chrono::minutes(checkpoint_minutes);
  serve.reminder_interval = std::chrono::seconds(reminder_seconds);
  serve.key_commit_linger = std::chrono::microseconds(key_commit_linger_us);
  serve.store.log_commit_linger = std::chrono::microseconds(log_commit_linger_us);
  serve.store.group_session_timeout = std::chrono::seconds(group_session_seconds);
  {
    auto w = projections::parse_assessment_weights(assessment_weights);
    if (!w) {
      std::cerr << "caseline: " << w.error().message()
                << " (--assessment-weights, CASELINE_ASSESSMENT_WEIGHTS)\n";
      return 2;
    }
    serve.assessment_weights = report.weights = jobs.weights = w.value();
  }

  if (*report_cmd) {
    if (*r_jobs) return tools::run_report_jobs_cmd(jobs, std::cout, std::cerr);
    report.kind = *r_monthly ? "monthly"
                  : *r_annual ? "annual"
                  : *r_period ? "period"
                  : *r_assess ? "assessment"
                              : "urgent";
    if (*r_assess) report.format = "json";
    return tools::run_report(report, std::cout, std::cerr);
  }
  if (*rebuild_cmd) return tools::run_rebuild(rebuild, std::cout, std::cerr);
  if (*bpu_cmd) return tools::run_bench_purge(bpu, std::cout, std::cerr);
  if (*brb_cmd) return tools::run_bench_rebuild(brb, std::cout, std::cerr);
  if (*ret_audit) return tools::run_retention_audit(retention, std::cout, std::cerr);
  if (*ret_purge) return tools::run_retention_purge(retention, std::cout, std::cerr);
  if (*rec_put) return tools::run_recording_put(recording_store, recording_file, std::cout, std::cerr);

  if (*sim_rebalance) {
    sim.model_fencing = !sim_no_fencing;
    return tools::run_simulate_rebalance(sim, sim_seeds, std::cout, std::cerr);
  }
  if (*openapi_cmd) return tools::run_openapi(openapi_write, std::cout, std::cerr);
  if (*replay_cmd) return tools::run_replay(replay, std::cout, std::cerr);
  if (*audit_verify) return tools::run_audit_verify(audit, std::cout, std::cerr);

  if (*backup_cmd) {
    if (!backup_verify.empty()) return tools::run_backup_verify(backup_verify, std::cout, std::cerr);
    if (backup_out.empty()) {
      std::cerr << "caseline backup: --out BACKUP or --verify BACKUP\n";
      return 2;
    }
    return tools::run_backup(backup_store, backup_out, std::cout, std::cerr);
  }
  if (*restore_cmd) return tools::run_restore(restore_from, restore_into, std::cout, std::cerr);
  if (*serve_cmd) {
    // The server logs a line per request: written by a background thread, never by the thread
    // that answers (gateway/log_output.h); every queued line is written before the process ends.
    gateway::log_output_options lo;
    lo.pattern = log_pattern;
    const auto log = gateway::log_output::install(lo);
    return tools::run_serve(serve, std::cout, std::cerr);
  }
  if (*token_create) {
    if (!token_expires.empty()) {
      auto e = tools::parse_expires(token_expires, projections::system_clock{}.now());
      if (!e) {
        std::cerr << "caseline token create: " << e.error().message() << "\n";
        return 2;
      }
      token_req.expires_at = e.value();
    }
    return tools::run_token_create(token_store, token_via, token_req, std::cout, std::cerr);
  }
  if (*token_list) return tools::run_token_list(token_store, token_via, std::cout, std::cerr);
  if (*token_revoke)
    return tools::run_token_revoke(token_store, token_via, token_id, std::cout, std::cerr);
  if (*cal_cmd && *publish_cmd) return tools::run_calendar_publish(publish, std::cout, std::cerr);
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
  if (*reads_cmd) {
    reads.duration = std::chrono::seconds(reads_seconds);
    reads.embedded = !reads_no_embedded;
    reads.baseline = !no_baseline;
    return tools::run_bench_reads(reads, std::cout, std::cerr);
  }
  if (*all_cmd) {
    all.calendar_file = default_calendar;
    all.ingest_duration = std::chrono::seconds(all_ingest_seconds);
    all.ingest_warmup = std::chrono::seconds(all_ingest_warmup);
    all.read_duration = std::chrono::seconds(all_read_seconds);
    all.produce_duration = std::chrono::seconds(all_produce_seconds);
    return tools::run_bench_all(all, std::cout, std::cerr);
  }
  if (*ingest_cmd) {
    ingest.duration = std::chrono::seconds(ingest_seconds);
    ingest.warmup = std::chrono::seconds(ingest_warmup);
    ingest.baseline = !no_baseline;
    return tools::run_bench_ingest(ingest, std::cout, std::cerr);
  }
  return 2;
}
