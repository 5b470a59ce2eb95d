#include "events/periodic.h"

#include <pthread.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/thread_name.h"

namespace caseline::events {

struct periodic_task::state {
  std::string name;
  periodic_schedule schedule;
  body run;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping{false};   // guarded by mu
  bool final_run{true};   // guarded by mu; read once stopping
  bool poked{false};      // guarded by mu
  std::uint64_t runs{0};  // guarded by mu
  std::uint64_t failures{0};

  void poke() {
    {
      std::lock_guard lk(mu);
      poked = true;
    }
    cv.notify_all();
  }

  // One run of the body, outside the lock; what it throws is logged and counted, never let out.
  void run_once(std::unique_lock<std::mutex>& lk) {
    lk.unlock();
    bool threw = true;
    try {
      run();
      threw = false;
    } catch (const std::exception& ex) {
      spdlog::error("{}", log_line("periodic_task_threw", {{"task", name}, {"what", ex.what()}}));
    } catch (...) {
      spdlog::error("{}", log_line("periodic_task_threw", {{"task", name}, {"what", "unknown"}}));
    }
    lk.lock();
    ++runs;
    if (threw) ++failures;
  }

  void loop() {
    // The thread's name shows in top, gdb and core dumps (Linux takes 15 bytes).
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    std::unique_lock lk(mu);
    bool wait = !schedule.at_start;
    for (;;) {
      if (wait) {
        const auto woken = [&] { return stopping || poked; };
        if (schedule.interval.count() > 0)
          cv.wait_for(lk, schedule.interval, woken);
        else
          cv.wait(lk, woken);
      }
      wait = true;
      if (stopping) break;
      poked = false;  // a poke during the run below makes one more
      run_once(lk);
    }
    if (schedule.at_stop && final_run) run_once(lk);
  }
};

periodic_task::periodic_task(std::string name, periodic_schedule schedule, body run)
    : state_(std::make_shared<state>()) {
  state_->name = std::move(name);
  state_->schedule = schedule;
  state_->run = std::move(run);
  thread_ = std::thread([s = state_] {
    name_this_thread(s->name);
    s->loop();
  });
}

periodic_task::~periodic_task() { stop(); }

periodic_task& periodic_task::operator=(periodic_task&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
    thread_ = std::move(other.thread_);
  }
  return *this;
}

void periodic_task::poke() const {
  if (state_) state_->poke();
}

std::function<void()> periodic_task::poker() const {
  if (!state_) return [] {};
  return [weak = std::weak_ptr<state>(state_)] {
    if (auto s = weak.lock()) s->poke();
  };
}

void periodic_task::stop() { halt(true); }

void periodic_task::stop_without_final_run() { halt(false); }

void periodic_task::halt(bool final_run) {
  if (!state_ || !thread_.joinable()) return;
  {
    std::lock_guard lk(state_->mu);
    state_->stopping = true;
    state_->final_run = final_run;
  }
  state_->cv.notify_all();
  thread_.join();
}

std::uint64_t periodic_task::runs() const {
  if (!state_) return 0;
  std::lock_guard lk(state_->mu);
  return state_->runs;
}

std::uint64_t periodic_task::failures() const {
  if (!state_) return 0;
  std::lock_guard lk(state_->mu);
  return state_->failures;
}

}  // namespace caseline::events
