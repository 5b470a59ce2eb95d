#include "tools/bench_seed.h"

#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/db.h>

#include "events/errc.h"
#include "projections/retention.h"
#include "projections/store.h"
#include "tools/install_paths.h"
#include "tools/serve.h"

namespace caseline::tools {

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

// Whether RocksDB still flushes or compacts anything of the store.
bool busy(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
  std::uint64_t v = 0;
  for (const char* p : {"rocksdb.num-running-flushes", "rocksdb.num-running-compactions",
                        "rocksdb.mem-table-flush-pending", "rocksdb.compaction-pending"})
    if (db.GetIntProperty(cf, p, &v) && v != 0) return true;
  return false;
}

// The settings bench_server gives `caseline serve` on its command line.
serve_options bench_serve_options(const bench_server_options& o) {
  serve_options so;
  so.listen = "127.0.0.1:0";
  so.store.data_dir = o.data_dir;
  so.store.partitions = o.partitions;
  so.store.calendar_file = o.calendar_file.empty() ? default_calendar_file() : o.calendar_file;
  if (!o.kafka.empty()) {
    so.store.kafka = o.kafka;
    so.store.topic = o.topic;
  }
  so.clock = "manual";
  so.checkpoint_interval = std::chrono::minutes(0);
  so.token_rate = {1e9, 1e9};
  so.max_connections_per_address = 2048;
  return so;
}

}  // namespace

result<std::vector<projections::command_outcome>> submit_all(
    projections::case_writer& writer, std::vector<projections::command_request> requests) {
  std::vector<std::pair<std::size_t, projections::command_request>> indexed;
  indexed.reserve(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) indexed.emplace_back(i, std::move(requests[i]));
  std::vector<projections::command_outcome> outcomes(indexed.size());
  std::optional<error> first;
  projections::submit_windowed(writer, std::move(indexed), {},
                               [&](std::vector<projections::windowed_answer>& answers) {
                                 for (auto& a : answers) {
                                   if (!a.outcome) {
                                     if (!first) first = a.outcome.error();
                                     continue;
                                   }
                                   outcomes[a.index] = std::move(a.outcome).value();
                                 }
                               });
  if (first) return *first;
  return outcomes;
}

result<std::chrono::milliseconds> settle_store(projections::store& s,
                                               std::chrono::milliseconds timeout) {
  const auto started = steady::now();
  if (auto f = s.flush(); !f) return f.error();
  const auto deadline = started + timeout;
  for (;;) {
    bool any = false;
    for (std::size_t i = 0; i < static_cast<std::size_t>(projections::family::count_) && !any; ++i)
      any = busy(s.db(), s.cf(static_cast<projections::family>(i)));
    if (!any) return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
    if (steady::now() >= deadline)
      return make_error(events::errc::unavailable,
                        "the store's compactions did not end within the settle timeout");
    // RocksDB offers no wait for its background work in this version: look again shortly.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

result<seeded_store> seed_received_cases(const bench_server_options& o, std::uint64_t cases,
                                         const std::string& center) {
  auto stack = server_stack::open(bench_serve_options(o));
  if (!stack) return stack.error();
  auto& s = *stack.value();
  seeded_store seeded;
  if (auto boot = s.issue_bootstrap_token(
          [&](const projections::created_token& t) { seeded.admin_token = t.secret; });
      !boot)
    return boot.error();
  if (seeded.admin_token.empty())
    return make_error(events::errc::unavailable, "the seeded server issued no bootstrap token");
  const core::actor agent{user_id{"bench-agent"}, core::role::agent, center_code{center}, {}};
  seeded.ids.reserve(cases);
  const auto started = steady::now();
  // In chunks, so that the requests and their outcomes held at once stay small.
  constexpr std::uint64_t chunk = 20'000;
  for (std::uint64_t from = 0; from < cases; from += chunk) {
    std::vector<projections::command_request> receives;
    for (std::uint64_t n = from; n < std::min(cases, from + chunk); ++n) {
      projections::command_request r;
      r.cmd = core::receive{core::channel::phone,
                            center_code{center},
                            core::caller_info{fmt::format("1380000{:04}", n % 10000), "bench"},
                            fmt::format("seeded case {}: the bus did not stop at the station", n),
                            std::nullopt,
                            {},
                            ""};
      r.who = agent;
      r.correlation_id = "bench-seed";
      receives.push_back(std::move(r));
    }
    auto received = submit_all(s.writer(), std::move(receives));
    if (!received) return received.error();
    for (const auto& outcome : received.value()) seeded.ids.push_back(outcome.state.id());
  }
  seeded.seconds = seconds_since(started);
  // stop() drains the writer and catches the projections up with the log; the store stays open
  // until the stack is destroyed, so it is settled in between.
  s.stop(std::chrono::seconds(10));
  auto settled = settle_store(s.store(), std::chrono::minutes(10));
  if (!settled) return settled.error();
  seeded.settle_seconds = std::chrono::duration<double>(settled.value()).count();
  return seeded;
}

}  // namespace caseline::tools
