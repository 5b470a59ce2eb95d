#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "events/thread_name.h"

namespace caseline::events {

// A fixed set of threads running posted tasks in FIFO order. shutdown() (or the destructor) runs
// every task already posted, then joins. Its threads are named `name`-0, `name`-1, ...
// (thread_name.h). Thread-safe.
class thread_pool {
 public:
  thread_pool(unsigned threads, std::string_view name) {
    for (unsigned i = 0; i < (threads == 0 ? 1 : threads); ++i)
      threads_.emplace_back([this, n = std::string(name) + "-" + std::to_string(i)] {
        name_this_thread(n);
        work();
      });
  }
  ~thread_pool() { shutdown(); }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  // False (and the task is not run) once shutdown() has begun.
  bool post(std::function<void()> task) {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return false;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }

  // Runs every task already posted, then joins the threads. Idempotent; from any thread but the
  // pool's own.
  void shutdown() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    std::lock_guard join(join_mu_);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_{false};
  std::mutex join_mu_;  // one shutdown() joins at a time
  std::vector<std::thread> threads_;
};

}  // namespace caseline::events
