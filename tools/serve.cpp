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
#include "events/kafka_event_log.h"
#include "gateway/api.h"
#include "gateway/server.h"
#include "projections/case_projection.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/runner.h"
#include "projections/store.h"

namespace caseline::tools {

namespace {

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    std::size_t used = 0;
    const unsigned long p = std::stoul(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

int run_serve(const serve_options& options, std::ostream& out, std::ostream& err,
              const std::function<void(const std::string&)>& ready) {
  // Block the stop signals in every thread created from here on; this thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::string host;
  std::uint16_t port = 0;
  if (!split_listen(options.listen, host, port)) {
    err << "caseline serve: --listen must be HOST:PORT, not '" << options.listen << "'\n";
    return 2;
  }
  auto cal = core::calendar::load_file(options.store.calendar_file);
  if (!cal) {
    err << "caseline serve: calendar " << options.store.calendar_file << ": "
        << cal.error().message() << "\n";
    return 2;
  }
  std::error_code fs_ec;
  std::filesystem::create_directories(options.store.data_dir, fs_ec);
  if (fs_ec) {
    err << "caseline serve: cannot create " << options.store.data_dir << ": " << fs_ec.message()
        << "\n";
    return 2;
  }
  std::unique_ptr<events::event_log> log;
  if (options.store.kafka.empty()) {
    auto opened = events::open_embedded_log(
        {(std::filesystem::path(options.store.data_dir) / "log").string(),
         options.store.partitions});
    if (!opened) {
      err << "caseline serve: " << opened.error().message() << "\n";
      return 1;
    }
    log = std::move(opened).value();
  } else {
    events::kafka_log_options k;
    k.brokers = options.store.kafka;
    k.topic = options.store.topic;
    k.partitions = options.store.partitions;
    auto opened = events::open_kafka_log(k);
    if (!opened) {
      err << "caseline serve: " << opened.error().message() << "\n";
      return 1;
    }
    log = std::move(opened).value();
  }
  auto store = projections::store::open(
      (std::filesystem::path(options.store.data_dir) / "store").string());
  if (!store) {
    err << "caseline serve: " << store.error().message() << "\n";
    return 1;
  }
  projections::case_projection cases(*store.value());
  projections::projection_runner runner(*log, *store.value(), {&cases});
  if (auto r = runner.start(); !r) {
    err << "caseline serve: " << r.error().message() << "\n";
    return 1;
  }
  // Decisions need every acknowledged event: catch up before taking commands.
  if (auto r = runner.catch_up(std::chrono::minutes(30)); !r) {
    err << "caseline serve: " << r.error().message() << "\n";
    return 1;
  }

  const core::registry registry = core::registry::henan();
  projections::system_clock clock;
  core::context base;
  base.cal = &cal.value();
  base.reg = &registry;
  projections::case_writer writer(*log, *store.value(), runner, base, clock);
  gateway::api api({*log, *store.value(), runner, writer, clock});
  gateway::server_options so;
  so.host = host;
  so.port = port;
  so.threads = options.io_threads;
  gateway::http_server server(so, [&api](gateway::http_request req, gateway::responder respond) {
    api.handle(std::move(req), std::move(respond));
  });
  if (auto r = server.start(); !r) {
    err << "caseline serve: " << r.error().message() << "\n";
    return 1;
  }
  const std::string address = fmt::format("{}:{}", host, server.port());
  out << fmt::format("caseline listening on http://{} (data {}, log {})\n", address,
                     options.store.data_dir,
                     options.store.kafka.empty()
                         ? std::string("embedded")
                         : fmt::format("kafka {} topic {}", options.store.kafka,
                                       options.store.topic))
      << std::flush;
  if (ready) ready(address);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info(R"({{"event":"shutdown","signal":{}}})", sig);
  server.stop(options.shutdown_grace);  // stop accepting; answer what is in flight
  writer.drain(options.shutdown_grace);
  if (auto r = log->flush(options.shutdown_grace); !r)
    err << "caseline serve: " << r.error().message() << "\n";
  runner.stop();
  return 0;
}

}  // namespace caseline::tools
