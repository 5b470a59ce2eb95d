// The case writer's lifetimes: what a command's done handler holds (in the server, the api's
// responder and with it the HTTP server's connection) is gone once the writer is, however long
// the log keeps the append callback it was given. And the group commit of new cases' keys: a
// case is answered only once its key is durable, and a failed key write answers no case and
// appends nothing.
#include "projections/case_writer.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "events/errc.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "tests/events/forwarding_log.h"
#include "tests/projections/projection_test_support.h"

namespace caseline::projections::testing {
namespace {

// The real log underneath, but every append callback is kept until this is destroyed: the
// interface lets a log destroy a callback whenever it likes after calling it (the embedded log
// does so after its whole batch, on its own thread).
class keeping_log final : public events::testing::forwarding_log {
 public:
  explicit keeping_log(events::event_log& inner) : forwarding_log(inner) {}

  void append(std::string key, std::string value, append_handler handler) override {
    inner().append(std::move(key), std::move(value), keep(std::move(handler)));
  }
  void append_to(events::partition_id p, std::string key, std::string value,
                 append_handler handler) override {
    inner().append_to(p, std::move(key), std::move(value), keep(std::move(handler)));
  }

 private:
  append_handler keep(append_handler handler) {
    auto kept = std::make_shared<append_handler>(std::move(handler));
    std::lock_guard lk(mu_);
    kept_.push_back(kept);
    return [kept](result<events::log_position> r) { (*kept)(std::move(r)); };
  }

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

core::context writer_context(stack& s) {
  core::context base;
  base.cal = &core::testing::repo_calendar();
  base.reg = &s.world().reg;
  base.sla = s.world().sla;
  return base;
}

// The real log underneath; notes the threads its append callbacks run on.
class thread_noting_log final : public events::testing::forwarding_log {
 public:
  explicit thread_noting_log(events::event_log& inner) : forwarding_log(inner) {}

  void append(std::string key, std::string value, append_handler handler) override {
    inner().append(std::move(key), std::move(value),
                   [this, handler = std::move(handler)](result<events::log_position> r) {
                     {
                       std::lock_guard lk(mu_);
                       threads_.push_back(std::this_thread::get_id());
                     }
                     handler(std::move(r));
                   });
  }

  std::vector<std::thread::id> threads() const {
    std::lock_guard lk(mu_);
    return threads_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::thread::id> threads_;
};

TEST_CASE("an acknowledged command is answered on the embedded log's thread, with no hop") {
  stack s;
  thread_noting_log log(s.log());
  case_writer writer(log, s.db(), s.runner(), nullptr, writer_context(s), s.clock());
  std::promise<std::pair<bool, std::thread::id>> answered;
  auto got = answered.get_future();
  command_request req;
  req.cmd = recv("410100");
  req.who = world::agent("410100");
  req.correlation_id = "test";
  writer.submit(std::move(req), [&answered](const result<command_outcome>& r) {
    answered.set_value({r.has_value(), std::this_thread::get_id()});
  });
  REQUIRE(got.wait_for(60s) == std::future_status::ready);
  const auto [written, on] = got.get();
  CHECK(written);
  const auto log_threads = log.threads();
  REQUIRE(log_threads.size() == 1);
  CHECK(on == log_threads.front());  // not a writer thread's
  CHECK(on != std::this_thread::get_id());
}

std::int64_t records_in_log(events::event_log& log) {
  std::int64_t n = 0;
  for (std::int32_t p = 0; p < log.partition_count(); ++p)
    n += log.end_offset(events::partition_id{p}).value()();
  return n;
}

TEST_CASE(
    "concurrent new cases are answered once their keys are durable, and the keys survive a "
    "reopen") {
  stack s;
  const auto master = events::secret_key::random();
  const std::string keys_dir = s.dir().sub("keys");
  std::vector<command_outcome> cases;
  cases.reserve(48);
  {
    auto keys = key_store::open(keys_dir, master);
    REQUIRE(keys);
    personal_data privacy(*keys.value());
    case_writer writer(s.log(), s.db(), s.runner(), &privacy, writer_context(s), s.clock());
    for (auto& r : receive_many(writer, 48, 1)) {
      REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
      cases.push_back(std::move(r).value());
    }
  }  // the key store closes: what follows reads only what it made durable
  CHECK(records_in_log(s.log()) == 48);
  auto keys = key_store::open(keys_dir, master);
  REQUIRE(keys);
  personal_data privacy(*keys.value());
  for (const auto& c : cases) {
    auto key = keys.value()->get(c.state.id);
    REQUIRE(key);
    REQUIRE_MESSAGE(key.value().has_value(), c.state.id());
    core::case_state shown = c.state;
    auto opened = privacy.open(shown);
    REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message()));
    CHECK(opened.value());
    CHECK(shown.caller.name == "张三");
  }
}

TEST_CASE("a failed key write fails every new case waiting on it, and appends none of them") {
  stack s;
  const auto master = events::secret_key::random();
  const std::string keys_dir = s.dir().sub("keys");
  {
    auto primary = key_store::open(keys_dir, master);  // a key store on disk, then closed
    REQUIRE(primary);
  }
  // The same key store opened read-only (a RocksDB secondary instance): its writes fail.
  auto keys = key_store::open_secondary(keys_dir, master);
  REQUIRE(keys);
  personal_data privacy(*keys.value());
  const std::int64_t before = records_in_log(s.log());
  {
    case_writer writer(s.log(), s.db(), s.runner(), &privacy, writer_context(s), s.clock());
    for (const auto& r : receive_many(writer, 24, 1)) {
      REQUIRE_FALSE(r);
      // Certainly not in the log (nothing was appended), so never "outcome unknown".
      CHECK(r.error().code != events::errc::outcome_unknown);
    }
  }
  CHECK(records_in_log(s.log()) == before);
}

}  // namespace
}  // namespace caseline::projections::testing
