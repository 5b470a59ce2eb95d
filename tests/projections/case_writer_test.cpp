// The case writer's lifetimes: what a command's done handler holds (in the server, the api's
// responder and with it the HTTP server's connection) is gone once the writer is, however long
// the log keeps the append callback it was given.
#include "projections/case_writer.h"

#include <future>
#include <mutex>

#include "tests/projections/projection_test_support.h"

namespace caseline::projections::testing {
namespace {

// The real log underneath, but every append callback is kept until this is destroyed: the
// interface lets a log destroy a callback whenever it likes after calling it (the embedded log
// does so after its whole batch, on its own thread).
class keeping_log final : public events::event_log {
 public:
  explicit keeping_log(events::event_log& inner) : inner_(inner) {}

  std::int32_t partition_count() const override { return inner_.partition_count(); }
  void append(std::string key, std::string value, append_handler handler) override {
    inner_.append(std::move(key), std::move(value), keep(std::move(handler)));
  }
  void append_to(events::partition_id p, std::string key, std::string value,
                 append_handler handler) override {
    inner_.append_to(p, std::move(key), std::move(value), keep(std::move(handler)));
  }
  result<std::vector<events::log_record>> read(events::partition_id p, events::log_offset from,
                                               std::size_t max_records,
                                               std::chrono::milliseconds wait) override {
    return inner_.read(p, from, max_records, wait);
  }
  result<events::log_offset> end_offset(events::partition_id p) override {
    return inner_.end_offset(p);
  }
  result<std::unique_ptr<events::subscription>> subscribe(events::start_offsets from,
                                                          batch_handler handler) override {
    return inner_.subscribe(std::move(from), std::move(handler));
  }
  result<void> flush(std::chrono::milliseconds timeout) override { return inner_.flush(timeout); }
  result<void> check() override { return inner_.check(); }

 private:
  append_handler keep(append_handler handler) {
    auto kept = std::make_shared<append_handler>(std::move(handler));
    std::lock_guard lk(mu_);
    kept_.push_back(kept);
    return [kept](result<events::log_position> r) { (*kept)(std::move(r)); };
  }

  events::event_log& inner_;
  std::mutex mu_;
  std::vector<std::shared_ptr<append_handler>> kept_;
};

TEST_CASE("a done handler is gone with the writer, however long the log keeps its callback") {
  stack s;
  keeping_log log(s.log());
  core::context base;
  base.cal = &core::testing::repo_calendar();
  base.reg = &s.world().reg;
  base.sla = s.world().sla;
  auto writer = std::make_unique<case_writer>(log, s.db(), s.runner(), nullptr, base, s.clock());
  // Stands for what the server's done handler holds: the connection the answer is written to.
  auto connection = std::make_shared<int>(0);
  std::promise<bool> answered;
  auto got = answered.get_future();
  command_request req;
  req.cmd = recv("410100");
  req.who = world::agent("410100");
  req.correlation_id = "test";
  writer->submit(std::move(req), [connection, &answered](const result<command_outcome>& r) {
    answered.set_value(r.has_value());
  });
  REQUIRE(got.wait_for(60s) == std::future_status::ready);
  CHECK(got.get());
  writer.reset();
  // The log still holds its callback; the server that the connection belongs to may go now.
  CHECK(connection.use_count() == 1);
}

}  // namespace
}  // namespace caseline::projections::testing
