#include "events/periodic.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "tests/support/eventually.h"

using namespace caseline::events;
using caseline::test::eventually;
using namespace std::chrono_literals;

namespace {

// Holds a run until the test opens it, so that a test can act while a run is in progress.
class gate {
 public:
  void pass() {
    std::unique_lock lk(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
    --waiting_;
  }
  bool wait_for_waiter(std::chrono::milliseconds deadline) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, deadline, [&] { return waiting_ > 0; });
  }
  void open() {
    {
      std::lock_guard lk(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_{0};
  bool open_{false};
};

}  // namespace

TEST_CASE("a periodic task runs at its interval") {
  std::atomic<int> runs{0};
  periodic_task t("interval", {.interval = 10ms}, [&] { ++runs; });
  REQUIRE(eventually([&] { return runs.load() >= 3; }, 10s));
  CHECK(t.runs() >= 3);
  CHECK(t.failures() == 0);
}

TEST_CASE("a periodic task runs when poked, and at start or stop only when its schedule says") {
  std::atomic<int> runs{0};
  SUBCASE("poked") {
    periodic_task t("poked", {.interval = 1h}, [&] { ++runs; });
    CHECK(t.runs() == 0);  // an hour before its first run
    t.poke();
    REQUIRE(eventually([&] { return t.runs() == 1; }, 10s));
    t.poker()();
    REQUIRE(eventually([&] { return t.runs() == 2; }, 10s));
    t.stop();
    CHECK(runs == 2);  // no final run without at_stop
  }
  SUBCASE("only when poked: no interval") {
    periodic_task t("no-interval", {}, [&] { ++runs; });
    t.poke();
    REQUIRE(eventually([&] { return t.runs() == 1; }, 10s));
    t.stop();
    CHECK(runs == 1);
  }
  SUBCASE("at start") {
    periodic_task t("at-start", {.interval = 1h, .at_start = true}, [&] { ++runs; });
    REQUIRE(eventually([&] { return t.runs() == 1; }, 10s));
    t.stop();
    CHECK(runs == 1);
  }
  SUBCASE("at stop") {
    {
      periodic_task t("at-stop", {.interval = 1h, .at_stop = true}, [&] { ++runs; });
      CHECK(runs == 0);
    }  // the destructor stops it: one run, no waiting for the hour
    CHECK(runs == 1);
  }
  SUBCASE("at stop, skipped") {
    periodic_task t("skip-final", {.interval = 1h, .at_stop = true}, [&] { ++runs; });
    t.stop_without_final_run();
    CHECK(runs == 0);
    t.stop();  // stopped already: no final run now either
    CHECK(runs == 0);
  }
}

TEST_CASE("a poke during a run makes one more run") {
  gate first;
  std::atomic<int> runs{0};
  periodic_task t("poke-during-run", {.interval = 1h}, [&] {
    if (++runs == 1) first.pass();
  });
  t.poke();
  REQUIRE(first.wait_for_waiter(10s));  // the first run is in progress
  t.poke();
  t.poke();
  first.open();
  REQUIRE(eventually([&] { return t.runs() == 2; }, 10s));
}

TEST_CASE("a periodic task stops promptly, however long its interval") {
  std::atomic<int> runs{0};
  periodic_task t("long-interval", {.interval = 24h, .at_start = true}, [&] { ++runs; });
  REQUIRE(eventually([&] { return t.runs() == 1; }, 10s));
  const auto started = std::chrono::steady_clock::now();
  t.stop();
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(runs == 1);
}

TEST_CASE("stop waits for the run in progress") {
  gate held;
  std::atomic<bool> finished{false};
  periodic_task t("held", {.interval = 1h, .at_start = true}, [&] {
    held.pass();
    finished = true;
  });
  REQUIRE(held.wait_for_waiter(10s));  // the run is in progress
  std::atomic<bool> finished_when_stopped{false};
  std::thread stopper([&] {
    t.stop();
    finished_when_stopped = finished.load();
  });
  held.open();
  stopper.join();
  CHECK(finished_when_stopped);
  CHECK(t.runs() == 1);
}

TEST_CASE("a body that throws is logged and the task runs again") {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_pattern("%v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  std::atomic<int> runs{0};
  {
    periodic_task t("thrower", {.interval = 1h, .at_start = true}, [&] {
      if (++runs == 1) throw std::runtime_error("the store is unreadable");
      if (runs == 2) throw 42;  // not even a std::exception
    });
    REQUIRE(eventually([&] { return t.failures() == 1; }, 10s));
    t.poke();
    REQUIRE(eventually([&] { return t.failures() == 2; }, 10s));
    t.poke();
    REQUIRE(eventually([&] { return t.runs() == 3; }, 10s));
    CHECK(t.failures() == 2);  // the third run succeeded
  }
  logger->flush();
  spdlog::set_default_logger(previous);
  const std::string text = captured.str();
  CHECK(
      text.find(
          R"({"event":"periodic_task_threw","task":"thrower","what":"the store is unreadable"})") !=
      std::string::npos);
  CHECK(text.find(R"({"event":"periodic_task_threw","task":"thrower","what":"unknown"})") !=
        std::string::npos);
}

TEST_CASE("stop is idempotent, and a stopped or moved-from task does nothing") {
  std::atomic<int> runs{0};
  periodic_task t("idempotent", {.interval = 1h, .at_stop = true}, [&] { ++runs; });
  const auto poke = t.poker();
  SUBCASE("stop twice") {
    t.stop();
    t.stop();
    t.stop_without_final_run();
    CHECK(runs == 1);  // the final run, once
    t.poke();
    poke();
    CHECK(t.runs() == 1);
  }
  SUBCASE("moved") {
    periodic_task moved = std::move(t);
    t.stop();  // NOLINT(bugprone-use-after-move): a moved-from task is a stopped one
    t.poke();  // NOLINT(bugprone-use-after-move)
    CHECK(runs == 0);
    moved.poke();
    REQUIRE(eventually([&] { return moved.runs() == 1; }, 10s));
    moved.stop();
    CHECK(runs == 2);  // the poke, then the final run
  }
  SUBCASE("the poker outlives the task") {
    { periodic_task gone = std::move(t); }
    CHECK(runs == 1);
    poke();  // the task is gone: nothing happens, nothing breaks
    CHECK(runs == 1);
  }
  SUBCASE("a default task has no thread") {
    periodic_task none;
    none.poke();
    none.poker()();
    none.stop();
    CHECK(none.runs() == 0);
  }
}
