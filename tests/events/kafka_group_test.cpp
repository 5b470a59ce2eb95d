// The Kafka log as a member of a consumer group (events/kafka_event_log.h with a group), on the
// real broker the test command starts: partitions split between members, claims, fencing by a
// newer owner, read_committed reads with gap records, and the event-log conformance suite on a
// member that owns every partition.
#include "events/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "events/detail/kafka_transactions.h"
#include "events/detail/rdkafka_group.h"
#include "events/detail/rdkafka_handle.h"
#include "events/errc.h"
#include "events/record.h"
#include "projections/runner.h"
#include "projections/store.h"
#include "tests/events/event_log_conformance.h"
#include "tests/events/kafka_test_support.h"
#include "tests/support/temp_dir.h"

namespace caseline::events::testing {

namespace {

// One thing the log told a listener.
struct heard {
  std::int32_t partition;
  bool assigned;  // false: revoked
  bool lost;
  bool operator==(const heard&) const = default;
};

// What the log told a member, kept for the test to compare with owns().
class recording_listener final : public ownership_listener {
 public:
  void partition_assigned(partition_id p) override {
    std::unique_lock lk(mu_);
    owned_.insert(p());
    heard_.push_back({p(), true, false});
    // Held: the member's group thread polls no more until released (bounded, so that a failed
    // test still ends).
    released_.wait_for(lk, 120s, [&] { return !held_; });
  }
  // From now on partition_assigned blocks until release().
  void hold() {
    std::lock_guard lk(mu_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lk(mu_);
      held_ = false;
    }
    released_.notify_all();
  }
  void partition_revoked(partition_id p, bool lost) override {
    std::lock_guard lk(mu_);
    owned_.erase(p());
    revoked_.emplace_back(p(), lost);
    heard_.push_back({p(), false, lost});
  }
  // Everything heard about p, in order.
  std::vector<heard> heard_of(partition_id p) const {
    std::lock_guard lk(mu_);
    std::vector<heard> out;
    for (const auto& h : heard_)
      if (h.partition == p()) out.push_back(h);
    return out;
  }
  std::set<std::int32_t> owned() const {
    std::lock_guard lk(mu_);
    return owned_;
  }
  std::vector<std::pair<std::int32_t, bool>> revoked() const {
    std::lock_guard lk(mu_);
    return revoked_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::int32_t> owned_;
  std::vector<std::pair<std::int32_t, bool>> revoked_;
  std::vector<heard> heard_;
  bool held_{false};
  std::condition_variable released_;
};

kafka_log_options group_options(std::string topic, std::string group, std::string url) {
  auto o = kafka_options(std::move(topic), 4);
  o.group = std::move(group);
  o.advertise = std::move(url);
  o.session_timeout = std::chrono::milliseconds{6000};  // the broker's minimum
  return o;
}

std::set<std::int32_t> owned_by(const event_log& log) {
  std::set<std::int32_t> out;
  for (const auto& p : log.owned()) out.insert(p());
  return out;
}

std::set<std::int32_t> all_partitions(std::int32_t n) {
  std::set<std::int32_t> out;
  for (std::int32_t p = 0; p < n; ++p) out.insert(p);
  return out;
}

std::unique_ptr<event_log> open_member(const kafka_log_options& o) {
  auto log = open_kafka_log(o);
  REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
  return std::move(log).value();
}

// A member alone in its group, once it owns every partition.
std::unique_ptr<event_log> member_alone(const kafka_log_options& o, recording_listener& l) {
  auto log = open_member(o);
  REQUIRE(log->join(l));
  REQUIRE(eventually([&] { return owned_by(*log) == all_partitions(o.partitions); }, 60s));
  return log;
}

// A raw librdkafka transactional producer, as another server (or a test) would run it.
detail::handle_ptr raw_transactional_producer(const std::string& transactional_id) {
  auto conf = detail::make_conf({{"bootstrap.servers", kafka_bootstrap()},
                                 {"transactional.id", transactional_id},
                                 {"enable.idempotence", "true"},
                                 {"acks", "all"}});
  REQUIRE(conf.has_value());
  auto rk = detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  REQUIRE(rk.has_value());
  detail::rdkafka_ptr<rd_kafka_error_t> e{rd_kafka_init_transactions(rk.value().get(), 60000)};
  INFO((e ? rd_kafka_error_string(e.get()) : ""));
  REQUIRE_FALSE(e);
  return std::move(rk).value();
}

// A record value the projections skip (a checkpoint), so that a runner can apply the partition.
std::string not_an_event(partition_id p, int i) {
  return encode_checkpoint(
      checkpoint{p, log_offset{i}, std::string(32, 'h'), timestamp{1'780'000'000'000 + i}});
}

}  // namespace

// A member alone in its group: it owns every partition once joined. Each open() is a new member
// of the same group (the previous one left when destroyed).
struct group_backend {
  static constexpr std::int32_t partitions = 4;
  static constexpr bool transactional = true;

  group_backend()
      : options(group_options(unique_topic("group-conformance"), unique_topic("group"),
                              "http://127.0.0.1:8081")) {}

  result<std::unique_ptr<event_log>> open() {
    auto log = open_kafka_log(options);
    if (!log) return log;
    listeners.push_back(std::make_unique<recording_listener>());
    if (auto r = log.value()->join(*listeners.back()); !r) return std::move(r).error();
    if (!eventually([&] { return log.value()->owned().size() == partitions; }, 60s))
      return make_error(errc::timed_out, "the member was not given every partition");
    return log;
  }

  kafka_log_options options;
  std::vector<std::unique_ptr<recording_listener>> listeners;  // outlive the logs
};

}  // namespace caseline::events::testing

TEST_CASE_TEMPLATE_INVOKE(event_log_conformance, caseline::events::testing::group_backend);

using namespace caseline;
using namespace caseline::events;
using namespace caseline::events::testing;

TEST_CASE("two members split the partitions, claim them, and one leaving hands all to the other") {
  const std::string topic = unique_topic("group-split");
  const std::string group = unique_topic("group");
  const std::string url_a = "http://10.0.0.1:8080";
  const std::string url_b = "http://10.0.0.2:8080";
  recording_listener la;  // outlive the members, which call them until they leave
  recording_listener lb;
  auto a = open_member(group_options(topic, group, url_a));
  auto b = open_member(group_options(topic, group, url_b));
  CHECK(a->owned().empty());  // nothing before joining
  ack_collector refused;
  a->append_to(partition_id{0}, "k", "before joining", refused.handler("k", "before joining"));
  REQUIRE_FALSE(refused.wait_for(1)[0].outcome.has_value());
  CHECK(refused.wait_for(1)[0].outcome.error().code == errc::not_owner);

  REQUIRE(a->join(la));
  // The listener hears of a partition right after owns() turns true.
  REQUIRE(eventually(
      [&] { return owned_by(*a) == all_partitions(4) && la.owned() == all_partitions(4); }, 60s));

  REQUIRE(b->join(lb));
  // Cooperative-sticky: b gets its share, a keeps the rest; never a partition in both.
  REQUIRE(eventually(
      [&] {
        const auto oa = owned_by(*a);
        const auto ob = owned_by(*b);
        std::set<std::int32_t> both = oa;
        both.insert(ob.begin(), ob.end());
        return !oa.empty() && !ob.empty() && both == all_partitions(4) &&
               oa.size() + ob.size() == 4 && la.owned() == oa && lb.owned() == ob;
      },
      60s));
  const auto owned_b = owned_by(*b);
  for (const auto& [p, lost] : la.revoked()) {
    CHECK(owned_b.contains(p));  // a gave up exactly what b took
    CHECK_FALSE(lost);
  }

  // Each partition's last claim names its owner; a claimed every partition first.
  for (std::int32_t p = 0; p < 4; ++p) {
    std::vector<partition_claim> claims;
    for (const auto& r : read_all(*a, partition_id{p})) {
      if (!is_partition_claim(r.value)) continue;
      auto c = decode_partition_claim(r.value);
      REQUIRE(c.has_value());
      CHECK(c.value().partition == partition_id{p});
      CHECK(c.value().group == group);
      claims.push_back(c.value());
    }
    REQUIRE_FALSE(claims.empty());
    CHECK(claims.front().member == url_a);
    CHECK(claims.back().member == (owned_b.contains(p) ? url_b : url_a));
  }

  // An append to a partition of the other member is refused, to one of its own accepted.
  const partition_id of_b{*owned_b.begin()};
  ack_collector acks;
  a->append_to(of_b, "k", "not mine", acks.handler("k", "not mine"));
  b->append_to(of_b, "k", "mine", acks.handler("k", "mine"));
  for (const auto& r : acks.wait_for(2)) {
    if (r.value == "not mine") {
      REQUIRE_FALSE(r.outcome.has_value());
      CHECK(r.outcome.error().code == errc::not_owner);
    } else {
      require_ok(r);
      CHECK(r.outcome.value().partition == of_b);
    }
  }

  b->leave();
  CHECK(b->owned().empty());
  CHECK(lb.owned().empty());
  for (const auto& [p, lost] : lb.revoked()) CHECK_FALSE(lost);
  REQUIRE(eventually(
      [&] { return owned_by(*a) == all_partitions(4) && la.owned() == all_partitions(4); }, 60s));
  REQUIRE(a->group().has_value());
  CHECK(a->group()->group == group);
  CHECK(a->group()->rebalances >= 3);  // assigned, revoked for b, assigned back
}

TEST_CASE("a writer fenced while its partition stays assigned is replaced and writes it again") {
  const auto o =
      group_options(unique_topic("group-fence"), unique_topic("group"), "http://10.0.0.1:8080");
  recording_listener l;
  auto log = member_alone(o, l);
  const partition_id p{2};
  REQUIRE(l.heard_of(p) == std::vector<heard>{{p(), true, false}});

  ack_collector before;
  log->append_to(p, "k", "before the fence", before.handler("k", "before the fence"));
  require_ok(before.wait_for(1)[0]);

  // A zombie acting on a stale assignment: a producer with p's transactional.id fences the
  // member's writer, although the group still names the member p's owner.
  auto zombie =
      raw_transactional_producer(detail::kafka_group::transactional_id(o.group, o.topic, p));

  ack_collector after;
  log->append_to(p, "k", "after the fence", after.handler("k", "after the fence"));
  const auto fenced = after.wait_for(1)[0];
  REQUIRE_FALSE(fenced.outcome.has_value());
  INFO(fenced.outcome.error().message());
  CHECK((fenced.outcome.error().code == errc::fenced ||
         fenced.outcome.error().code == errc::outcome_unknown));
  if (fenced.outcome.error().code == errc::fenced) CHECK(log->group()->fenced >= 1);

  // Other partitions' writers are not affected.
  ack_collector elsewhere;
  log->append_to(partition_id{1}, "k", "elsewhere", elsewhere.handler("k", "elsewhere"));
  require_ok(elsewhere.wait_for(1)[0]);

  // p is still assigned here: its stopped writer is replaced by a new one, which fences the
  // zombie in turn and claims p again, and the listener hears p lost and then assigned.
  REQUIRE(eventually(
      [&] {
        return log->group()->reclaims == 1 && log->owns(p) && l.heard_of(p).size() == 3 &&
               l.owned().contains(p());
      },
      60s));
  CHECK(l.heard_of(p) ==
        std::vector<heard>{{p(), true, false}, {p(), false, true}, {p(), true, false}});
  ack_collector again;
  log->append_to(p, "k", "after the reclaim", again.handler("k", "after the reclaim"));
  const auto written = again.wait_for(1)[0];
  require_ok(written);
  CHECK(written.outcome.value().partition == p);
  CHECK(log->group()->reclaims == 1);

  // The zombie is fenced now: nothing it produces commits.
  {
    bool committed = false;
    detail::rdkafka_ptr<rd_kafka_error_t> e{rd_kafka_begin_transaction(zombie.get())};
    detail::topic_ptr topic{rd_kafka_topic_new(zombie.get(), o.topic.c_str(), nullptr)};
    REQUIRE(topic);
    std::string v = "the zombie's";
    if (!e && rd_kafka_produce(topic.get(), p(), RD_KAFKA_MSG_F_COPY, v.data(), v.size(), nullptr,
                               0, nullptr) == 0) {
      (void)rd_kafka_flush(zombie.get(), 30000);  // its report fails: fenced
      e.reset(rd_kafka_commit_transaction(zombie.get(), 30000));
      committed = !e;
    }
    CHECK_FALSE(committed);
  }

  // The log holds the member's two claims of p, the records acknowledged, and never the fenced
  // record nor the zombie's.
  std::vector<std::string> values;
  std::size_t claims = 0;
  for (const auto& r : read_all(*log, p)) {
    CHECK(r.value != "after the fence");
    CHECK(r.value != "the zombie's");
    if (is_partition_claim(r.value)) {
      auto c = decode_partition_claim(r.value);
      REQUIRE(c.has_value());
      CHECK(c.value().member == o.advertise);
      CHECK(c.value().partition == p);
      values.push_back("claim");
      ++claims;
    } else if (!is_gap(r.value)) {
      values.push_back(r.value);
    }
  }
  CHECK(claims == 2);
  CHECK(values ==
        std::vector<std::string>{"claim", "before the fence", "claim", "after the reclaim"});
}

TEST_CASE("a member that stops polling loses its partitions and the zombie it was keeps none") {
  const std::string topic = unique_topic("group-zombie");
  const std::string group = unique_topic("group");
  auto oa = group_options(topic, group, "http://10.0.0.1:8080");
  // A member that has not polled for this long leaves the group (librdkafka's max poll interval;
  // the session timeout is its minimum, in every consumer of the log).
  oa.properties["max.poll.interval.ms"] = "6000";
  oa.properties["session.timeout.ms"] = "6000";
  auto ob = oa;
  ob.advertise = "http://10.0.0.2:8080";
  recording_listener la;
  recording_listener lb;
  auto a = open_member(oa);
  auto b = open_member(ob);

  // a's group thread blocks in its first partition_assigned: it polls no more.
  la.hold();
  REQUIRE(a->join(la));
  REQUIRE(eventually([&] { return !la.owned().empty(); }, 60s));
  REQUIRE(b->join(lb));
  // The group gives every partition to b; b's claims fence a's writers.
  REQUIRE(eventually([&] { return owned_by(*b) == all_partitions(4); }, 60s));

  // a wakes with a stale assignment and claims the partitions it still had pending: a zombie
  // fencing b's writers. Then it hears that its assignment was lost (and rejoins).
  la.release();
  REQUIRE(eventually(
      [&] {
        for (std::int32_t p = 0; p < 4; ++p)
          for (const auto& h : la.heard_of(partition_id{p}))
            if (!h.assigned && h.lost) return true;
        return false;
      },
      60s));

  // Every partition ends with one owner that writes it: b replaces the writers the zombie fenced
  // of those it keeps (at least one: a rejoined, the group splits the partitions two and two).
  REQUIRE(eventually(
      [&] {
        const auto owned_a = owned_by(*a);
        const auto owned_b = owned_by(*b);
        if (owned_a.size() != 2 || owned_b.size() != 2) return false;
        for (std::int32_t p = 0; p < 4; ++p) {
          const bool of_a = owned_a.contains(p);
          if (of_a == owned_b.contains(p)) return false;
          ack_collector acks;
          (of_a ? *a : *b).append_to(partition_id{p}, "k", "after", acks.handler("k", "after"));
          if (!acks.wait_for(1)[0].outcome.has_value()) return false;
        }
        return true;
      },
      60s));
  CHECK(b->group()->reclaims >= 1);
}

TEST_CASE("transaction markers and aborted records are gaps: offsets stay dense for every reader") {
  const auto o =
      group_options(unique_topic("group-gaps"), unique_topic("group"), "http://10.0.0.1:8080");
  recording_listener l;
  auto log = member_alone(o, l);
  const partition_id p{1};

  std::map<std::int64_t, std::string> written;  // offset -> value, of acknowledged appends
  auto append_some = [&](int from, int count) {
    ack_collector acks;
    for (int i = from; i < from + count; ++i) {
      const std::string v = not_an_event(p, i);
      log->append_to(p, "k" + std::to_string(i), v, acks.handler("k", v));
    }
    for (const auto& a : acks.wait_for(static_cast<std::size_t>(count))) {
      require_ok(a);
      written[a.outcome.value().offset()] = a.value;
    }
  };
  append_some(0, 5);
  {
    // An aborted transaction of another producer: its records are never visible.
    auto raw = raw_transactional_producer("caseline-test-abort." + o.topic);
    detail::topic_ptr topic{rd_kafka_topic_new(raw.get(), o.topic.c_str(), nullptr)};
    REQUIRE(topic);
    detail::rdkafka_ptr<rd_kafka_error_t> e{rd_kafka_begin_transaction(raw.get())};
    REQUIRE_FALSE(e);
    for (int i = 0; i < 3; ++i) {
      std::string v = "aborted " + std::to_string(i);
      REQUIRE(rd_kafka_produce(topic.get(), p(), RD_KAFKA_MSG_F_COPY, v.data(), v.size(), nullptr,
                               0, nullptr) == 0);
    }
    REQUIRE(rd_kafka_flush(raw.get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    e.reset(rd_kafka_abort_transaction(raw.get(), 30000));
    REQUIRE_FALSE(e);
  }
  append_some(5, 5);

  const std::int64_t end = end_of(*log, p)();
  const auto records = read_all(*log, p);
  REQUIRE(static_cast<std::int64_t>(records.size()) == end);
  std::size_t gaps = 0;
  std::size_t claims = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    CHECK(r.position == log_position{p, log_offset{static_cast<std::int64_t>(i)}});
    if (written.contains(r.position.offset())) {
      CHECK(r.value == written.at(r.position.offset()));
    } else if (is_partition_claim(r.value)) {
      ++claims;
    } else {
      // Everything else is a gap, exactly: a marker or an aborted record.
      CHECK(is_gap(r.value));
      CHECK(r.key.empty());
      ++gaps;
    }
  }
  CHECK(claims == 1);
  // The claim's commit marker, the aborted three and their marker, one marker per later
  // transaction (at least two: the appends were waited for in two groups).
  CHECK(gaps >= 1 + 3 + 1 + 2);
  CHECK(records.size() == written.size() + claims + gaps);

  // A subscription sees the same offsets, gaps included, up to the end.
  batch_collector seen;
  auto sub = log->subscribe({}, seen.handler());
  REQUIRE(sub.has_value());
  REQUIRE(eventually(
      [&] {
        const auto got = seen.wait_for(0);
        return std::count_if(got.begin(), got.end(),
                             [&](const log_record& r) { return r.position.partition == p; }) >= end;
      },
      60s));
  std::vector<log_record> of_p;
  for (const auto& r : seen.wait_for(0))
    if (r.position.partition == p) of_p.push_back(r);
  REQUIRE(static_cast<std::int64_t>(of_p.size()) == end);
  for (std::size_t i = 0; i < of_p.size(); ++i) {
    CHECK(of_p[i].position == records[i].position);
    CHECK(of_p[i].value == records[i].value);
  }
  sub.value().reset();

  // A projection runner over a real store catches up past the last marker.
  test::temp_dir dir;
  auto store = projections::store::open(dir.sub("store"));
  REQUIRE(store.has_value());
  projections::projection_runner runner(*log, *store.value(), {});
  REQUIRE(runner.start());
  auto caught = runner.catch_up(60s);
  REQUIRE_MESSAGE(caught.has_value(), (caught ? std::string{} : caught.error().message()));
  CHECK(runner.applied(p) == end);
  for (std::int32_t q = 0; q < 4; ++q)
    CHECK(runner.applied(partition_id{q}) == end_of(*log, partition_id{q})());
}

TEST_CASE("a crashed writer's open transaction holds readers back only until its timeout") {
  // The writers' transaction timeout, for a delivery timeout short enough for a test.
  kafka_log_timeouts t;
  t.delivery = 2s;
  const auto timeout = detail::transaction_timeout(t);
  CHECK(timeout >= t.delivery);  // librdkafka refuses a message timeout above it
  CHECK(detail::transaction_timeout(kafka_log_timeouts{}) <= 20s);

  auto o = kafka_options(unique_topic("txn-timeout"), 2);
  auto opened = open_kafka_log(o);
  REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message()));
  auto& log = *opened.value();
  const partition_id p{1};

  // A writer configured as the group's writers are, that dies mid-transaction: its record is
  // delivered, then nothing more is heard from it (neither commit nor abort).
  auto conf = detail::make_conf({{"bootstrap.servers", kafka_bootstrap()},
                                 {"transactional.id", "caseline-test-crashed." + o.topic},
                                 {"enable.idempotence", "true"},
                                 {"acks", "all"},
                                 {"message.timeout.ms", std::to_string(t.delivery.count())},
                                 {"transaction.timeout.ms", std::to_string(timeout.count())}});
  REQUIRE(conf.has_value());
  auto crashed = detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  REQUIRE(crashed.has_value());
  using error_ptr = detail::rdkafka_ptr<rd_kafka_error_t>;
  REQUIRE_FALSE(error_ptr{rd_kafka_init_transactions(crashed.value().get(), 60000)});
  REQUIRE_FALSE(error_ptr{rd_kafka_begin_transaction(crashed.value().get())});
  detail::topic_ptr topic{rd_kafka_topic_new(crashed.value().get(), o.topic.c_str(), nullptr)};
  REQUIRE(topic);
  std::string v = "never committed";
  REQUIRE(rd_kafka_produce(topic.get(), p(), RD_KAFKA_MSG_F_COPY, v.data(), v.size(), nullptr, 0,
                           nullptr) == 0);
  REQUIRE(rd_kafka_flush(crashed.value().get(), 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto died = std::chrono::steady_clock::now();

  // Readers (read_committed: the log's end offset is the last stable offset) are held below it.
  CHECK(end_of(log, p)() == 0);
  // Until the coordinator aborts it: the transaction timeout (4 s here), plus up to the broker's
  // check interval for timed-out transactions (10 s), plus slack for a loaded machine.
  constexpr auto bound = 30s;
  CHECK(eventually([&] { return end_of(log, p)() > 0; }, bound));
  const auto held = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - died);
  MESSAGE("readers held back " << held.count() << " ms (transaction timeout " << timeout.count()
                               << " ms)");
  // Aborted, never delivered: the record is a gap.
  const auto records = read_all(log, p);
  REQUIRE_FALSE(records.empty());
  CHECK(is_gap(records.front().value));
}

TEST_CASE("a commit is answered once readers see it, also when a subscription wakes the wait") {
  const auto o =
      group_options(unique_topic("group-visible"), unique_topic("group"), "http://10.0.0.1:8080");
  recording_listener l;
  auto log = member_alone(o, l);
  // A subscription of the log itself, as a server's projection runner is: the writers' wait for
  // visibility wakes on what it reads (detail::visibility_board) instead of asking the broker.
  auto sub =
      log->subscribe({}, [](std::span<const log_record>) -> result<void> { return success(); });
  REQUIRE(sub.has_value());
  for (int round = 0; round < 10; ++round) {
    ack_collector acks;
    for (int i = 0; i < 8; ++i) acks.append(*log, case_key(round * 8 + i), "v");
    for (const auto& a : acks.wait_for(8)) {
      require_ok(a);
      const log_position at = a.outcome.value();
      // Answered only once the last stable offset passed it: readable at once, with no wait.
      CHECK(end_of(*log, at.partition) > at.offset);
      auto read = log->read(at.partition, at.offset, 1, std::chrono::milliseconds{0});
      REQUIRE(read.has_value());
      REQUIRE(read.value().size() == 1);
      CHECK(read.value().front().key == a.key);
    }
  }
  CHECK_FALSE(sub.value()->failure().has_value());
}
