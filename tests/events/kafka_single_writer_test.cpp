// The single-writer claim of a server without a group (events/kafka_single_writer.h) on the real
// broker the test command starts: the doubt after the process did not run, seen at once by
// current() and by the attached writer, and ended by the group's listing. The process's pause
// is a jump of the clock the claim is given (no test waits for real time to pass); the loss of
// the membership itself is tested end to end (tests/integration/serve_test.cpp).
#include "events/kafka_single_writer.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include <doctest/doctest.h>

#include "events/kafka_event_log.h"
#include "tests/events/kafka_test_support.h"
#include "tests/support/eventually.h"

namespace caseline::events::testing {

namespace {

using namespace std::chrono_literals;

// The partitions the claim has given the writer, as the writer would hold them.
class partitions_heard final : public ownership_listener {
 public:
  void partition_assigned(partition_id p) override {
    std::lock_guard lk(mu_);
    held_.at(static_cast<std::size_t>(p())) = true;
    ++assigned_;
  }
  void partition_revoked(partition_id p, bool lost) override {
    std::lock_guard lk(mu_);
    held_.at(static_cast<std::size_t>(p())) = false;
    lost_ = lost_ && lost;
    ++revoked_;
  }
  std::size_t held() const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (bool h : held_) n += h ? 1 : 0;
    return n;
  }
  int revoked() const {
    std::lock_guard lk(mu_);
    return revoked_;
  }
  int assigned() const {
    std::lock_guard lk(mu_);
    return assigned_;
  }
  bool all_lost() const {
    std::lock_guard lk(mu_);
    return lost_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<bool> held_ = std::vector<bool>(4, true);  // a writer alone starts with every one
  int revoked_{0};
  int assigned_{0};
  bool lost_{true};
};

}  // namespace

TEST_CASE(
    "a writer alone's claim is in doubt after the process did not run, until the group "
    "lists its membership") {
  const std::string topic = unique_topic("doubt");
  {
    auto created = open_kafka_log(kafka_options(topic, 4));  // the topic, with its 4 partitions
    REQUIRE(created.has_value());
  }
  std::atomic<std::int64_t> now{1'000'000'000'000};
  single_writer_options o;
  o.brokers = kafka_bootstrap();
  o.topic = topic;
  o.partitions = 4;
  o.instance = "doubt-test-" + topic;
  o.session_timeout = 6'000ms;
  o.boot_clock = [&] { return now.load(); };
  bool lost = false;
  o.on_lost = [&](const std::string&) { lost = true; };
  auto claim = single_writer_claim::acquire(o);
  REQUIRE_MESSAGE(claim.has_value(), claim.error().message());
  partitions_heard writer;
  claim.value()->attach(&writer);
  CHECK(claim.value()->current());
  CHECK(writer.held() == 4);

  SUBCASE("a gap shorter than a third of the session timeout is no doubt") {
    now += std::chrono::nanoseconds(1'999ms).count();
    CHECK(claim.value()->current());
  }
  SUBCASE("a gap of a third of the session timeout: refused at once, then confirmed") {
    now += std::chrono::nanoseconds(2'000ms).count();
    // Before the claim's threads have run: an append decided as the process wakes is refused.
    CHECK_FALSE(claim.value()->current());
    // The writer pauses (every partition revoked), the group still lists this member with
    // every partition: the writer gets them back, and appends go out again.
    REQUIRE(test::eventually([&] { return writer.revoked() == 4; }, 10s));
    CHECK(writer.all_lost());
    REQUIRE(test::eventually([&] { return writer.held() == 4 && claim.value()->current(); }, 30s));
    CHECK(writer.assigned() == 4);
    // A second pause is a second doubt.
    now += std::chrono::nanoseconds(5'000ms).count();
    CHECK_FALSE(claim.value()->current());
    REQUIRE(test::eventually([&] { return writer.revoked() == 8; }, 10s));
    REQUIRE(
        test::eventually([&] { return writer.assigned() == 8 && claim.value()->current(); }, 30s));
  }
  SUBCASE("a writer attached while the claim is in doubt starts paused") {
    claim.value()->attach(nullptr);
    now += std::chrono::nanoseconds(3'000ms).count();
    CHECK_FALSE(claim.value()->current());
    partitions_heard late;
    // Whether the claim's thread paused it already or not: attached, the late writer hears the
    // revocations, now or from the claim's thread, then gets every partition back.
    claim.value()->attach(&late);
    REQUIRE(test::eventually([&] { return late.revoked() == 4; }, 10s));
    REQUIRE(test::eventually([&] { return late.held() == 4 && claim.value()->current(); }, 30s));
    claim.value()->attach(nullptr);
  }
  claim.value()->attach(nullptr);
  CHECK_FALSE(lost);
}

}  // namespace caseline::events::testing

TEST_CASE("a writer alone gives up a queued record before another writer can take the topic") {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const milliseconds configured = seconds(10);
  // The earliest another writer may hold the topic after this process stopped: the coordinator
  // expires the membership a session timeout after its last heartbeat, which may have been a
  // heartbeat interval before the stop.
  for (const auto session : {seconds(6), seconds(7), seconds(10), seconds(14), seconds(300)}) {
    CAPTURE(session.count());
    const milliseconds delivery =
        caseline::events::single_writer_delivery_timeout(session, configured);
    CHECK(delivery + caseline::events::heartbeat_interval(session) + seconds(1) <= session);
    CHECK(delivery <= configured);
    CHECK(delivery >= seconds(1));
  }
  CHECK(caseline::events::heartbeat_interval(seconds(6)) == seconds(2));
  CHECK(caseline::events::heartbeat_interval(seconds(10)) == seconds(3));
  CHECK(caseline::events::single_writer_delivery_timeout(seconds(6), configured) == seconds(3));
  CHECK(caseline::events::single_writer_delivery_timeout(seconds(10), configured) == seconds(6));
  CHECK(caseline::events::single_writer_delivery_timeout(seconds(300), configured) == configured);
  CHECK(caseline::events::single_writer_delivery_timeout(seconds(10), seconds(2)) == seconds(2));
}
