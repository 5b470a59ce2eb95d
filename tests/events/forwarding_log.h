#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events/event_log.h"

namespace caseline::events::testing {

// A real log underneath, every call handed to it: a test derives from it to see or steer one
// call (keep an append's callback, hold appends, own a subset of the partitions) while the log
// itself stays the real one.
class forwarding_log : public event_log {
 public:
  explicit forwarding_log(event_log& inner) : inner_(inner) {}

  std::int32_t partition_count() const override { return inner_.partition_count(); }
  void append(std::string key, std::string value, append_handler handler) override {
    inner_.append(std::move(key), std::move(value), std::move(handler));
  }
  void append_to(partition_id p, std::string key, std::string value,
                 append_handler handler) override {
    inner_.append_to(p, std::move(key), std::move(value), std::move(handler));
  }
  result<std::vector<log_record>> read(partition_id p, log_offset from, std::size_t max_records,
                                       std::chrono::milliseconds wait) override {
    return inner_.read(p, from, max_records, wait);
  }
  result<log_offset> end_offset(partition_id p) override { return inner_.end_offset(p); }
  result<std::unique_ptr<subscription>> subscribe(start_offsets from,
                                                  batch_handler handler) override {
    return inner_.subscribe(std::move(from), std::move(handler));
  }
  result<void> flush(std::chrono::milliseconds timeout) override { return inner_.flush(timeout); }
  result<void> check() override { return inner_.check(); }

 protected:
  event_log& inner() { return inner_; }

 private:
  event_log& inner_;
};

}  // namespace caseline::events::testing
