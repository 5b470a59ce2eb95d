#include "projections/key_store.h"

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <ostream>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/codec.h"
#include "core/decide.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "events/key_journal.h"
#include "projections/personal_data.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace caseline;


TEST_CASE("case keys are wrapped, survive a reopen, and are gone from every file once shredded") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  const case_id a{"410100-20261129-000001"}, b{"410100-20261129-000002"};
  std::string key_a;
  {
    auto ks = projections::key_store::open(dir.path(), master);
    REQUIRE(ks);
    auto k = ks.value()->create(a);
    REQUIRE(k);
    key_a = std::string(k.value().view());
    REQUIRE(ks.value()->create(b));
  }
  CHECK(test::all_bytes_under(dir.path()).find(key_a) == std::string::npos);  // only wrapped on disk
  auto ks = projections::key_store::open(dir.path(), master);
  REQUIRE(ks);
  auto got = ks.value()->get(a);
  REQUIRE(got);
  REQUIRE(got.value().has_value());
  CHECK(got.value()->view() == key_a);

  REQUIRE(ks.value()->shred({a}));
  CHECK_FALSE(ks.value()->get(a).value().has_value());
  CHECK(ks.value()->get(b).value().has_value());
  CHECK(ks.value()->shred({a}));  // idempotent
  ks.value().reset();
  // Reopened with the master key, nothing of a's key can be found or unwrapped.
  auto again = projections::key_store::open(dir.path(), master);
  REQUIRE(again);
  CHECK_FALSE(again.value()->get(a).value().has_value());
}

namespace {

// Stores `n` new keys from `n` threads at once (so that they share synced writes) and waits for
// every handler; returns the ids, keys and outcomes.
struct stored_key {
  case_id id;
  events::secret_key key;
  result<void> outcome = success();
};
std::vector<stored_key> store_at_once(projections::key_store& ks, std::size_t n) {
  std::vector<stored_key> keys;
  keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    keys.push_back(
        {case_id{"410100-20261129-" + std::to_string(100000 + i)}, events::secret_key::random()});
  std::mutex mu;
  std::condition_variable cv;
  std::size_t answered = 0;
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (auto& k : keys)
    threads.emplace_back([&] {
      ks.store(k.id, k.key, [&](result<void> r) {
        std::lock_guard lk(mu);
        k.outcome = std::move(r);
        ++answered;
        cv.notify_all();
      });
    });
  for (auto& t : threads) t.join();
  std::unique_lock lk(mu);
  REQUIRE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return answered == n; }));
  return keys;
}

}  // namespace

TEST_CASE("keys stored at once are group-committed: each durable when its handler runs") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  std::vector<stored_key> keys;
  {
    auto ks = projections::key_store::open(dir.path(), master);
    REQUIRE(ks);
    keys = store_at_once(*ks.value(), 64);
    for (const auto& k : keys)
      REQUIRE_MESSAGE(k.outcome, (k.outcome ? "" : k.outcome.error().message()));
  }
  auto ks = projections::key_store::open(dir.path(), master);
  REQUIRE(ks);
  for (const auto& k : keys) {
    auto got = ks.value()->get(k.id);
    REQUIRE(got);
    REQUIRE_MESSAGE(got.value().has_value(), k.id());
    CHECK(got.value()->view() == k.key.view());
  }
}

namespace {
// Stores `id`'s new key ahead of its record and waits until it is durable.
void store_ahead(projections::key_store& ks, const case_id& id) {
  std::promise<result<void>> stored;
  ks.store_ahead_of_record(id, events::secret_key::random(),
                           [&stored](result<void> r) { stored.set_value(std::move(r)); });
  const auto r = stored.get_future().get();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
}

std::vector<std::string> ahead_of_record(projections::key_store& ks) {
  std::vector<std::string> ids;
  REQUIRE(ks.each_ahead_of_record([&](std::string_view id) { ids.emplace_back(id); }));
  return ids;
}
}  // namespace

// A Kafka server without a group stores a new case's key before it appends the case's record.
// Until the record is known to be in the log the key is marked, durably, so that a key whose
// record never came is found after a crash too (the case writer's check before a handover).
TEST_CASE("a key stored ahead of its record stays marked until confirmed, across a reopen") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  const case_id a{"410100-20261206-000001"}, b{"410100-20261206-000002"},
      c{"410100-20261206-000003"}, d{"410100-20261206-000004"}, plain{"410100-20261206-000005"};
  {
    auto ks = projections::key_store::open(dir.path(), master);
    REQUIRE(ks);
    store_ahead(*ks.value(), a);
    store_ahead(*ks.value(), b);
    store_ahead(*ks.value(), c);
    REQUIRE(ks.value()->create(plain));  // not ahead of a record: never marked
    CHECK(ahead_of_record(*ks.value()) == std::vector<std::string>{a(), b(), c()});
    // A confirmation is written with the next keys, not on its own.
    ks.value()->confirm({a()});
    CHECK(ahead_of_record(*ks.value()) == std::vector<std::string>{a(), b(), c()});
    store_ahead(*ks.value(), d);
    CHECK(ahead_of_record(*ks.value()) == std::vector<std::string>{b(), c(), d()});
    // The marks are not keys: the stored keys are the five cases' alone.
    std::vector<std::string> stored;
    REQUIRE(ks.value()->each_stored([&](std::string_view id, const std::string&) -> result<void> {
      stored.emplace_back(id);
      return success();
    }));
    CHECK(stored == std::vector<std::string>{a(), b(), c(), d(), plain()});
  }
  // Reopened (as after a crash): the marks are durable with their keys.
  auto ks = projections::key_store::open(dir.path(), master);
  REQUIRE(ks);
  CHECK(ahead_of_record(*ks.value()) == std::vector<std::string>{b(), c(), d()});
  // Checked: b's key is its case's after all; c's is shredded (another writer's case had the id).
  const std::vector<std::string> settled{b()};
  REQUIRE(ks.value()->settle(settled));
  REQUIRE(ks.value()->shred({c}));
  CHECK(ahead_of_record(*ks.value()) == std::vector<std::string>{d()});
  CHECK(ks.value()->get(b).value().has_value());
  CHECK_FALSE(ks.value()->get(c).value().has_value());
  // A key stored again under a marked id (the writer gave the id out again) stays marked once.
  store_ahead(*ks.value(), d);
  CHECK(ahead_of_record(*ks.value()) == std::vector<std::string>{d()});
}

TEST_CASE("a failed group write fails every key of the group, and none of them is kept") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  {
    auto ks = projections::key_store::open(dir.path(), master);
    REQUIRE(ks);
  }
  std::vector<stored_key> keys;
  {
    // Read-only (a RocksDB secondary instance): every write fails.
    auto ks = projections::key_store::open_secondary(dir.path(), master);
    REQUIRE(ks);
    keys = store_at_once(*ks.value(), 32);
    for (const auto& k : keys) {
      CHECK_FALSE(k.outcome);
      auto got = ks.value()->get(k.id);  // not cached either
      REQUIRE(got);
      CHECK_FALSE(got.value().has_value());
    }
  }
  auto ks = projections::key_store::open(dir.path(), master);
  REQUIRE(ks);
  for (const auto& k : keys) CHECK_FALSE(ks.value()->get(k.id).value().has_value());
}

namespace {

// Handlers' outcomes of keys stored without waiting, counted under a lock.
struct pending_stores {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<result<void>> outcomes;  // in the order the handlers ran
  projections::key_store::stored_handler handler() {
    return [this](result<void> r) {
      std::lock_guard lk(mu);
      outcomes.push_back(std::move(r));
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::seconds deadline = std::chrono::seconds(20)) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, deadline, [&] { return outcomes.size() >= n; });
  }
  std::size_t answered() {
    std::lock_guard lk(mu);
    return outcomes.size();
  }
};

case_id numbered_case(int i) { return case_id{fmt::format("410100-20261204-{:06}", i)}; }

// Lingers after any group, for as long as a test could take: only a full group or a close ends
// the wait.
events::group_linger long_linger(std::size_t keys) {
  return {.linger = std::chrono::minutes(10), .items = keys, .after_group = 1};
}

}  // namespace

TEST_CASE(
    "under load the committer waits for more keys: those that come meanwhile share its sync") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  std::vector<events::secret_key> keys;
  keys.reserve(4);
  for (int i = 0; i < 4; ++i) keys.push_back(events::secret_key::random());
  {
    auto ks = projections::key_store::open(dir.path(), master);
    REQUIRE(ks);
    auto& store = *ks.value();
    store.set_commit_linger(long_linger(3));
    pending_stores first;
    store.store(numbered_case(0), keys[0], first.handler());
    REQUIRE(first.wait_for(1));  // a group of one: the committer lingers after it from now on
    REQUIRE(first.outcomes[0]);
    const auto syncs = store.commit_syncs();
    pending_stores p;
    store.store(numbered_case(1), keys[1], p.handler());
    REQUIRE(test::eventually([&] { return store.commit_lingers() == 1; }));
    CHECK(p.answered() == 0);  // waiting for two more keys
    store.store(numbered_case(2), keys[2], p.handler());
    store.store(numbered_case(3), keys[3], p.handler());
    REQUIRE(p.wait_for(3));
    for (const auto& r : p.outcomes) CHECK(r);
    CHECK(store.commit_syncs() == syncs + 1);  // the three in one synced write
  }
  auto ks = projections::key_store::open(dir.path(), master);
  REQUIRE(ks);
  for (int i = 0; i < 4; ++i) {
    auto got = ks.value()->get(numbered_case(i));
    REQUIRE(got);
    REQUIRE_MESSAGE(got.value().has_value(), numbered_case(i)());
    CHECK(got.value()->view() == keys[static_cast<std::size_t>(i)].view());
  }
}

TEST_CASE("a key that comes alone never waits for others: one intake at a time, one write each") {
  test::temp_dir dir;
  auto ks = projections::key_store::open(dir.path(), events::secret_key::random());
  REQUIRE(ks);
  auto& store = *ks.value();
  store.set_commit_linger({.linger = std::chrono::milliseconds(1)});  // the server's
  for (int i = 0; i < 5; ++i) REQUIRE(store.create(numbered_case(i)));
  CHECK(store.commit_syncs() == 5);
  CHECK(store.commit_lingers() == 0);
}

TEST_CASE("a key store closed while its committer lingers writes the waiting keys at once") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  const auto key = events::secret_key::random();
  pending_stores p;
  {
    auto ks = projections::key_store::open(dir.path(), master);
    REQUIRE(ks);
    auto store = std::move(ks).value();
    store->set_commit_linger(long_linger(100));
    REQUIRE(store->create(numbered_case(0)));
    store->store(numbered_case(1), key, p.handler());
    REQUIRE(test::eventually([&] { return store->commit_lingers() == 1; }));
    // The close neither waits out the linger nor drops the key.
    auto closed = std::async(std::launch::async, [s = std::move(store)]() mutable { s.reset(); });
    REQUIRE(closed.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  }
  REQUIRE(p.answered() == 1);
  CHECK(p.outcomes[0]);
  auto ks = projections::key_store::open(dir.path(), master);
  REQUIRE(ks);
  auto got = ks.value()->get(numbered_case(1));
  REQUIRE(got);
  REQUIRE(got.value().has_value());
  CHECK(got.value()->view() == key.view());
}

TEST_CASE("a wrong master key is an error naming the case, never a wrong key") {
  test::temp_dir dir;
  const case_id a{"410100-20261129-000001"};
  {
    auto ks = projections::key_store::open(dir.path(), events::secret_key::random());
    REQUIRE(ks);
    REQUIRE(ks.value()->create(a));
  }
  auto ks = projections::key_store::open(dir.path(), events::secret_key::random());
  REQUIRE(ks);
  auto got = ks.value()->get(a);
  REQUIRE_FALSE(got);
  CHECK(got.error().code == events::errc::corrupt_record);
  CHECK(got.error().message().find(a()) != std::string::npos);
}

TEST_CASE("the development master key is created once, 0600, and read back") {
  test::temp_dir dir;
  const std::string file = dir.sub("sub/master.key");
  auto k1 = projections::load_master_key({"", "", file});
  REQUIRE(k1);
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_all) ==
        std::filesystem::perms::none);
  auto k2 = projections::load_master_key({"", "", file});
  REQUIRE(k2);
  CHECK(k1.value().view() == k2.value().view());
  auto from_file = projections::load_master_key({file, "", ""});
  REQUIRE(from_file);
  CHECK(from_file.value().view() == k1.value().view());
  CHECK_FALSE(projections::load_master_key({dir.sub("missing"), "", ""}));
  CHECK_FALSE(projections::load_master_key({"", "xyz", ""}));
}

TEST_CASE("personal fields are sealed per event and open again, until the case is shredded") {
  test::temp_dir dir;
  auto ks = projections::key_store::open(dir.path(), events::secret_key::random());
  REQUIRE(ks);
  projections::personal_data pd(*ks.value());
  const case_id id{"410100-20261129-000007"};
  std::vector<core::event> evs{core::case_received{
      core::channel::phone, center_code{"410100"}, core::caller_info{"13912345678", "李四"},
      "出租车绕路", std::nullopt, civil_date{2026, 11, 29}, civil_date{2026, 12, 2}, id,
      user_id{"agent"}, {}}};
  REQUIRE(pd.seal(id, 1, evs, true));
  const auto& sealed = std::get<core::case_received>(evs[0]);
  CHECK(events::is_sealed_field(sealed.content));
  CHECK(events::is_sealed_field(sealed.caller.phone));
  CHECK(core::encode(evs[0]).bytes.find("13912345678") == std::string::npos);

  core::case_state empty;
  empty.id = id;
  core::case_state s = core::evolve(empty, evs[0], timestamp{0});
  core::case_state shown = s;
  REQUIRE(pd.open(shown).value());
  CHECK(shown.content == "出租车绕路");
  CHECK(shown.caller.name == "李四");
  core::event e = evs[0];
  REQUIRE(pd.open(id, "410100-20261129-000007#1", e).value());
  CHECK(std::get<core::case_received>(e).caller.phone == "13912345678");
  core::event wrong_place = evs[0];
  CHECK_FALSE(pd.open(id, "410100-20261129-000007#2", wrong_place));

  REQUIRE(ks.value()->shred({id}));
  core::case_state after = s;
  auto opened = pd.open(after);
  REQUIRE(opened);
  CHECK_FALSE(opened.value());
  CHECK(after.content.empty());
  CHECK(after.caller.phone.empty());
  std::vector<core::event> more{core::answered_immediately{"x", civil_date{}, user_id{"a"}}};
  CHECK_FALSE(pd.seal(id, 2, more, false));
}

namespace {

// Appends a new case's record with its key journaled and waits for the log's answer.
result<events::log_position> append_journaled(events::key_journal& j, const std::string& id,
                                              std::string wrapped) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<result<events::log_position>> got;
  j.append_with_key(id, "record of " + id, {id, std::move(wrapped)},
                    [&](result<events::log_position> r) {
                      std::lock_guard lk(mu);
                      got = std::move(r);
                      cv.notify_all();
                    });
  std::unique_lock lk(mu);
  cv.wait_for(lk, std::chrono::seconds(10), [&] { return got.has_value(); });
  if (!got) return make_error(events::errc::timed_out, "no answer from the log");
  return std::move(*got);
}

// An embedded log and a key store that uses its journal, as serve opens them.
struct journaled_stack {
  std::unique_ptr<events::event_log> log;
  events::key_journal* journal{nullptr};
  std::unique_ptr<projections::key_store> keys;
};

journaled_stack open_journaled(const test::temp_dir& dir, const events::secret_key& master) {
  journaled_stack s;
  auto log = events::open_embedded_log({dir.sub("log"), 2});
  REQUIRE(log);
  s.log = std::move(log).value();
  s.journal = events::journal_of(*s.log);
  REQUIRE(s.journal != nullptr);
  auto ks = projections::key_store::open(dir.sub("keys"), master);
  REQUIRE(ks);
  s.keys = std::move(ks).value();
  REQUIRE(s.keys->use_journal(*s.journal));
  return s;
}

}  // namespace

TEST_CASE("journaled keys are synced into the key store for many group commits at once") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  std::vector<std::pair<case_id, events::secret_key>> keys;
  keys.reserve(300);
  for (int i = 0; i < 300; ++i)
    keys.emplace_back(case_id{fmt::format("410100-20261204-{:06}", i + 1)},
                      events::secret_key::random());
  std::chrono::milliseconds took{};
  std::uint64_t syncs = 0;
  {
    auto s = open_journaled(dir, master);
    // One append at a time: each its own group commit of the log, each journaling one key.
    const auto started = std::chrono::steady_clock::now();
    for (const auto& [id, key] : keys)
      REQUIRE(append_journaled(*s.journal, id(), s.keys->wrap(id, key)));
    // The keys are synced here and erased from the journal within an interval of the last one.
    REQUIRE(test::eventually([&] { return s.journal->pending().value().empty(); }));
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started);
    syncs = s.keys->journal_syncs();
    for (const auto& [id, key] : keys) {
      auto got = s.keys->get(id);
      REQUIRE(got);
      REQUIRE(got.value().has_value());
      CHECK(got.value()->view() == key.view());
    }
  }
  // Not a sync per group commit (300 of them), but about one per interval.
  INFO(syncs, " syncs in ", took.count(), " ms");
  CHECK(syncs >= 1);
  CHECK(syncs <=
        static_cast<std::uint64_t>(took / projections::key_store::journal_sync_interval) + 2);
  // What was synced is durable here: reopened, the journal holds nothing and every key is there.
  auto s = open_journaled(dir, master);
  CHECK(s.journal->pending().value().empty());
  for (const auto& [id, key] : keys) {
    auto got = s.keys->get(id);
    REQUIRE(got);
    REQUIRE(got.value().has_value());
    CHECK(got.value()->view() == key.view());
  }
}

TEST_CASE(
    "a key journaled with its record is in the key store before the answer and after a crash") {
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  const case_id a{"410100-20261129-000001"}, b{"410100-20261129-000002"};
  const auto key_a = events::secret_key::random(), key_b = events::secret_key::random();
  std::string wrapped_b;
  {
    auto s = open_journaled(dir, master);
    // Attached: the key is readable from the store (not only cached) once the append answered.
    REQUIRE(append_journaled(*s.journal, a(), s.keys->wrap(a, key_a)));
    auto got = s.keys->get(a);
    REQUIRE(got);
    REQUIRE(got.value().has_value());
    CHECK(got.value()->view() == key_a.view());
    // A crash before the key store wrote the key: only the journal has it.
    wrapped_b = s.keys->wrap(b, key_b);
    s.keys.reset();
    REQUIRE(append_journaled(*s.journal, b(), wrapped_b));
    auto left = s.journal->pending();
    REQUIRE(left);
    REQUIRE(left.value().size() >= 1);
  }
  auto s = open_journaled(dir, master);
  CHECK(s.journal->pending().value().empty());  // copied, synced, erased
  for (const auto& [id, key] : {std::pair{a, key_a}, std::pair{b, key_b}}) {
    auto got = s.keys->get(id);
    REQUIRE(got);
    REQUIRE(got.value().has_value());
    CHECK(got.value()->view() == key.view());
  }
  // A shred leaves no copy of the wrapped key in the log's files either.
  CHECK(test::all_bytes_under(dir.sub("log")).find(wrapped_b) != std::string::npos);
  REQUIRE(s.keys->shred({b}));
  CHECK_FALSE(s.keys->get(b).value().has_value());
  CHECK(test::all_bytes_under(dir.sub("log")).find(wrapped_b) == std::string::npos);
  CHECK(test::all_bytes_under(dir.sub("keys")).find(wrapped_b) == std::string::npos);
  CHECK(s.keys->get(a).value().has_value());
}

namespace {

// Reads `id`'s key on a thread of its own, again and again, from its construction (which returns
// once the first read is done) until stop() or its destruction.
class reading_all_along {
 public:
  reading_all_along(projections::key_store& store, const case_id& id)
      : thread_([this, &store, id] {
          while (!stop_.load()) {
            (void)store.get(id);
            reads_.fetch_add(1);
          }
        }) {
    REQUIRE(test::eventually([&] { return reads_.load() > 0; }));
  }
  ~reading_all_along() { stop(); }
  reading_all_along(const reading_all_along&) = delete;
  reading_all_along& operator=(const reading_all_along&) = delete;
  // Stops and joins the thread; the reads it made.
  std::uint64_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return reads_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> reads_{0};
  std::thread thread_;  // last: started once the counters above are
};

}  // namespace

TEST_CASE(
    "a key read while its case is shredded is not cached: once the shred returns it is gone") {
  // A read that misses the cache reads the database and caches what it read. One that ran while
  // a shred deleted the key must not leave it cached after the shred returns: the synced delete
  // and the compaction give a reader on another thread ample time to read the old key then.
  test::temp_dir dir;
  auto ks = projections::key_store::open(dir.path(), events::secret_key::random());
  REQUIRE(ks);
  auto& store = *ks.value();
  constexpr int rounds = 20;
  int left_cached = 0;
  std::uint64_t reads_during = 0;
  for (int i = 0; i < rounds; ++i) {
    const case_id id{fmt::format("410100-20261129-{:06}", 500000 + i)};
    REQUIRE(store.create(id));
    reading_all_along reader(store, id);
    REQUIRE(store.shred({id}));
    reads_during += reader.stop();
    const auto after = store.get(id);
    REQUIRE(after);
    if (after.value().has_value()) ++left_cached;
  }
  INFO("reads while shredding: " << reads_during);
  CHECK(left_cached == 0);
}

TEST_CASE("a key read while the keys topic deletes it is not cached: once applied it is gone") {
  // The same for a group's keys topic: apply() writes a tombstone (not synced, so the window is
  // short) and then compacts; a read that ran meanwhile must not leave the key cached.
  test::temp_dir dir;
  const auto master = events::secret_key::random();
  auto ks = projections::key_store::open(dir.path(), master);
  REQUIRE(ks);
  auto& store = *ks.value();
  constexpr int rounds = 300;
  int left_cached = 0;
  std::int64_t offset = 0;
  const auto record = [&](const case_id& id, std::string value) {
    return events::log_record{
        {events::partition_id{0}, events::log_offset{offset++}}, id(), std::move(value)};
  };
  for (int i = 0; i < rounds; ++i) {
    const case_id id{fmt::format("410100-20261129-{:06}", 600000 + i)};
    const std::vector<events::log_record> put{
        record(id, store.wrap(id, events::secret_key::random()))};
    REQUIRE(store.apply(events::partition_id{0}, put));
    reading_all_along reader(store, id);
    const std::vector<events::log_record> tombstone{record(id, "")};
    REQUIRE(store.apply(events::partition_id{0}, tombstone));
    reader.stop();
    const auto after = store.get(id);
    REQUIRE(after);
    if (after.value().has_value()) ++left_cached;
  }
  CHECK(left_cached == 0);
  const auto offsets = store.applied_offsets(1);
  REQUIRE(offsets);
  CHECK(offsets.value().at(0) == offset);
}
