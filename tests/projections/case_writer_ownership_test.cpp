// The case writer in a Kafka group (group mode): it decides only for the partitions assigned to
// it, refuses a revoked partition's queued commands and finishes those already decided, reads a
// reassigned partition's cases afresh, gives out case ids no other writer gives out, and reminds
// only for its own partitions. Two writers on one log and one store stand for two servers; the
// ownership calls are the writer's own listener API, driven by the test as the log's group would.
#include "projections/case_writer.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include "events/errc.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "projections/reminder_scheduler.h"
#include "tests/events/forwarding_log.h"
#include "tests/projections/projection_test_support.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace caseline::projections::testing {
namespace {

using events::partition_id;

// The real log underneath; while held, appends wait here until release() hands them on: a
// command decided and on its way into the log, for as long as the test needs.
class holding_log final : public events::testing::forwarding_log {
 public:
  using forwarding_log::forwarding_log;

  void hold() {
    std::lock_guard lk(mu_);
    holding_ = true;
  }
  // Waits until `n` appends are held.
  bool wait_held(std::size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, 60s, [&] { return held_.size() >= n; });
  }
  void release() {
    std::vector<held> out;
    {
      std::lock_guard lk(mu_);
      holding_ = false;
      out.swap(held_);
    }
    for (auto& h : out) inner().append(std::move(h.key), std::move(h.value), std::move(h.handler));
  }
  void append(std::string key, std::string value, append_handler handler) override {
    {
      std::lock_guard lk(mu_);
      if (holding_) {
        held_.push_back({std::move(key), std::move(value), std::move(handler)});
        cv_.notify_all();
        return;
      }
    }
    inner().append(std::move(key), std::move(value), std::move(handler));
  }

 private:
  struct held {
    std::string key, value;
    append_handler handler;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_{false};
  std::vector<held> held_;
};

// A command's outcome, once it arrives.
std::future<result<command_outcome>> submit(case_writer& w, command_request req) {
  auto done = std::make_shared<std::promise<result<command_outcome>>>();
  auto fut = done->get_future();
  w.submit(std::move(req), [done](result<command_outcome> r) { done->set_value(std::move(r)); });
  return fut;
}

result<command_outcome> run(case_writer& w, command_request req) {
  auto fut = submit(w, std::move(req));
  REQUIRE(fut.wait_for(60s) == std::future_status::ready);
  return fut.get();
}

bool refused_as_not_owner(const result<command_outcome>& r) {
  return !r && r.error().code == events::errc::not_owner;
}

std::int64_t records_in_log(events::event_log& log) {
  std::int64_t n = 0;
  for (std::int32_t p = 0; p < log.partition_count(); ++p)
    n += log.end_offset(partition_id{p}).value()();
  return n;
}

void assign(case_writer& w, std::initializer_list<std::int32_t> partitions) {
  for (const auto p : partitions) w.partition_assigned(partition_id{p});
  for (const auto p : partitions) REQUIRE(w.wait_accepts(partition_id{p}, 60s));
}

core::command classify_inquiry() {
  return classify(core::category::inquiry, core::domain::highway, {});
}

TEST_CASE("a writer in group mode decides only for the partitions assigned to it") {
  stack s;  // 4 partitions
  auto w = s.new_writer();
  w->enable_ownership();
  CHECK(w->accepting().empty());
  CHECK(refused_as_not_owner(run(*w, request_for(std::nullopt, recv("410100")))));
  CHECK(records_in_log(s.log()) == 0);

  assign(*w, {1});
  CHECK(w->accepting() == std::vector<partition_id>{partition_id{1}});
  CHECK(w->accepts(partition_id{1}));
  CHECK_FALSE(w->accepts(partition_id{0}));
  auto made = run(*w, request_for(std::nullopt, recv("410100")));
  REQUIRE_MESSAGE(made, (made ? "" : made.error().message()));
  const case_id x = made.value().state.id;
  CHECK(w->partition_of(x()) == partition_id{1});

  SUBCASE("a receive goes to the partition asked for, if it is accepted") {
    auto in_one = request_for(std::nullopt, recv("410100"));
    in_one.partition = partition_id{1};
    auto r = run(*w, std::move(in_one));
    REQUIRE(r);
    CHECK(w->partition_of(r.value().state.id()) == partition_id{1});
    auto in_two = request_for(std::nullopt, recv("410100"));
    in_two.partition = partition_id{2};
    CHECK(refused_as_not_owner(run(*w, std::move(in_two))));
  }
  SUBCASE("a command for a case of a partition not accepted is refused before any decision") {
    const auto before = records_in_log(s.log());
    w->partition_revoked(partition_id{1}, false);
    CHECK_FALSE(w->accepts(partition_id{1}));
    CHECK(refused_as_not_owner(run(*w, request_for(x, classify_inquiry()))));
    CHECK(records_in_log(s.log()) == before);
    // Taken back: decided again.
    assign(*w, {1});
    CHECK(run(*w, request_for(x, classify_inquiry())));
  }
}

TEST_CASE("a revocation fails the queued commands at once and waits for the one in flight") {
  stack s;
  holding_log log(s.log());
  auto w = s.new_writer(&log);
  w->enable_ownership();
  assign(*w, {0, 1, 2, 3});
  auto made = run(*w, request_for(std::nullopt, recv("410100")));
  REQUIRE(made);
  const case_id x = made.value().state.id;
  const partition_id p = w->partition_of(x());

  log.hold();
  auto in_flight = submit(*w, request_for(x, classify_inquiry()));  // decided, append held
  REQUIRE(log.wait_held(1));
  auto queued_1 = submit(*w, request_for(x, transfer("u-zz-yg")));
  auto queued_2 = submit(*w, request_for(x, transfer("u-zz-yg")));
  auto revoked = std::async(std::launch::async, [&] { w->partition_revoked(p, false); });

  REQUIRE(queued_1.wait_for(60s) == std::future_status::ready);
  REQUIRE(queued_2.wait_for(60s) == std::future_status::ready);
  CHECK(refused_as_not_owner(queued_1.get()));
  CHECK(refused_as_not_owner(queued_2.get()));
  // The classification is decided and its append has no outcome yet: the revocation waits.
  CHECK(revoked.wait_for(0s) == std::future_status::timeout);
  CHECK(in_flight.wait_for(0s) == std::future_status::timeout);
  CHECK(refused_as_not_owner(run(*w, request_for(x, transfer("u-zz-yg")))));

  log.release();
  REQUIRE(revoked.wait_for(60s) == std::future_status::ready);
  REQUIRE(in_flight.wait_for(60s) == std::future_status::ready);
  auto classified = in_flight.get();
  REQUIRE_MESSAGE(classified, (classified ? "" : classified.error().message()));
  CHECK(classified.value().state.version == 2);
  CHECK_FALSE(w->accepts(p));
  // The queued transfers were never decided: the case is classified, not transferred.
  s.catch_up();
  auto row = case_reader(s.db()).get(x);
  REQUIRE(row);
  REQUIRE(row.value());
  CHECK(row.value()->state.version == 2);
}

TEST_CASE("a partition taken back is decided on what its other owner wrote meanwhile") {
  stack s;
  auto a = s.new_writer();
  auto b = s.new_writer();
  a->enable_ownership();
  b->enable_ownership();
  assign(*a, {0, 1, 2, 3});
  auto made = run(*a, request_for(std::nullopt, recv("410100")));
  REQUIRE(made);
  const case_id x = made.value().state.id;
  const partition_id p = a->partition_of(x());
  CHECK(made.value().state.version == 1);  // cached by a

  a->partition_revoked(p, false);
  assign(*b, {p()});
  auto classified = run(*b, request_for(x, classify_inquiry()));
  REQUIRE_MESSAGE(classified, (classified ? "" : classified.error().message()));
  CHECK(classified.value().state.version == 2);
  b->partition_revoked(p, false);

  // a caught up with the log and dropped the version 1 it had cached.
  assign(*a, {p()});
  auto req = request_for(x, transfer("u-zz-yg"));
  req.if_match = 2;
  auto transferred = run(*a, std::move(req));
  REQUIRE_MESSAGE(transferred, (transferred ? "" : transferred.error().message()));
  CHECK(transferred.value().state.version == 3);
  s.catch_up();  // and the hash chain the projection checks holds
  CHECK_FALSE(s.runner().failure());
}

// A server alone on Kafka stores a new case's key, marked as ahead of its record, before it
// appends the record. When the partition moves on while that key is being stored (the server
// woke to find another writer had the topic), the record is refused, and the key may be under an
// id the other writer gave out. The handover that gives the partition back checks the marked
// keys against the log once that key landed, not before: else the key would stay, and the other
// writer's case would not open here (a 500 for every read of it).
TEST_CASE("a handover checks the key of a new case that was being stored as its partition moved") {
  stack s;  // 4 partitions
  caseline::test::temp_dir a_keys_dir;
  caseline::test::temp_dir b_keys_dir;
  auto a_keys = key_store::open(a_keys_dir.path().string(), events::secret_key::random());
  auto b_keys = key_store::open(b_keys_dir.path().string(), events::secret_key::random());
  REQUIRE(a_keys);
  REQUIRE(b_keys);
  personal_data a_privacy(*a_keys.value());
  personal_data b_privacy(*b_keys.value());
  auto a = s.new_writer(nullptr, &a_privacy);
  auto b = s.new_writer(nullptr, &b_privacy);
  a->enable_ownership();
  b->enable_ownership();
  assign(*a, {0, 1, 2, 3});
  REQUIRE(run(*a, request_for(std::nullopt, recv("410100"))));

  // From here a's key store holds a lone key until a second one is queued: its linger always
  // applies, and ends at two keys.
  a_keys.value()->set_commit_linger({std::chrono::seconds(60), 2, 0});
  const auto lingered = a_keys.value()->commit_lingers();
  auto to_one = request_for(std::nullopt, recv("410100"));
  to_one.partition = partition_id{1};
  auto held = submit(*a, to_one);
  REQUIRE(
      caseline::test::eventually([&] { return a_keys.value()->commit_lingers() > lingered; }, 60s));

  // Partition 1 moves to b, which gives out the same id (nothing of a's case is in the log),
  // then back to a.
  a->partition_revoked(partition_id{1}, false);
  assign(*b, {1});
  auto theirs = run(*b, to_one);
  REQUIRE_MESSAGE(theirs, (theirs ? "" : theirs.error().message()));
  const case_id x = theirs.value().state.id;
  b->partition_revoked(partition_id{1}, false);
  a->partition_assigned(partition_id{1});
  CHECK_FALSE(a->accepts(partition_id{1}));  // its handover waits for the key being stored

  // A new case of another partition ends the linger: both keys are written, and the held case
  // is refused (its partition moved on since it was decided).
  auto to_zero = request_for(std::nullopt, recv("410100"));
  to_zero.partition = partition_id{0};
  auto other = submit(*a, to_zero);
  REQUIRE(held.wait_for(60s) == std::future_status::ready);
  CHECK(refused_as_not_owner(held.get()));
  REQUIRE(other.wait_for(60s) == std::future_status::ready);
  CHECK(other.get());
  a_keys.value()->set_commit_linger({});
  REQUIRE(a->wait_accepts(partition_id{1}, 60s));

  // The key stored for the refused case was x's id, and did not open b's case x: dropped.
  auto ahead = a_privacy.keys_ahead_of_record();
  REQUIRE(ahead);
  CHECK(std::find(ahead.value().begin(), ahead.value().end(), x()) == ahead.value().end());
  auto key = a_privacy.key_of(x);
  REQUIRE(key);
  CHECK_FALSE(key.value().has_value());
  s.catch_up();
  auto row = case_reader(s.db()).get(x);
  REQUIRE(row);
  REQUIRE(row.value());
  core::case_state shown = row.value()->state;
  auto opened = a_privacy.open(shown);
  CHECK_MESSAGE(opened, (opened ? "" : opened.error().message()));
  auto by_b = b_privacy.open(row.value()->state);
  REQUIRE(by_b);
  CHECK(by_b.value());
}

TEST_CASE("two writers that own half of the partitions each never give out the same case id") {
  stack s;  // 4 partitions
  auto a = s.new_writer();
  auto b = s.new_writer();
  a->enable_ownership();
  b->enable_ownership();
  assign(*a, {0, 1});
  assign(*b, {2, 3});

  std::set<std::string> ids;
  std::size_t total = 0;
  const auto collect = [&](case_writer& w, const std::vector<result<command_outcome>>& outcomes,
                           const std::set<std::int32_t>& partitions) {
    for (const auto& r : outcomes) {
      REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
      const std::string id = r.value().state.id();
      CHECK(partitions.contains(w.partition_of(id)()));
      ids.insert(id);
      ++total;
    }
  };
  auto from_a = std::async(std::launch::async, [&] { return receive_many(*a, 4, 300); });
  auto from_b = std::async(std::launch::async, [&] { return receive_many(*b, 4, 300); });
  collect(*a, from_a.get(), {0, 1});
  collect(*b, from_b.get(), {2, 3});
  CHECK(total == 2400);
  CHECK(ids.size() == total);

  SUBCASE("a receive names its partition: only its owner takes it") {
    auto to_two = request_for(std::nullopt, recv("410100"));
    to_two.partition = partition_id{2};
    CHECK(refused_as_not_owner(run(*a, to_two)));
    auto r = run(*b, to_two);
    REQUIRE(r);
    CHECK(b->partition_of(r.value().state.id()) == partition_id{2});
    CHECK_FALSE(ids.contains(r.value().state.id()));
  }
  SUBCASE("a writer of every partition continues from the projection's counters, densely") {
    a.reset();
    b.reset();
    s.catch_up();
    auto all = s.new_writer();
    for (int i = 0; i < 50; ++i) {
      auto r = run(*all, request_for(std::nullopt, recv("410100")));
      REQUIRE(r);
      CHECK(ids.insert(r.value().state.id()).second);
    }
    // No sequence was skipped: each partition holds every sequence up to its highest that
    // hashes to it.
    std::map<std::int32_t, std::set<std::uint64_t>> by_partition;
    for (const auto& id : ids)
      by_partition[all->partition_of(id)()].insert(split_case_id(id)->second);
    const std::string day = split_case_id(*ids.begin())->first;
    for (const auto& [p, sequences] : by_partition) {
      std::size_t expected = 0;
      for (std::uint64_t n = 1; n <= *sequences.rbegin(); ++n) {
        const std::string seq = std::to_string(n);
        std::string id = day;
        id.append(1, '-').append(seq.size() < 6 ? 6 - seq.size() : 0, '0').append(seq);
        if (all->partition_of(id)() == p) ++expected;
      }
      CHECK(sequences.size() == expected);
    }
  }
}

TEST_CASE("a reminder is written once across a handover, by the partition's owner") {
  stack s;
  const auto agent = world::agent("410100");
  auto ids = play(s, {{"2026-10-12", "R", recv("410100"), agent},
                      {"2026-10-12", "R", classify_inquiry(), agent},
                      {"2026-10-12", "R", transfer("u-zz-yg"), agent}});  // reply due 10-19
  const case_id r = ids.at("R");
  const auto& cal = core::testing::repo_calendar();
  auto a = s.new_writer();
  auto b = s.new_writer();
  a->enable_ownership();
  b->enable_ownership();
  const partition_id p = a->partition_of(r());
  assign(*a, {0, 1, 2, 3});
  s.clock().set(at(date("2026-10-20")));

  {
    reminder_scheduler not_owner(s.db(), *b, cal);  // the deadline is listed, but not b's
    auto n = not_owner.tick(s.clock().now());
    REQUIRE(n);
    CHECK(n.value() == 0);
  }
  {
    reminder_scheduler owner(s.db(), *a, cal);
    auto n = owner.tick(s.clock().now());
    REQUIRE(n);
    CHECK(n.value() == 1);
    REQUIRE(owner.wait_idle(60s));
    CHECK(owner.written() == 1);
  }
  a->partition_revoked(p, false);
  assign(*b, {p()});
  {
    reminder_scheduler new_owner(s.db(), *b, cal);
    auto n = new_owner.tick(s.clock().now());
    REQUIRE(n);
    CHECK(n.value() == 0);
    // Sent again all the same (a stale index): the write side finds it sent.
    auto again =
        run(*b, request_for(r, core::remind{core::deadline_kind::reply, date("2026-10-19")}));
    REQUIRE_MESSAGE(again, (again ? "" : again.error().message()));
    CHECK_FALSE(again.value().position);
  }
  CHECK(s.count_in_log(core::reminded::type_id) == 1);
}

}  // namespace
}  // namespace caseline::projections::testing
