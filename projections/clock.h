#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <utility>

#include "core/time.h"

namespace caseline::projections {

// Where "now" comes from. Core never reads a clock; the shells pass one of these in.
class clock {
 public:
  virtual ~clock() = default;
  virtual timestamp now() const = 0;
};

class system_clock final : public clock {
 public:
  timestamp now() const override { return from_chrono(std::chrono::system_clock::now()); }
};

// A clock that moves only when told (tests, demos: `serve --clock manual`). `persist`, when
// given, is called with each new time before the clock moves (the server stores it, so a
// restart resumes where the clock was). Thread-safe.
class manual_clock final : public clock {
 public:
  explicit manual_clock(timestamp start, std::function<void(timestamp)> persist = {})
      : ms_(start.ms), persist_(std::move(persist)) {}
  timestamp now() const override { return timestamp{ms_.load()}; }
  void set(timestamp t) {
    if (persist_) persist_(t);
    ms_.store(t.ms);
  }

 private:
  std::atomic<std::int64_t> ms_;
  std::function<void(timestamp)> persist_;
};

}  // namespace caseline::projections
