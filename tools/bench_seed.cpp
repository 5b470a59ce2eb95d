#include "tools/bench_seed.h"

#include <functional>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/db.h>

#include "events/errc.h"
#include "projections/personal_data.h"
#include "projections/registry_projection.h"
#include "projections/retention.h"
#include "projections/store.h"
#include "tools/bench_topics.h"
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

namespace {

// What a seeded case's history is (seed_received_cases' `histories`), by its number n: the
// shares a center's archive holds, its queues kept full enough to page through at any size.
enum class shape { received, transferred, answered_at_once, closed };

shape shape_of(std::uint64_t n) {
  switch (n % 20) {
    case 0:
      return shape::received;  // 5 %: waiting to be classified (the to_classify queue)
    case 1:
      return shape::transferred;  // 5 %: at a unit, its reply due
    case 2:
    case 3:
      return shape::answered_at_once;  // 10 %: answered on the call, archived (Art. 26)
    default:
      return shape::closed;  // 80 %: classified, transferred, replied, revisited, archived
  }
}

// Two handling units of `center`, registered through the registry's writer as PUT /v1/units does.
result<std::vector<unit_id>> register_units(server_stack& s, const std::string& center) {
  std::vector<unit_id> units;
  for (const char* suffix : {"yg", "gl"}) {
    core::unit_registered e{unit_id{center + "-bench-" + suffix},
                            std::string("bench unit ") + suffix, center_code{center},
                            core::unit_contact{"联系人", "13900000000", "", ""}};
    if (auto sealed = s.privacy().seal(e); !sealed) return sealed.error();
    auto put = s.registry().put(e, events::actor{"bench-admin", "admin", center, ""}, "bench-seed");
    if (!put) return put.error();
    units.push_back(e.unit);
  }
  return units;
}

// The commands that take the cases `ids` (numbered from `first`) from received to their shape,
// one step of every case at a time, as a center's day would interleave them. Returns how many.
result<std::uint64_t> live_histories(server_stack& s, const std::vector<std::string>& ids,
                                     std::uint64_t first, const std::string& center,
                                     const std::vector<unit_id>& units) {
  const center_code c{center};
  const core::actor agent{user_id{"bench-agent"}, core::role::agent, c, {}};
  const core::actor visitor{user_id{"bench-revisit"}, core::role::revisit_officer, c, {}};
  std::uint64_t commands = 0;
  using maybe_request = std::optional<projections::command_request>;
  // One step: the command for case n, or none when its history stops before it. The outcomes
  // come back in the order of `ids`, an empty state for a case the step skipped.
  const auto step = [&](const std::function<maybe_request(std::uint64_t n)>& command)
      -> result<std::vector<projections::command_outcome>> {
    std::vector<projections::command_request> requests;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto r = command(first + i);
      if (!r) continue;
      r->id = case_id{ids[i]};
      r->correlation_id = "bench-seed";
      requests.push_back(std::move(*r));
      which.push_back(i);
    }
    commands += requests.size();
    auto done = submit_all(s.writer(), std::move(requests));
    if (!done) return done.error();
    std::vector<projections::command_outcome> by_case(ids.size());
    for (std::size_t k = 0; k < which.size(); ++k) by_case[which[k]] = std::move(done.value()[k]);
    return by_case;
  };
  const auto unit_of = [&](std::uint64_t n) { return units[n / 20 % units.size()]; };
  const auto as = [](core::command cmd, const core::actor& who) {
    projections::command_request r;
    r.cmd = std::move(cmd);
    r.who = who;
    return maybe_request(std::move(r));
  };
  auto answered = step([&](std::uint64_t n) {
    switch (shape_of(n)) {
      case shape::received:
        return maybe_request();
      case shape::answered_at_once:
        return as(core::answer_immediately{"已答复来电人"}, agent);
      default: {
        const auto p = n % 100;
        const auto cat = p < 40   ? core::category::complaint
                         : p < 85 ? core::category::inquiry
                                  : core::category::suggestion;
        return as(core::classify{cat,
                                 static_cast<core::domain>(n % 6),
                                 {bench_topics[n % bench_topics.size()]},
                                 false,
                                 ""},
                  agent);
      }
    }
  });
  if (!answered) return answered.error();
  auto transferred = step([&](std::uint64_t n) {
    const auto sh = shape_of(n);
    return sh == shape::transferred || sh == shape::closed ? as(core::transfer{unit_of(n)}, agent)
                                                           : maybe_request();
  });
  if (!transferred) return transferred.error();
  auto replied = step([&](std::uint64_t n) {
    if (shape_of(n) != shape::closed) return maybe_request();
    const core::actor staff{user_id{"bench-staff"}, core::role::unit_staff, {}, unit_of(n)};
    return as(
        core::reply{"经核查，情况属实", "已约谈驾驶员并责令整改", "《道路运输条例》", n % 10 != 0},
        staff);
  });
  if (!replied) return replied.error();
  auto revisited = step([&](std::uint64_t n) {
    // A complaint, and a matter the rules sample, is revisited after its reply or its immediate
    // answer (Art. 23): the state after that step says which.
    const auto sh = shape_of(n);
    if (sh != shape::closed && sh != shape::answered_at_once) return maybe_request();
    const auto& after = sh == shape::closed ? replied.value() : answered.value();
    if (!after[n - first].state.revisit_required) return maybe_request();
    const bool reached = n % 10 != 1;
    return as(
        core::revisit{
            reached, reached ? std::optional(static_cast<core::satisfaction>(n % 3)) : std::nullopt,
            std::nullopt, false, ""},
        visitor);
  });
  if (!revisited) return revisited.error();
  auto archived = step([&](std::uint64_t n) {
    const auto sh = shape_of(n);
    return sh == shape::closed || sh == shape::answered_at_once ? as(core::archive{}, agent)
                                                                : maybe_request();
  });
  if (!archived) return archived.error();
  return commands;
}

}  // namespace

result<seeded_store> seed_received_cases(const bench_server_options& o, std::uint64_t cases,
                                         const std::string& center, bool histories) {
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
  std::vector<unit_id> units;
  if (histories) {
    auto registered = register_units(s, center);
    if (!registered) return registered.error();
    units = std::move(registered).value();
  }
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
    seeded.commands += receives.size();
    auto received = submit_all(s.writer(), std::move(receives));
    if (!received) return received.error();
    for (const auto& outcome : received.value()) seeded.ids.push_back(outcome.state.id());
    if (histories) {
      const std::vector<std::string> received_ids(
          seeded.ids.begin() + static_cast<std::ptrdiff_t>(from), seeded.ids.end());
      auto more = live_histories(s, received_ids, from, center, units);
      if (!more) return more.error();
      seeded.commands += more.value();
    }
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
