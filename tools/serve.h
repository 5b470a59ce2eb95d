#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/retention.h"
#include "events/storage/fwd.h"
#include "gateway/rate_limit.h"
#include "projections/assessment_weights.h"
#include "projections/token_store.h"

namespace caseline::events {
class event_log;
struct actor;
}
namespace caseline::gateway {
struct services;
}
namespace caseline::projections {
class store;
class case_writer;
class key_store;
class blob_store;
class personal_data;
class token_writer;
class registry_writer;
}  // namespace caseline::projections

namespace caseline::tools {

// Where the store and the log live. The same options serve every subcommand that reads or writes
// the store (serve, rebuild, replay, report, retention, token, ...).
struct store_options {
  std::string data_dir{"caseline-data"};  // <data>/store (projections), <data>/log (embedded log)
  std::string kafka;                      // bootstrap servers; empty: the embedded log
  std::string topic{"cases.events"};
  std::int32_t partitions{8};
  std::string calendar_file;              // the working-day calendar data file
  // What RocksDB may hold in memory, for the store, the embedded log and the key store
  // together: one block cache of this many MiB (index and filter blocks in it), with every
  // memtable charged to it, a third of it at most (events/storage/memory_budget.h).
  std::size_t memory_mib{192};
  // The master key that wraps the per-case data keys: a file of 64 hex digits, or the hex itself
  // (CASELINE_MASTER_KEY). With neither, a development key is kept at <data>/master.key.
  std::string master_key_file;
  std::string master_key_hex;
  core::retention_policy retention;       // Art. 38: audio >= 1 year, text >= 5 years
  // `serve` only: a Kafka consumer group of servers sharing the topic's partitions (each the
  // only writer of its own), the base URL the others forward this one's commands to (default
  // http://<--listen>), and how long a silent member keeps its partitions.
  std::string group;
  std::string advertise;
  std::chrono::seconds group_session_timeout{10};
  // The embedded log's group commit under load: how long its writer waits for more appends
  // before one WAL sync for them all (events/group_linger.h); 0: never.
  std::chrono::microseconds log_commit_linger{300};
  // On Kafka without a group, a server (and a tool that writes the log) holds the topic's
  // single-writer claim while it writes (events/kafka_single_writer.h): a second writer is
  // refused at its start; a group's server is a member that claims nothing and keeps a writer
  // without a group off the topic. Off only in tests that run two servers on one topic without
  // a group to show what each reads.
  bool claim_topic{true};
  // The claim lost while the server runs (events/kafka_single_writer.h: another writer may
  // hold the topic now): called once, on the claim's thread; `serve` stops with an error.
  std::function<void(const std::string& reason)> on_claim_lost{};
};

struct serve_options {
  store_options store;
  std::string listen{"127.0.0.1:8080"};   // HOST:PORT; port 0 picks a free port
  unsigned io_threads{2};
  std::chrono::seconds shutdown_grace{10};
  // "system", or "manual": a clock that starts at the current time and moves only through
  // POST /v1/admin/clock (admin token). Tests and demos only; without it that route is 404.
  std::string clock{"system"};
  gateway::rate token_rate{50, 100};  // per bearer token (429 beyond)
  gateway::rate status_rate{0.2, 10}; // GET /v1/status per client address
  std::chrono::seconds read_timeout{15};  // a whole request must arrive within this
  std::chrono::seconds idle_timeout{60};  // a keep-alive connection without a request
  // Open connections in total and from one client address (gateway::server_options).
  std::size_t max_connections{10'000};
  std::size_t max_connections_per_address{256};
  // ADDR or ADDR/PREFIX of reverse proxies whose Forwarded / X-Forwarded-For are believed.
  std::vector<std::string> trusted_proxies;
  bool http{true};                        // false: the stack without the HTTP server (tools)
  std::string report_outbox;              // report jobs write due reports here; empty: off
  // The Art. 45 assessment score's weights, for the report routes and the report jobs.
  projections::assessment_weights assessment_weights;
  std::chrono::minutes checkpoint_interval{5};       // tamper-evidence checkpoints; 0: none
  std::chrono::milliseconds reminder_interval{5000}; // how often passed deadlines are reminded
  // Free space kept on the data folder's disk (storage::disk_guard): below it commands are
  // refused (503 disk-full); read again every disk_check_interval. 0: no reserve.
  std::uint64_t min_free_disk_mib{1024};
  // How long the key store's committer waits for more new keys under load before their synced
  // write (projections::key_store::set_commit_linger, events/group_linger.h); 0: never.
  std::chrono::microseconds key_commit_linger{1000};
  std::chrono::milliseconds disk_check_interval{1000};
  // Called with the api's services just before the api is made: where the group's hooks
  // (services::writes, writable, owner_url, self_url) may be set, e.g. by tests that make a
  // server which writes no partition and forwards to another.
  std::function<void(gateway::services&)> adjust_services;
};

struct token_request;

// Opens the log named by the options: Kafka when options.kafka is set, else the embedded log
// under <data>/log (within `budget` when one is given: a server's, shared with its store).
result<std::unique_ptr<events::event_log>> open_log(const store_options& options,
                                                    const storage::memory_budget* budget = nullptr);

// The whole server in one object: log, projection store and runner, write side, API and HTTP
// server. open() returns once the projections have caught up with the log and the server
// accepts requests. stop() stops accepting, answers what is in flight, drains the writer,
// flushes the log and catches the projections up with it; the destructor stops too.
class server_stack {
 public:
  // `log` may be given (tests inject a log with faults); otherwise open_log(options.store).
  static result<std::unique_ptr<server_stack>> open(const serve_options& options,
                                                    std::unique_ptr<events::event_log> log = {});
  ~server_stack();
  std::string address() const;  // "HOST:PORT" as bound ("" without HTTP)
  // The parts, for tools that run on the stack without HTTP (retention purge, ...).
  projections::store& store();
  projections::case_writer& writer();
  projections::key_store& keys();
  projections::blob_store& blobs();
  projections::personal_data& privacy();
  projections::registry_writer& registry();
  projections::token_writer& tokens();
  const core::retention_policy& retention() const;
  // Issues a bearer token through the running stack's log (tests, demos). The secret is returned
  // once; only its hash is in the log. See tools/token_cmd.h for a stopped server.
  result<projections::created_token> create_token(const token_request& r);
  result<projections::created_token> create_token(const token_request& r, const events::actor& by,
                                                  const std::string& correlation_id);
  // The stack's clock (the manual one with --clock manual).
  timestamp now() const;
  // In a group, the advertised URL of the server that writes the partition of the stream `key`
  // now (its last claim); nullopt without a group, or while none is known.
  std::optional<std::string> stream_owner(std::string_view key) const;
  // The first start's admin token (bootstrap_admin_token, tools/token_cmd.h), written once by
  // the owner of the tokens' partition: now when this server writes it, otherwise from the
  // reminder task's tick once the group gives it that partition (like the calendar seed).
  // `shown` gets the token, whose secret is shown nowhere else, on the thread that issued it.
  // The error of an attempt made now.
  result<void> issue_bootstrap_token(std::function<void(const projections::created_token&)> shown);
  void stop(std::chrono::milliseconds grace);

  struct parts;

 private:
  explicit server_stack(std::unique_ptr<parts> p);
  std::unique_ptr<parts> parts_;
};

// `caseline serve`: runs the server until SIGINT or SIGTERM. Prints the address and the data
// folder once requests are accepted. Returns the process exit code.
int run_serve(const serve_options& options, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
