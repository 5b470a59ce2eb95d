#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include "core/result.h"

namespace caseline::tools {

// Where the store and the log live. The same options serve every subcommand that reads or writes
// the store (serve, rebuild, replay, report, retention, token, ...).
struct store_options {
  std::string data_dir{"caseline-data"};  // <data>/store (projections), <data>/log (embedded log)
  std::string kafka;                      // bootstrap servers; empty: the embedded log
  std::string topic{"cases.events"};
  std::int32_t partitions{8};
  std::string calendar_file;              // the working-day calendar data file
};

struct serve_options {
  store_options store;
  std::string listen{"127.0.0.1:8080"};   // HOST:PORT; port 0 picks a free port
  unsigned io_threads{2};
  std::chrono::seconds shutdown_grace{10};
};

// Runs the server until SIGINT or SIGTERM: opens the
// log and the store, catches the projections up with the log, then serves. `ready` is called
// with the bound address once requests are accepted. Returns the process exit code.
int run_serve(const serve_options& options, std::ostream& out, std::ostream& err,
              const std::function<void(const std::string& address)>& ready = {});

}  // namespace caseline::tools
