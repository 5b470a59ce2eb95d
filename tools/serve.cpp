#include "tools/serve.h"

#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/calendar.h"
#include "core/decide.h"
#include "core/log_line.h"
#include "core/registry.h"
#include "events/checkpoint.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "events/kafka_event_log.h"
#include "events/kafka_single_writer.h"
#include "events/key_journal.h"
#include "events/record.h"
#include "events/storage/disk_guard.h"
#include "events/storage/memory_budget.h"
#include "gateway/api.h"
#include "gateway/server.h"
#include "projections/audio_replica.h"
#include "projections/blob_store.h"
#include "projections/calendar_projection.h"
#include "projections/calendar_revision.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/key_replica.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "projections/projection_set.h"
#include "projections/reminder_scheduler.h"
#include "projections/runner.h"
#include "projections/server_state.h"
#include "projections/store.h"
#include "tools/local_admin.h"
#include "tools/report_cmd.h"
#include "tools/token_cmd.h"

namespace caseline::tools {

namespace {

// The manual clock resumes where it was: its time is stored at every move (big-endian ms).
std::string encode_ms(timestamp t) {
  std::string out(8, '\0');
  auto v = static_cast<std::uint64_t>(t.ms);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

std::optional<timestamp> decode_ms(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  return timestamp{static_cast<std::int64_t>(v)};
}

result<std::pair<std::string, std::uint16_t>> split_listen(const std::string& listen) {
  auto bad = make_error(events::errc::bad_config, "--listen must be HOST:PORT, not '" + listen + "'");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad;
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return bad;
  const unsigned long p = std::stoul(port);
  if (p > 65535) return bad;
  return std::pair{host, static_cast<std::uint16_t>(p)};
}

// Who writes what the server itself writes into the reference streams (tokens, calendar).
const events::actor caseline_actor{"caseline", "admin", "", ""};

// A write the server makes once into a reference stream, which only the owner of the stream's
// partition may write: the shipped calendar years, the tokens an older store kept without a log
// event, the first start's admin token. Each is tried when added and then from the reminder
// task's tick until it succeeded; on a server of a Kafka group that does not write the stream's
// partition (yet), it waits for the first tick after the group gave it that partition.
// Thread-safe: the start and the ticker's thread call it.
class owner_writes {
 public:
  struct write {
    std::string what;  // its log lines: "<what>_failed"
    std::string_view stream;
    std::function<result<void>()> run;
  };

  owner_writes(const projections::case_writer& writer, const events::event_log& log)
      : writer_(writer), log_(log) {}

  // Tries `w` now if this server writes its stream's partition; keeps it for the ticks unless
  // it succeeded. The error of that first attempt, if it failed.
  result<void> add(write w) {
    std::lock_guard lk(mu_);
    auto r = attempt(w);
    if (!r || !done_) pending_.push_back(std::move(w));
    return r;
  }

  // Tries each pending write whose partition this server writes now (the reminder task's tick).
  void tick() {
    std::lock_guard lk(mu_);
    std::erase_if(pending_, [this](const write& w) {
      if (auto r = attempt(w); !r) {
        spdlog::warn("{}", log_line(w.what + "_failed", {{"error", r.error().message()}}));
        return false;
      }
      return done_;
    });
  }

 private:
  // Runs `w` if this server writes its partition; done_ says whether it ran and succeeded.
  result<void> attempt(const write& w) {
    done_ = false;
    if (!writer_.accepts(events::partition_for(w.stream, log_.partition_count()))) return success();
    auto r = w.run();
    done_ = r.has_value();
    return r;
  }

  const projections::case_writer& writer_;
  const events::event_log& log_;
  std::mutex mu_;
  std::vector<write> pending_;  // guarded by mu_
  bool done_{false};            // guarded by mu_: the last attempt's outcome
};

}  // namespace

namespace {

// The topic's single-writer claim's static member id for the data folder `data`: the same
// across restarts of the folder's server while the machine runs (a restart, kill -9 included,
// takes the membership back at once), another for any other folder, and for the same path on
// another machine or container even when they share the host's name, the path and a cloned
// image (the boot id, and the folder's device and inode, differ): two processes with one id
// would fence each other's membership, and the newer would get every partition at once.
std::string writer_instance(const std::filesystem::path& data) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(std::filesystem::absolute(data), ec);
  std::string where = ec ? data.string() : canonical.string();
  struct stat st {};
  if (::stat(where.c_str(), &st) == 0)
    where += fmt::format("\n{}:{}", static_cast<unsigned long long>(st.st_dev),
                         static_cast<unsigned long long>(st.st_ino));
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  if (std::getline(boot, boot_id)) where += "\n" + boot_id;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(where.data()), where.size(), digest);
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("caseline-{}-{}", host,
                     events::to_hex(std::string_view(reinterpret_cast<const char*>(digest), 8)));
}

}  // namespace

result<std::unique_ptr<events::event_log>> open_log(const store_options& options,
                                                    const storage::memory_budget* budget) {
  if (!options.kafka.empty()) {
    events::kafka_log_options k;
    k.brokers = options.kafka;
    k.topic = options.topic;
    k.partitions = options.partitions;
    k.group = options.group;
    k.advertise = options.advertise;
    k.session_timeout = options.group_session_timeout;
    // Alone on the topic, a record queued when the process stopped must fail before another
    // server can have taken the topic (events/kafka_single_writer.h).
    if (k.group.empty())
      k.timeouts.delivery =
          events::single_writer_delivery_timeout(k.session_timeout, k.timeouts.delivery);
    return events::open_kafka_log(k);
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return make_error(events::errc::bad_config,
                      "cannot create " + options.data_dir + ": " + ec.message());
  events::embedded_log_options e;
  e.dir = (std::filesystem::path(options.data_dir) / "log").string();
  e.partitions = options.partitions;
  e.memory = budget;
  e.commit_linger.linger = options.log_commit_linger;
  return events::open_embedded_log(e);
}

// Members destroyed in reverse order, log last. The order that matters at the end: whatever
// submits commands (reminders, deadline revision) goes first; then the writer, whose destructor
// waits for commands still in flight, which answer through the api into the HTTP server; then
// the api (whose responders hold the server's connections); the server last of the three.
// stop() has stopped the server and the api by then, so neither hands out new work.
struct server_stack::parts {
  core::calendar calendar;     // the shipped data file: seeds the log's calendar at first start
  std::string calendar_text;
  core::registry registry = core::registry::henan();  // base; decisions read the projection's
  core::retention_policy retention;
  std::unique_ptr<projections::clock> clock;
  projections::manual_clock* manual_clock{nullptr};  // = clock, with --clock manual
  std::unique_ptr<events::event_log> log;
  // Kafka: without a group, this server is the topic's only writer while it holds this; with
  // one, it keeps a writer without a group off the topic. The log's write gate asks it: it goes
  // after everything that appends (declared below) and before the log.
  std::unique_ptr<events::single_writer_claim> topic_claim;
  std::unique_ptr<projections::store> store;
  std::unique_ptr<storage::disk_guard> disk;  // the data folder's reserve; the api reads it
  std::unique_ptr<projections::key_store> keys;
  std::unique_ptr<projections::key_replica> key_replica;  // a group's: shares the keys
  std::unique_ptr<projections::personal_data> privacy;
  std::unique_ptr<projections::blob_store> blobs;
  std::unique_ptr<projections::audio_replica> audio_replica;  // a group's: shares the audio
  std::unique_ptr<projections::projection_set> projections;
  std::unique_ptr<projections::projection_runner> runner;
  std::unique_ptr<events::checkpointer> checkpointer;
  std::unique_ptr<projections::registry_writer> registry_writer;
  std::unique_ptr<projections::calendar_writer> calendar_writer;
  std::unique_ptr<projections::token_writer> token_writer;
  std::unique_ptr<gateway::http_server> server;
  std::unique_ptr<gateway::api> api;
  std::unique_ptr<projections::case_writer> writer;
  std::unique_ptr<projections::deadline_reviser> reviser;
  civil_date calendar_warned_on;  // the reminder task's: one warning a day
  // The calendar seed, unlogged tokens and the bootstrap token, on the streams' owner.
  std::unique_ptr<owner_writes> once;
  std::unique_ptr<projections::reminder_scheduler> reminders;
  events::periodic_task reminder_ticker;
  events::periodic_task report_jobs;
  events::periodic_task checkpoints;
  events::periodic_task disk_checks;  // first to stop: it refreshes `disk`
  std::string host;
  bool in_group{false};
  bool stopped{false};

  ~parts() {
    if (topic_claim) topic_claim->attach(nullptr);  // before the writer goes
  }
};

server_stack::server_stack(std::unique_ptr<parts> p) : parts_(std::move(p)) {}

server_stack::~server_stack() { stop(std::chrono::seconds(10)); }

std::string server_stack::address() const {
  if (!parts_->server) return {};
  return fmt::format("{}:{}", parts_->host, parts_->server->port());
}

projections::store& server_stack::store() { return *parts_->store; }
projections::case_writer& server_stack::writer() { return *parts_->writer; }
projections::key_store& server_stack::keys() { return *parts_->keys; }
projections::blob_store& server_stack::blobs() { return *parts_->blobs; }
projections::personal_data& server_stack::privacy() { return *parts_->privacy; }
projections::registry_writer& server_stack::registry() { return *parts_->registry_writer; }
projections::token_writer& server_stack::tokens() { return *parts_->token_writer; }
const core::retention_policy& server_stack::retention() const { return parts_->retention; }

result<projections::created_token> server_stack::create_token(const token_request& r) {
  return create_token(r, caseline_actor, {});
}

result<projections::created_token> server_stack::create_token(const token_request& r,
                                                              const events::actor& by,
                                                              const std::string& correlation_id) {
  return tools::create_token(*parts_->token_writer, *parts_->projections->registry().snapshot(), r,
                             by, correlation_id);
}

timestamp server_stack::now() const { return parts_->clock->now(); }

std::optional<std::string> server_stack::stream_owner(std::string_view key) const {
  if (!parts_->in_group) return std::nullopt;
  auto claim = parts_->projections->owners().owner(
      events::partition_for(key, parts_->log->partition_count()));
  if (!claim) return std::nullopt;
  return claim->member;
}

result<void> server_stack::issue_bootstrap_token(
    std::function<void(const projections::created_token&)> shown) {
  auto* raw = parts_.get();
  return raw->once->add({"bootstrap_token", projections::token_writer::stream_key,
                         [raw, shown = std::move(shown)]() -> result<void> {
                           auto boot =
                               bootstrap_admin_token(*raw->store, *raw->token_writer,
                                                     raw->clock->now(), std::chrono::hours(24));
                           if (!boot) return boot.error();
                           if (boot.value()) shown(*boot.value());
                           return success();
                         }});
}

void server_stack::stop(std::chrono::milliseconds grace) {
  if (!parts_ || parts_->stopped) return;
  parts_->stopped = true;
  // Stop accepting and answer what is in flight (up to `grace`); then no request reaches the
  // api's workers any more, and those still at work finish before the writer is drained.
  if (parts_->server) parts_->server->stop(grace);
  if (parts_->api) parts_->api->stop();
  parts_->report_jobs.stop();
  parts_->reminder_ticker.stop();
  if (parts_->reminders) parts_->reminders->wait_idle(grace);
  parts_->writer->drain(grace);
  // Hand the partitions to the other servers of the group now, not after the session timeout.
  parts_->log->leave();
  // One last checkpoint over everything written, unless the log is down (it would only wait).
  if (parts_->log->check())
    parts_->checkpoints.stop();
  else
    parts_->checkpoints.stop_without_final_run();
  if (auto r = parts_->log->flush(grace); !r)
    spdlog::warn("{}", log_line("flush_failed", {{"error", r.error().message()}}));
  // The store closes caught up with the log (unless the log is down: it would only wait), so
  // that the tools reading a stopped server's store (reports, retention audit, backup) see
  // every event it acknowledged.
  if (parts_->log->check())
    if (auto r = parts_->runner->catch_up(grace); !r)
      spdlog::warn("{}", log_line("catch_up_at_stop_failed", {{"error", r.error().message()}}));
  parts_->runner->stop();
}

result<std::unique_ptr<server_stack>> server_stack::open(const serve_options& options,
                                                         std::unique_ptr<events::event_log> log) {
  std::pair<std::string, std::uint16_t> listen;
  if (options.http) {
    auto l = split_listen(options.listen);
    if (!l) return l.error();
    listen = l.value();
  }
  if (auto r = options.store.retention.check(); !r) return r.error();
  auto cal = core::calendar::load_file(options.store.calendar_file);
  if (!cal) return cal.error();
  auto p = std::make_unique<parts>();
  p->calendar = std::move(cal).value();
  {
    std::ifstream in(options.store.calendar_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    p->calendar_text = std::move(text).str();
  }
  p->retention = options.store.retention;
  if (options.clock != "manual" && options.clock != "system")
    return make_error(events::errc::bad_config,
                      "--clock must be system or manual, not '" + options.clock + "'");
  store_options log_options = options.store;
  if (!log_options.group.empty()) {
    if (log_options.kafka.empty())
      return make_error(events::errc::bad_config,
                        "--group needs --kafka: the servers of a group share a Kafka topic");
    if (log_options.advertise.empty()) {
      if (!options.http || listen.second == 0)
        return make_error(events::errc::bad_config,
                          "--group needs --advertise URL, or a --listen with a fixed port");
      log_options.advertise = "http://" + options.listen;
    }
  }
  p->host = listen.first;
  const std::filesystem::path data(options.store.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec)
    return make_error(events::errc::bad_config,
                      "cannot create " + data.string() + ": " + ec.message());
  auto master = projections::load_master_key({options.store.master_key_file,
                                              options.store.master_key_hex,
                                              (data / "master.key").string()});
  if (!master) return master.error();
  // One memory budget for the server's databases (store_options::memory_mib).
  const storage::memory_budget budget(options.store.memory_mib << 20,
                                      (options.store.memory_mib << 20) / 3);
  if (!log) {
    auto opened = open_log(log_options, &budget);
    if (!opened) return opened.error();
    log = std::move(opened).value();
  }
  p->log = std::move(log);
  auto store = projections::store::open((data / "store").string(),
                                        projections::store::open_mode::normal, &budget);
  if (!store) return store.error();
  p->store = std::move(store).value();
  // Only now, with the store locked: no other process holds this folder's claim.
  if (!log_options.kafka.empty() && log_options.claim_topic) {
    auto claim = events::single_writer_claim::acquire(
        {log_options.kafka, log_options.topic, log_options.partitions, !log_options.group.empty(),
         writer_instance(data), log_options.group_session_timeout,
         log_options.group_session_timeout + std::chrono::seconds(10), log_options.on_claim_lost});
    if (!claim) return claim.error();
    p->topic_claim = std::move(claim).value();
  }
  if (options.clock == "manual") {
    // Starts at the system time only the first time; afterwards where it was last set.
    auto stored = projections::read_server_state(*p->store, projections::server_state_key::manual_clock);
    if (!stored) return stored.error();
    const auto last = stored.value() ? decode_ms(*stored.value()) : std::nullopt;
    auto* st = p->store.get();
    auto persist = [st](timestamp t) {
      if (auto w = projections::write_server_state(*st, projections::server_state_key::manual_clock,
                                                   encode_ms(t));
          !w)
        spdlog::warn("{}", log_line("manual_clock_not_stored", {{"error", w.error().message()}}));
    };
    auto manual = std::make_unique<projections::manual_clock>(
        last.value_or(projections::system_clock{}.now()), persist);
    if (!last) manual->set(manual->now());
    p->manual_clock = manual.get();
    p->clock = std::move(manual);
  } else {
    p->clock = std::make_unique<projections::system_clock>();
  }
  auto keys = projections::key_store::open((data / "keys").string(), master.value(), &budget);
  if (!keys) return keys.error();
  p->keys = std::move(keys).value();
  p->keys->set_commit_linger({.linger = options.key_commit_linger});
  // The embedded log and a Kafka group's log make a new case's key durable with its record
  // (events/key_journal.h).
  if (events::key_journal* journal = events::journal_of(*p->log))
    if (auto r = p->keys->use_journal(*journal); !r) return r.error();
  // A group shares its data keys through the keys topic; a server with another master key is
  // refused here.
  if (events::key_log* key_log = p->log->keys()) {
    projections::key_replica::options ko;
    ko.away.server_clock = p->clock.get();  // back after the tombstones' retention: a reconcile
    auto replica = projections::key_replica::start(*key_log, *p->keys, master.value(), ko);
    if (!replica) return replica.error();
    p->key_replica = std::move(replica).value();
  }
  p->privacy = std::make_unique<projections::personal_data>(*p->keys);
  p->blobs = std::make_unique<projections::blob_store>((data / "blobs").string());
  // A group shares its call audio through the audio topic (projections/audio_replica.h).
  if (events::key_log* audio_log = p->log->audio()) {
    projections::audio_replica::options ao;
    ao.away.server_clock = p->clock.get();
    auto replica = projections::audio_replica::start(*audio_log, *p->blobs, ao);
    if (!replica) return replica.error();
    p->audio_replica = std::move(replica).value();
  }
  p->projections = std::make_unique<projections::projection_set>(*p->store);
  if (const auto& e = p->projections->load_error()) return *e;
  p->runner = std::make_unique<projections::projection_runner>(*p->log, *p->store,
                                                               p->projections->all());
  if (auto r = p->runner->start(); !r) return r.error();
  // Decisions need every acknowledged event: catch up before taking commands (through a stall:
  // a server started on a full disk goes on once space is freed).
  if (auto r = p->runner->catch_up(std::chrono::minutes(30),
                                   projections::projection_runner::on_stall::wait);
      !r)
    return r.error();

  core::context base;
  base.cal = &p->calendar;
  base.reg = &p->registry;
  base.retention = p->retention;
  p->writer = std::make_unique<projections::case_writer>(*p->log, *p->store, *p->runner,
                                                         p->privacy.get(), base, *p->clock);
  const bool in_group = !log_options.group.empty();
  p->in_group = in_group;
  // In a group the writer decides for no partition until the group assigns it some (join below).
  if (in_group) p->writer->enable_ownership();
  // Keys a crash left ahead of records never written, once the log is applied (a server alone on
  // Kafka: its keys precede their records).
  p->writer->drop_foreign_keys();
  // Alone on Kafka: the claim pauses the writer while it is in doubt, and hands it every
  // partition back, caught up with the log, once confirmed (events/kafka_single_writer.h).
  if (p->topic_claim && !in_group) {
    p->writer->set_write_lease([c = p->topic_claim.get()] { return c->current(); });
    // And asked again by the producer right before each record is queued (event_log.h).
    p->log->set_write_gate([c = p->topic_claim.get()] { return c->current(); });
    p->topic_claim->attach(p->writer.get());
  }
  if (p->key_replica)
    p->writer->set_handover_gate(
        [r = p->key_replica.get()](events::partition_id q, std::chrono::milliseconds timeout) {
          return r->take_over(q, timeout);
        });
  p->writer->set_registry_source(
      [reg = &p->projections->registry()] { return reg->snapshot(); });
  p->writer->set_calendar_source([cal = &p->projections->calendar()] { return cal->snapshot(); });
  p->registry_writer = std::make_unique<projections::registry_writer>(
      *p->log, *p->runner, p->projections->registry(), *p->clock);
  if (options.checkpoint_interval.count() > 0) {
    p->checkpointer = std::make_unique<events::checkpointer>(*p->log);
    p->checkpoints = events::start_checkpoints(
        *p->checkpointer, options.checkpoint_interval, [](const error& e) {
          spdlog::warn("{}", log_line("checkpoint_failed", {{"error", e.message()}}));
        });
  }
  p->calendar_writer = std::make_unique<projections::calendar_writer>(
      *p->log, *p->runner, p->projections->calendar(), *p->clock);
  p->token_writer = std::make_unique<projections::token_writer>(
      *p->log, *p->runner, p->projections->tokens(), *p->clock);
  // The registry, the calendar and the tokens are written under the same claim as the cases:
  // two writers of one stream would fork its chain (projections/reference_stream.h).
  if (p->topic_claim && !in_group) {
    const projections::write_lease lease = [c = p->topic_claim.get()] { return c->current(); };
    p->registry_writer->set_write_lease(lease);
    p->calendar_writer->set_write_lease(lease);
    p->token_writer->set_write_lease(lease);
  }
  p->once = std::make_unique<owner_writes>(*p->writer, *p->log);
  // The tokens an older store kept without a log event go into the log once (a tool's stack
  // without HTTP, or a group member that does not write the tokens' partition, leaves them for
  // a later start or tick).
  if (auto r =
          p->once->add({"unlogged_tokens_publication", projections::token_writer::stream_key,
                        [tokens = p->token_writer.get(), store = p->store.get()]() -> result<void> {
                          auto published = tokens->publish_unlogged(*store, caseline_actor);
                          if (!published) return published.error();
                          if (published.value() > 0)
                            spdlog::info("{}", log_line("unlogged_tokens_published",
                                                        {{"tokens", published.value()}}));
                          return success();
                        }});
      !r)
    spdlog::warn("{}", log_line("unlogged_tokens_not_published", {{"error", r.error().message()}}));
  if (!options.http) return std::unique_ptr<server_stack>(new server_stack(std::move(p)));

  // The first start publishes the shipped calendar years into the log; later years come by
  // publication (PUT /v1/calendar/{year}). seed() writes nothing when the log holds the years.
  if (auto r = p->once->add({"calendar_seed", projections::calendar_writer::stream_key,
                             [raw = p.get()]() -> result<void> {
                               auto seeded =
                                   raw->calendar_writer->seed(raw->calendar_text, caseline_actor);
                               if (!seeded) return seeded.error();
                               return success();
                             }});
      !r)
    return r.error();
  p->reviser = std::make_unique<projections::deadline_reviser>(*p->store, *p->writer,
                                                               p->projections->calendar());
  p->reminders =
      std::make_unique<projections::reminder_scheduler>(*p->store, *p->writer, p->calendar);
  p->reminder_ticker = projections::start_reminders(
      *p->reminders, *p->clock, options.reminder_interval, [raw = p.get()](timestamp now) {
        raw->once->tick();
        // A pass reads the projections: first they apply what the log holds now, so that a case
        // answered just before a pass (or the clock's move that starts one) is seen by it, not by
        // the next an interval later. Deliberately not an error: a pass on projections still
        // behind (stalled) works on what they hold, and the next pass does the rest.
        (void)raw->runner->catch_up(std::chrono::seconds(10));
        // Revise deadlines counted on a replaced calendar, then remind on the revised ones.
        if (auto r = raw->reviser->tick(now); !r)
          spdlog::warn("{}", log_line("deadline_revision_failed", {{"error", r.error().message()}}));
        else if (r.value().swept)
          spdlog::info("{}", log_line("deadlines_revised", {{"cases", r.value().cases},
                                                            {"revised", r.value().revised},
                                                            {"failed", r.value().failed}}));
        // Told on the calendar the log holds, not on what this server's projection applied so
        // far (at start, another server's seed may still be on its way): the same on every
        // server. Deliberately silent when the projection is more than a second behind, or
        // there is nothing to warn of yet: the next tick looks again.
        const civil_date today = shanghai_date(now);
        if (raw->calendar_warned_on != today) {
          auto w = projections::provisional_next_year(*raw->log, *raw->runner,
                                                      raw->projections->calendar(), today,
                                                      std::chrono::seconds(1));
          if (w && w.value()) {
            raw->calendar_warned_on = today;
            spdlog::warn("{}", log_line("calendar_provisional_next_year",
                                        {{"year", w.value()->year},
                                         {"official_days_left", w.value()->official_days_left}}));
          }
        }
      });
  if (!options.report_outbox.empty()) {
    p->report_jobs = start_report_jobs(
        *p->store, p->registry, p->calendar, options.report_outbox, *p->clock,
        std::chrono::minutes(1),
        [runner = p->runner.get(), log = p->log.get()] {
          // In a group, the jobs run on the owner of partition 0 only: once per due report.
          if (!log->owns(events::partition_id{0})) return false;
          // Deliberately not an error: a run on projections still behind writes what they
          // hold, and the next wake or interval writes the rest.
          (void)runner->catch_up(std::chrono::seconds(10));
          return true;
        },
        options.assessment_weights);
    // A matter flagged major-urgent wakes the jobs: its special report is due that day.
    p->writer->set_appended_observer(
        [wake = p->report_jobs.poker()](const projections::command_outcome& o) {
          for (const auto& e : o.events)
            if (e.type_id == core::flagged_major_urgent::type_id) return wake();
        });
  }
  // The disk's reserve, read once before the first request and then at every interval.
  if (options.min_free_disk_mib > 0) {
    p->disk = std::make_unique<storage::disk_guard>(options.store.data_dir,
                                                    options.min_free_disk_mib * 1024 * 1024);
    const auto check = [disk = p->disk.get()] {
      auto changed = disk->refresh();
      if (!changed) {
        spdlog::warn("{}", log_line("disk_unreadable", {{"error", changed.error().message()}}));
        return;
      }
      if (!changed.value()) return;
      const auto free_mib = disk->free_bytes() / (std::uint64_t{1} << 20);
      const auto reserve_mib = disk->reserve_bytes() / (std::uint64_t{1} << 20);
      if (disk->refusing())
        spdlog::error("{}", log_line("disk_below_reserve", {{"dir", disk->dir()},
                                                            {"free_mib", free_mib},
                                                            {"reserve_mib", reserve_mib},
                                                            {"commands", "refused"}}));
      else
        spdlog::info("{}", log_line("disk_above_reserve", {{"dir", disk->dir()},
                                                           {"free_mib", free_mib},
                                                           {"reserve_mib", reserve_mib},
                                                           {"commands", "accepted"}}));
    };
    check();
    p->disk_checks = events::periodic_task("disk-check", {options.disk_check_interval}, check);
  }
  std::vector<std::string> names;
  for (const auto* proj : p->projections->all()) names.emplace_back(proj->name());
  gateway::api_options ao;
  ao.token_rate = options.token_rate;
  ao.status_rate = options.status_rate;
  ao.assessment_weights = options.assessment_weights;
  gateway::services services{*p->log,
                             *p->store,
                             *p->runner,
                             *p->writer,
                             *p->clock,
                             p->projections->calendar(),
                             *p->calendar_writer,
                             p->projections->registry(),
                             *p->registry_writer,
                             p->manual_clock,
                             std::move(names),
                             *p->privacy,
                             *p->blobs,
                             p->retention,
                             *p->keys,
                             p->reminder_ticker.poker()};
  services.create_token = [w = p->token_writer.get(), reg = &p->projections->registry()](
                              const gateway::token_order& o, const events::actor& by,
                              const std::string& correlation_id) {
    return tools::create_token(*w, *reg->snapshot(),
                               token_request{o.role, o.center, o.unit, o.expires_at}, by,
                               correlation_id);
  };
  services.tokens = p->token_writer.get();
  services.disk = p->disk.get();
  // The server is made below, before any request can arrive; stop() ends the api's workers (the
  // only callers) before the server is destroyed.
  services.server_metrics = [raw = p.get()] {
    auto gauges =
        raw->server ? raw->server->connection_metrics() : std::vector<gateway::gauge_sample>{};
    // A counter: its samples under one name and help, one per label set.
    const auto counter = [&gauges](const char* name, const char* help, std::uint64_t n,
                                   std::vector<std::pair<std::string, std::string>> labels = {}) {
      gauges.push_back({name, help, "counter", std::move(labels), static_cast<double>(n)});
    };
    const auto& r = *raw->reminders;
    for (const auto& [outcome, n] :
         {std::pair{"written", r.written()}, std::pair{"already_sent", r.no_ops()},
          std::pair{"refused", r.refused()}, std::pair{"failed", r.failed()}})
      counter("caseline_reminders_total",
              "Art. 35 reminders the reminder task submitted, by outcome", n,
              {{"outcome", outcome}});
    counter("caseline_reminder_passes_total",
            "Passes of the reminder task over the passed deadlines", r.passes());
    gauges.push_back({"caseline_reminders_in_flight",
                      "Art. 35 reminders submitted whose outcome is pending",
                      "gauge",
                      {},
                      static_cast<double>(r.in_flight())});
    const auto& key_store = *raw->keys;
    for (const auto& [of, n] : {std::pair{"new_keys", key_store.commit_syncs()},
                                std::pair{"journaled_keys", key_store.journal_syncs()}})
      counter("caseline_key_store_syncs_total",
              "Synced writes of the key store: new keys (group-committed) and keys the log "
              "journaled",
              n, {{"of", of}});
    counter("caseline_key_store_commit_lingers_total",
            "Groups of new keys whose synced write waited for more keys (under load)",
            key_store.commit_lingers());
    if (const auto commits = events::group_commits_of(*raw->log)) {
      counter("caseline_log_group_commits_total",
              "Group commits of the embedded log: one WAL sync each", commits->groups);
      counter("caseline_log_commit_lingers_total",
              "Group commits of the embedded log whose sync waited for more appends (under load)",
              commits->lingers);
    }
    if (const auto read_back = events::records_read_back_of(*raw->log))
      counter("caseline_log_records_read_back_total",
              "Records the projections read back from the embedded log rather than taking them "
              "as written (a start behind its end, or a lag)",
              *read_back);
    if (const auto attempts = events::resume_attempts_of(*raw->log))
      counter("caseline_log_resume_attempts_total",
              "Tries to resume the embedded log after a failed write (a full disk): at once, "
              "then at most one a second while it fails",
              *attempts);
    return gauges;
  };
  // /readyz lists the partitions the writer takes now: alone on Kafka, none while its claim is
  // in doubt.
  if (in_group || p->topic_claim)
    services.writable = [w = p->writer.get()] { return w->accepting(); };
  if (in_group) {
    services.writes = [w = p->writer.get()](events::partition_id q) { return w->accepts(q); };
    services.owner_url =
        [o = &p->projections->owners()](events::partition_id q) -> std::optional<std::string> {
      auto claim = o->owner(q);
      if (!claim) return std::nullopt;
      return claim->member;
    };
    services.self_url = log_options.advertise;
  }
  if (options.adjust_services) options.adjust_services(services);
  p->api = std::make_unique<gateway::api>(std::move(services), ao);
  gateway::server_options so;
  so.host = listen.first;
  so.port = listen.second;
  so.threads = options.io_threads;
  so.read_timeout = options.read_timeout;
  so.idle_timeout = options.idle_timeout;
  so.max_connections = options.max_connections;
  so.max_connections_per_address = options.max_connections_per_address;
  so.trusted_proxies = options.trusted_proxies;
  p->server = std::make_unique<gateway::http_server>(
      so, [api = p->api.get()](gateway::http_request req, gateway::responder respond) {
        api->handle(std::move(req), std::move(respond));
      });
  if (auto r = p->server->start(); !r) return r.error();
  // Everything that answers for a partition exists: ask the group for partitions. The writer
  // takes each once the projections have applied what its previous owner wrote.
  if (in_group)
    if (auto r = p->log->join(*p->writer); !r) return r.error();
  return std::unique_ptr<server_stack>(new server_stack(std::move(p)));
}

int run_serve(const serve_options& options, std::ostream& out, std::ostream& err) {
  // Block the stop signals in every thread created from here on; this thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  // SIGUSR1: the topic's single-writer claim is lost (below).
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Without a group on Kafka, a server whose topic another writer took while it was away
  // (events/kafka_single_writer.h) stops, with an error: its restart (the service manager's) is
  // refused while the other writes, and takes the claim back, reading what it wrote, after.
  struct lost_claim {
    std::mutex mu;
    std::string reason;  // guarded by mu
  };
  auto lost = std::make_shared<lost_claim>();
  serve_options with_claim = options;
  with_claim.store.on_claim_lost = [lost, main = pthread_self()](const std::string& reason) {
    {
      std::lock_guard lk(lost->mu);
      lost->reason = reason;
    }
    pthread_kill(main, SIGUSR1);
  };
  auto stack = server_stack::open(with_claim);
  if (!stack) {
    err << "caseline serve: " << stack.error().message() << "\n";
    return 1;
  }
  // The machine's operator administers tokens through the data folder's socket (the way back
  // for one who has lost every admin token), open before the server says it listens. Without
  // it the server still serves: the hotline does not stop for an admin channel.
  auto local = local_admin_socket::open(
      options.store.data_dir,
      [s = stack.value().get()](const local_request& r, const local_peer& peer) {
        return local_admin_answer(*s, r, peer);
      });
  if (!local)
    spdlog::warn("{}", log_line("local_admin_unavailable", {{"error", local.error().message()}}));
  out << fmt::format("caseline listening on http://{} (data {}, log {})\n",
                     stack.value()->address(), options.store.data_dir,
                     options.store.kafka.empty()
                         ? std::string("embedded")
                         : fmt::format("kafka {} topic {}", options.store.kafka,
                                       options.store.topic))
      << std::flush;
  // The very first start of a log hands out one admin token (the secret on stdout only; the log
  // holds its hash), so that the first operator creates the others through the API without
  // stopping the server. In a group the server that owns the tokens' partition issues it, when
  // the group has given it that partition.
  if (auto boot = stack.value()->issue_bootstrap_token([&out](const projections::created_token& t) {
        out << "bootstrap admin token (shown once, expires in 24 hours): " << t.secret << "\n"
            << std::flush;
      });
      !boot) {
    err << "caseline serve: bootstrap token: " << boot.error().message() << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  if (local) local.value().reset();
  if (sig == SIGUSR1) {
    std::string reason;
    {
      std::lock_guard lk(lost->mu);
      reason = lost->reason;
    }
    spdlog::error("{}", log_line("shutdown", {{"cause", "single_writer_claim_lost"}}));
    stack.value()->stop(options.shutdown_grace);
    err << "caseline serve: stopped: this server lost topic " << options.store.topic
        << "'s single-writer claim, " << reason
        << ". Start it again: it takes the claim back once no other server without --group "
           "holds it\n";
    return 1;
  }
  spdlog::info("{}", log_line("shutdown", {{"signal", sig}}));
  stack.value()->stop(options.shutdown_grace);
  return 0;
}

}  // namespace caseline::tools
