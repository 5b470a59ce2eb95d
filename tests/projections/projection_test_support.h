#pragma once

// Shared by the projection tests: a whole write-and-read stack over a real RocksDB store and a
// real log (embedded in a temporary folder, or Kafka through KAFKA_BOOTSTRAP), driven by a
// manual clock; scenarios written as data (a command at a date, by whom, for which case).

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/commands.h"
#include "events/embedded_event_log.h"
#include "events/kafka_event_log.h"
#include "events/log_reader.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/rebuild.h"
#include "projections/runner.h"
#include "projections/store.h"
#include "tests/core/test_support.h"
#include "tests/events/kafka_test_support.h"
#include "tests/support/temp_dir.h"

namespace caseline::projections::testing {

using namespace std::chrono_literals;
using core::testing::date;

using events::testing::kafka_bootstrap;
using events::testing::unique_topic;
using test::temp_dir;

enum class backend { embedded, kafka };

// 10:00 Shanghai time of a day, plus `minutes`: scenario steps of one day keep their order.
inline timestamp at(civil_date d, int minutes = 0) {
  return timestamp{shanghai_start_of_day(d).ms + (10LL * 60 + minutes) * 60 * 1000};
}

// The server's parts over one data folder, closable and reopenable (a restart) without losing
// the log. The revisit sample is 100% so that every matter replied or answered at once waits for
// a revisit: the figures then depend only on the scenario, not on the order of the closures in
// the log (Art. 23, 46).
class stack {
 public:
  explicit stack(backend b = backend::embedded, std::int32_t partitions = 4)
      : backend_(b), partitions_(partitions), clock_(at(date("2026-01-05"))) {
    world_.sla.revisit_sample_percent = 100;
    if (b == backend::kafka) topic_ = unique_topic("caseline.projections");
    open_log();
    open();
  }
  ~stack() { close(); }

  void open_log() {
    if (backend_ == backend::embedded) {
      auto l = events::open_embedded_log({dir_.sub("log"), partitions_});
      REQUIRE_MESSAGE(l, (l ? "" : l.error().message()));
      log_ = std::move(l).value();
    } else {
      events::kafka_log_options o;
      o.brokers = kafka_bootstrap();
      o.topic = topic_;
      o.partitions = partitions_;
      o.client_id = "caseline-projections-test";
      auto l = events::open_kafka_log(o);
      REQUIRE_MESSAGE(l, (l ? "" : l.error().message()));
      log_ = std::move(l).value();
    }
  }

  // Opens the store, runs the projections until they have caught up, then the writer.
  void open(const std::string& store_name = "store") {
    auto s = store::open(dir_.sub(store_name));
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    store_ = std::move(s).value();
    projections_ = std::make_unique<projection_set>(*store_);
    runner_ = std::make_unique<projection_runner>(*log_, *store_, projections_->all());
    REQUIRE(runner_->start());
    auto caught = runner_->catch_up(60s);
    REQUIRE_MESSAGE(caught, (caught ? "" : caught.error().message()));
    writer_ = new_writer();
  }

  // Another writer over the same store and runner (as another server of a group would be), on
  // the stack's log or on `log` (one over it), sealing personal fields with `privacy` if given.
  std::unique_ptr<case_writer> new_writer(events::event_log* log = nullptr,
                                          personal_data* privacy = nullptr) {
    core::context base;
    base.cal = &core::testing::repo_calendar();
    base.reg = &world_.reg;
    base.sla = world_.sla;
    return std::make_unique<case_writer>(log ? *log : *log_, *store_, *runner_, privacy, base,
                                         clock_);
  }

  // A restart: everything but the log and the data folder goes away.
  void close() {
    writer_.reset();
    runner_.reset();
    projections_.reset();
    store_.reset();
  }

  // Runs one command at `when` and waits until the projections have applied it.
  result<command_outcome> run(std::optional<case_id> id, core::command cmd, core::actor who,
                              timestamp when,
                              std::optional<events::idempotency_mark> idempotency = {}) {
    clock_.set(when);
    std::promise<result<command_outcome>> done;
    auto fut = done.get_future();
    command_request req;
    req.id = std::move(id);
    req.cmd = std::move(cmd);
    req.who = std::move(who);
    req.correlation_id = "test";
    req.idempotency = std::move(idempotency);
    writer_->submit(std::move(req),
                    [&done](result<command_outcome> r) { done.set_value(std::move(r)); });
    REQUIRE(fut.wait_for(60s) == std::future_status::ready);
    auto r = fut.get();
    if (r && r.value().position) REQUIRE(runner_->wait_applied(*r.value().position, 60s));
    return r;
  }

  void catch_up() {
    auto r = runner_->catch_up(60s);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  }

  // How many events of a type the log holds (all partitions, from offset 0).
  std::size_t count_in_log(std::uint16_t type_id) {
    std::size_t n = 0;
    for (std::int32_t p = 0; p < log_->partition_count(); ++p) {
      auto r = events::scan_events(*log_, events::partition_id{p},
                                   [&](const events::logged_event& e, const events::typed_event&) {
                                     if (e.env.type_id == type_id) ++n;
                                     return true;
                                   });
      REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    }
    return n;
  }

  core::testing::world& world() { return world_; }
  manual_clock& clock() { return clock_; }
  events::event_log& log() { return *log_; }
  store& db() { return *store_; }
  projection_runner& runner() { return *runner_; }
  calendar_projection& calendar() { return projections_->calendar(); }
  registry_projection& registry() { return projections_->registry(); }
  const partition_owners& owners() const { return projections_->owners(); }
  tokens_projection& tokens() { return projections_->tokens(); }
  case_writer& writer() { return *writer_; }
  const temp_dir& dir() const { return dir_; }

 private:
  backend backend_;
  std::int32_t partitions_;
  std::string topic_;
  temp_dir dir_;
  core::testing::world world_;
  manual_clock clock_;
  std::unique_ptr<events::event_log> log_;
  std::unique_ptr<store> store_;
  std::unique_ptr<projection_set> projections_;
  std::unique_ptr<projection_runner> runner_;
  std::unique_ptr<case_writer> writer_;
};

// --- scenarios as data ---------------------------------------------------------------------------

using core::testing::world;

struct step {
  const char* day;    // YYYY-MM-DD, at 10:00 Shanghai time (+ the step's index in minutes)
  const char* label;  // the scenario's name for the case; receive creates it
  core::command cmd;
  core::actor who;
};

inline core::command recv(const char* center, std::string urgent = {}) {
  return core::receive{core::channel::phone,
                       center_code{center},
                       {"13800000000", "张三"},
                       "content",
                       std::nullopt,
                       {},
                       std::move(urgent)};
}
inline core::command answer() { return core::answer_immediately{"answered"}; }
inline core::command not_accept() {
  return core::not_accept{core::not_accepted_reason::outside_remit, "not ours"};
}
inline core::command redirect() {
  return core::redirect{core::redirect_target::rail, "12306", false};
}
inline core::command classify(core::category c, core::domain d, std::vector<std::string> topics,
                              std::string urgent = {}) {
  return core::classify{c, d, std::move(topics), false, std::move(urgent)};
}
inline core::command transfer(const char* unit) { return core::transfer{unit_id{unit}}; }
inline core::command give_back() { return core::return_case{"not our remit"}; }
inline core::command extend(int days) {
  return core::extend{core::extension_reason::complex, working_days{days}, "complex"};
}
inline core::command reply(bool reached = true) {
  return core::reply{"facts", "process", "basis", reached};
}
inline core::command revisit(std::optional<core::satisfaction> view) {
  return core::revisit{view.has_value(), view, std::nullopt, false, "notes"};
}
inline core::command archive() { return core::archive{}; }

// A command of an agent of center 410100.
inline command_request request_for(std::optional<case_id> id, core::command cmd) {
  command_request req;
  req.id = std::move(id);
  req.cmd = std::move(cmd);
  req.who = world::agent("410100");
  req.correlation_id = "test";
  return req;
}

// Submits new cases at once from `threads` threads, `per_thread` each; returns every outcome,
// once all arrived.
inline std::vector<result<command_outcome>> receive_many(case_writer& writer, std::size_t threads,
                                                         std::size_t per_thread) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<result<command_outcome>> outcomes;
  std::vector<std::thread> submitters;
  submitters.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    submitters.emplace_back([&] {
      for (std::size_t i = 0; i < per_thread; ++i)
        writer.submit(request_for(std::nullopt, recv("410100")), [&](result<command_outcome> r) {
          std::lock_guard lk(mu);
          outcomes.push_back(std::move(r));
          cv.notify_all();
        });
    });
  }
  for (auto& t : submitters) t.join();
  std::unique_lock lk(mu);
  REQUIRE(cv.wait_for(lk, 90s, [&] { return outcomes.size() == threads * per_thread; }));
  return outcomes;
}

// Runs the steps in order; returns label -> case id. Every step must succeed.
inline std::map<std::string, case_id> play(stack& s, const std::vector<step>& steps) {
  std::map<std::string, case_id> ids;
  int minute = 0;
  for (const auto& st : steps) {
    std::optional<case_id> id;
    if (auto it = ids.find(st.label); it != ids.end()) id = it->second;
    auto r = s.run(id, st.cmd, st.who, at(date(st.day), minute++));
    INFO("step " << st.day << " " << st.label << " " << core::command_name(st.cmd));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    if (!id) ids.emplace(st.label, r.value().state.id);
  }
  return ids;
}

}  // namespace caseline::projections::testing
