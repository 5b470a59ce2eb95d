#include "tools/serve.h"

#include <csignal>
#include <filesystem>
#include <ostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/calendar.h"
#include "core/decide.h"
#include "core/registry.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "events/kafka_event_log.h"
#include "gateway/api.h"
#include "gateway/server.h"
#include "projections/case_index.h"
#include "projections/case_projection.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/registry_projection.h"
#include "projections/runner.h"
#include "projections/store.h"
#include "tools/token_cmd.h"

namespace caseline::tools {

namespace {

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

}  // namespace

result<std::unique_ptr<events::event_log>> open_log(const store_options& options) {
  if (!options.kafka.empty()) {
    events::kafka_log_options k;
    k.brokers = options.kafka;
    k.topic = options.topic;
    k.partitions = options.partitions;
    return events::open_kafka_log(k);
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return make_error(events::errc::bad_config,
                      "cannot create " + options.data_dir + ": " + ec.message());
  return events::open_embedded_log(
      {(std::filesystem::path(options.data_dir) / "log").string(), options.partitions});
}

// Members in construction order; destroyed in reverse (server first, log last).
struct server_stack::parts {
  core::calendar calendar;
  core::registry registry = core::registry::henan();  // base; decisions read registry_proj's
  std::unique_ptr<projections::clock> clock;
  projections::manual_clock* manual_clock{nullptr};  // = clock, with --clock manual
  std::unique_ptr<events::event_log> log;
  std::unique_ptr<projections::store> store;
  std::unique_ptr<projections::case_projection> cases;
  std::unique_ptr<projections::case_index_projection> case_index;
  std::unique_ptr<projections::registry_projection> registry_proj;
  std::unique_ptr<projections::projection_runner> runner;
  std::unique_ptr<projections::case_writer> writer;
  std::unique_ptr<projections::registry_writer> registry_writer;
  std::unique_ptr<gateway::api> api;
  std::unique_ptr<gateway::http_server> server;
  std::string host;
  bool stopped{false};
};

server_stack::server_stack(std::unique_ptr<parts> p) : parts_(std::move(p)) {}

server_stack::~server_stack() { stop(std::chrono::seconds(10)); }

std::string server_stack::address() const {
  return fmt::format("{}:{}", parts_->host, parts_->server->port());
}

result<projections::created_token> server_stack::create_token(const token_request& r) {
  return tools::create_token(*parts_->store, r);
}

void server_stack::stop(std::chrono::milliseconds grace) {
  if (!parts_ || parts_->stopped) return;
  parts_->stopped = true;
  parts_->server->stop(grace);  // stop accepting; answer what is in flight
  parts_->writer->drain(grace);
  if (auto r = parts_->log->flush(grace); !r)
    spdlog::warn(R"({{"event":"flush_failed","error":"{}"}})", r.error().message());
  parts_->runner->stop();
}

result<std::unique_ptr<server_stack>> server_stack::open(const serve_options& options,
                                                         std::unique_ptr<events::event_log> log) {
  auto listen = split_listen(options.listen);
  if (!listen) return listen.error();
  auto cal = core::calendar::load_file(options.store.calendar_file);
  if (!cal) return cal.error();
  auto p = std::make_unique<parts>();
  p->calendar = std::move(cal).value();
  if (options.clock == "manual") {
    auto manual = std::make_unique<projections::manual_clock>(projections::system_clock{}.now());
    p->manual_clock = manual.get();
    p->clock = std::move(manual);
  } else if (options.clock == "system") {
    p->clock = std::make_unique<projections::system_clock>();
  } else {
    return make_error(events::errc::bad_config,
                      "--clock must be system or manual, not '" + options.clock + "'");
  }
  p->host = listen.value().first;
  if (!log) {
    auto opened = open_log(options.store);
    if (!opened) return opened.error();
    log = std::move(opened).value();
  }
  p->log = std::move(log);
  std::error_code ec;
  std::filesystem::create_directories(options.store.data_dir, ec);
  auto store = projections::store::open(
      (std::filesystem::path(options.store.data_dir) / "store").string());
  if (!store) return store.error();
  p->store = std::move(store).value();
  p->cases = std::make_unique<projections::case_projection>(*p->store);
  p->case_index = std::make_unique<projections::case_index_projection>(*p->store);
  p->registry_proj = std::make_unique<projections::registry_projection>(*p->store);
  if (const auto& e = p->registry_proj->load_error()) return *e;
  const std::vector<projections::projection*> projections{p->cases.get(), p->case_index.get(),
                                                          p->registry_proj.get()};
  p->runner = std::make_unique<projections::projection_runner>(*p->log, *p->store, projections);
  if (auto r = p->runner->start(); !r) return r.error();
  // Decisions need every acknowledged event: catch up before taking commands.
  if (auto r = p->runner->catch_up(std::chrono::minutes(30)); !r) return r.error();

  core::context base;
  base.cal = &p->calendar;
  base.reg = &p->registry;
  p->writer = std::make_unique<projections::case_writer>(*p->log, *p->store, *p->runner, base,
                                                         *p->clock);
  p->writer->set_registry_source([reg = p->registry_proj.get()] { return reg->snapshot(); });
  p->registry_writer = std::make_unique<projections::registry_writer>(
      *p->log, *p->runner, *p->registry_proj, *p->clock);
  std::vector<std::string> names;
  for (const auto* proj : projections) names.emplace_back(proj->name());
  gateway::api_options ao;
  ao.token_rate = options.token_rate;
  ao.status_rate = options.status_rate;
  p->api = std::make_unique<gateway::api>(
      gateway::services{*p->log, *p->store, *p->runner, *p->writer, *p->clock, p->calendar,
                        *p->registry_proj, *p->registry_writer, p->manual_clock,
                        std::move(names)},
      ao);
  gateway::server_options so;
  so.host = listen.value().first;
  so.port = listen.value().second;
  so.threads = options.io_threads;
  so.read_timeout = options.read_timeout;
  so.idle_timeout = options.idle_timeout;
  p->server = std::make_unique<gateway::http_server>(
      so, [api = p->api.get()](gateway::http_request req, gateway::responder respond) {
        api->handle(std::move(req), std::move(respond));
      });
  if (auto r = p->server->start(); !r) return r.error();
  return std::unique_ptr<server_stack>(new server_stack(std::move(p)));
}

int run_serve(const serve_options& options, std::ostream& out, std::ostream& err) {
  // Block the stop signals in every thread created from here on; this thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto stack = server_stack::open(options);
  if (!stack) {
    err << "caseline serve: " << stack.error().message() << "\n";
    return 1;
  }
  out << fmt::format("caseline listening on http://{} (data {}, log {})\n",
                     stack.value()->address(), options.store.data_dir,
                     options.store.kafka.empty()
                         ? std::string("embedded")
                         : fmt::format("kafka {} topic {}", options.store.kafka,
                                       options.store.topic))
      << std::flush;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info(R"({{"event":"shutdown","signal":{}}})", sig);
  stack.value()->stop(options.shutdown_grace);
  return 0;
}

}  // namespace caseline::tools
