#include "events/embedded_event_log.h"

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>

#include "events/acknowledgements.h"
#include "events/burst_source.h"
#include "events/errc.h"
#include "tests/events/event_log_conformance.h"
#include "tests/events/event_log_test_support.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace caseline::events::testing {

// A fresh RocksDB folder per test case, removed afterwards; open() reopens the same folder.
struct embedded_backend {
  static constexpr std::int32_t partitions = 4;

  result<std::unique_ptr<event_log>> open() {
    return open_embedded_log({.dir = dir.sub("log"), .partitions = partitions});
  }

  test::temp_dir dir;
};

}  // namespace caseline::events::testing

TEST_CASE_TEMPLATE_INVOKE(event_log_conformance, caseline::events::testing::embedded_backend);

TEST_CASE("the embedded log's stored layout reads back what it writes and names what is corrupt") {
  using namespace caseline::events::embedded_layout;
  const std::string k = record_key{3, 0x0102030405}.encode();
  CHECK(k == std::string("\0\0\0\3\0\0\0\1\2\3\4\5", 12));
  const auto back = record_key::decode(k);
  REQUIRE(back.has_value());
  CHECK(back->partition == 3);
  CHECK(back->offset == 0x0102030405);
  CHECK_FALSE(record_key::decode(k.substr(0, 11)).has_value());
  CHECK_FALSE(record_key::decode(k + "x").has_value());
  // Keys order by partition, then offset.
  CHECK(record_key{0, 256}.encode() < record_key{1, 0}.encode());
  CHECK(record_key{1, 255}.encode() < record_key{1, 256}.encode());

  const std::string v = record_value{"C-1", "bytes"}.encode();
  CHECK(v == std::string("\0\0\0\3C-1bytes", 12));
  const auto r = record_value::decode(v);
  REQUIRE(r.has_value());
  CHECK(r.value().key == "C-1");
  CHECK(r.value().bytes == "bytes");
  CHECK(record_value::decode(std::string_view("\0\0\0", 3)).error().code ==
        caseline::events::errc::corrupt_record);
  const auto truncated = record_value::decode(std::string("\0\0\0\11C-1", 7));
  REQUIRE_FALSE(truncated.has_value());
  CHECK(truncated.error().detail.find("truncated") != std::string::npos);
}

TEST_CASE("the records family compacts each partition's appends into files of their own") {
  using namespace caseline::events::embedded_layout;
  namespace test = caseline::test;
  // A RocksDB of the log's records family alone, tuned as the log tunes it, with small memtables
  // so that a few MiB go through flushes and compactions: the appends of 8 partitions at once,
  // a flush every round, as a busy log's group commits fill its memtable.
  test::temp_dir dir;
  rocksdb::Options o;
  o.create_if_missing = true;
  tune_records_family(o);
  o.write_buffer_size = 256 << 10;
  o.max_bytes_for_level_base = 256 << 10;  // a quarter of a compaction of level 0, as in a log
  o.target_file_size_base = 512 << 10;
  o.statistics = rocksdb::CreateDBStatistics();
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(o, dir.sub("records"), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  constexpr int partitions = 8, rounds = 48, per_round = 32;
  std::mt19937_64 random(12328);
  std::string value(1024, '\0');  // records do not compress much: sealed fields, ids
  for (int round = 0; round < rounds; ++round) {
    rocksdb::WriteBatch wb;
    for (int p = 0; p < partitions; ++p)
      for (int i = 0; i < per_round; ++i) {
        for (auto& c : value) c = static_cast<char>(random());
        REQUIRE(wb.Put(record_key{p, std::int64_t{round} * per_round + i}.encode(), value).ok());
      }
    REQUIRE(db->Write({}, &wb).ok());
    REQUIRE(db->Flush({}).ok());
  }
  REQUIRE(test::eventually([&] {
    std::uint64_t pending = 1, running = 1;
    return db->GetIntProperty("rocksdb.compaction-pending", &pending) &&
           db->GetIntProperty("rocksdb.num-running-compactions", &running) && pending == 0 &&
           running == 0;
  }));
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  int below_level_0 = 0;
  for (const auto& f : files) {
    if (f.level == 0) continue;
    ++below_level_0;
    const auto first = record_key::decode(f.smallestkey), last = record_key::decode(f.largestkey);
    REQUIRE(first.has_value());
    REQUIRE(last.has_value());
    INFO(f.name, " at level ", f.level);
    CHECK(first->partition == last->partition);
  }
  CHECK(below_level_0 >= partitions);  // compactions ran, and cut a file per partition at least
  // Each record written about twice (its flush, then one compaction of level 0 and the little
  // left in level 1 with it: 1.6 times the flushed bytes here), not again at each compaction of
  // level 0 while it sits in level 1 (3.5 times here without the tuning).
  const auto flushed = o.statistics->getTickerCount(rocksdb::FLUSH_WRITE_BYTES);
  const auto compacted = o.statistics->getTickerCount(rocksdb::COMPACT_WRITE_BYTES);
  INFO("flushed ", flushed, " B, compactions wrote ", compacted, " B");
  CHECK(flushed >= std::uint64_t{rounds} * partitions * per_round * value.size() * 9 / 10);
  CHECK(compacted <= flushed * 2);
  // Everything reads back, in order.
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
  constexpr std::int64_t per_partition = std::int64_t{rounds} * per_round;
  std::int64_t n = 0, misplaced = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto k = record_key::decode(it->key().ToStringView());
    if (!k || k->partition != n / per_partition || k->offset != n % per_partition) ++misplaced;
    ++n;
  }
  REQUIRE(it->status().ok());
  CHECK(misplaced == 0);
  CHECK(n == partitions * per_partition);
}

TEST_CASE("a burst subscription gets each group commit of several partitions as one batch") {
  using namespace caseline::events;
  using namespace caseline::events::testing;
  caseline::test::temp_dir dir;
  auto log = open_embedded_log({.dir = dir.sub("log"), .partitions = 4}).value();
  // Written before the subscription: read back from the database.
  ack_collector acks;
  std::size_t appended = 0;
  const auto append_round = [&](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i, ++appended)
      acks.append(*log, "410100-20260101-" + std::to_string(100000 + appended),
                  "record " + std::to_string(appended));
    for (const auto& a : acks.wait_for(appended)) REQUIRE(a.outcome.has_value());
  };
  append_round(10);
  batch_collector seen;
  auto* source = bursts_of(*log);
  REQUIRE(source != nullptr);
  auto sub = source->subscribe_bursts({}, seen.handler());
  REQUIRE(sub.has_value());
  seen.wait_for(10);
  // Appends queued together are group-committed together, across partitions: such a write
  // reaches the subscription as one batch.
  CHECK(eventually(
      [&] {
        append_round(64);
        seen.wait_for(appended);
        return seen.mixed_batch();
      },
      30s));
  const auto records = seen.wait_for(appended);
  CHECK_FALSE(sub.value()->failure().has_value());
  sub.value().reset();
  // Every record once, in offset order per partition, as the log holds it.
  std::map<std::int32_t, std::vector<log_record>> delivered;
  for (const auto& r : records) delivered[r.position.partition()].push_back(r);
  std::size_t total = 0;
  for (std::int32_t p = 0; p < 4; ++p) {
    const auto stored = read_all(*log, partition_id{p});
    const auto& got = delivered[p];
    REQUIRE(got.size() == stored.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].position.offset() == static_cast<std::int64_t>(i));
      CHECK(got[i].key == stored[i].key);
      CHECK(got[i].value == stored[i].value);
    }
    total += got.size();
  }
  CHECK(total == appended);
}

TEST_CASE(
    "a burst subscription that keeps up reads nothing back, even what is written as it runs") {
  using namespace caseline::events;
  using namespace caseline::events::testing;
  caseline::test::temp_dir dir;
  auto log = open_embedded_log({.dir = dir.sub("log"), .partitions = 4}).value();
  auto* source = bursts_of(*log);
  REQUIRE(source != nullptr);
  ack_collector acks;
  for (int i = 0; i < 10; ++i)
    acks.append(*log, "410100-20260101-" + std::to_string(100000 + i), "before");
  for (const auto& a : acks.wait_for(10)) REQUIRE(a.outcome.has_value());
  CHECK(records_read_back_of(*log) == 0);

  // Each batch after the first ten records writes one more record and waits until it is
  // durable before it returns: that record is past the end the subscription last saw, and
  // the burst that holds it is already in the subscription's inbox when the handler returns.
  constexpr std::size_t written_inside = 20;
  batch_collector seen;
  std::atomic<std::size_t> delivered{0};
  std::atomic<std::size_t> inside{0};
  auto collect = seen.handler();
  auto sub = source->subscribe_bursts(
      {}, [&](std::span<const log_record> batch) -> caseline::result<void> {
        if (auto r = collect(batch); !r) return r;
        if ((delivered += batch.size()) < 10 || inside.load() >= written_inside)
          return caseline::success();
        std::promise<bool> durable;
        const std::size_t n = inside++;
        log->append(
            "410100-20260102-" + std::to_string(100000 + n), "inside",
            [&](const caseline::result<log_position>& r) { durable.set_value(r.has_value()); });
        auto f = durable.get_future();
        if (f.wait_for(30s) != std::future_status::ready || !f.get())
          return caseline::make_error(errc::timed_out, "the record written inside was not acked");
        return caseline::success();
      });
  REQUIRE(sub.has_value());
  const auto records = seen.wait_for(10 + written_inside);
  CHECK_FALSE(sub.value()->failure().has_value());
  // The ten written before it started were read back; none of the others.
  CHECK(records_read_back_of(*log) == 10);
  sub.value().reset();
  CHECK(records.size() == 10 + written_inside);
  std::map<std::int32_t, std::int64_t> next;
  for (const auto& r : records) CHECK(r.position.offset() == next[r.position.partition()]++);
}

TEST_CASE("work an append handler keeps runs on the log's thread once its write's handlers ran") {
  using namespace caseline::events;
  caseline::test::temp_dir dir;
  auto log = open_embedded_log({.dir = dir.sub("log"), .partitions = 2}).value();
  CHECK_FALSE(after_acknowledgements([] {}));  // not the log's thread: nothing is kept
  struct seen {
    std::thread::id handler;
    bool kept{false};
    bool handler_returned{false};
    bool appended{false};
  };
  auto state = std::make_shared<seen>();
  std::promise<std::pair<std::thread::id, bool>> ran;
  log->append("410100-20260101-000001", "r", [&, state](const caseline::result<log_position>& r) {
    state->appended = r.has_value();
    state->handler = std::this_thread::get_id();
    state->kept = after_acknowledgements([&, state] {
      ran.set_value({std::this_thread::get_id(), state->handler_returned});
    });
    state->handler_returned = true;
  });
  auto got = ran.get_future();
  REQUIRE(got.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  const auto [thread, after_handler] = got.get();
  CHECK(state->appended);
  CHECK(state->kept);
  CHECK(thread == state->handler);
  CHECK(after_handler);
}

namespace {

// Lingers after any group, for as long as a test could take: only a full group or a close ends
// the wait.
caseline::events::group_linger long_linger(std::size_t items) {
  return {.linger = std::chrono::minutes(10), .items = items, .after_group = 1};
}

std::string numbered_case(int i) { return "410100-20261204-" + std::to_string(100000 + i); }

}  // namespace

TEST_CASE(
    "under load the log's writer waits for more appends: those that come meanwhile share its "
    "sync") {
  using namespace caseline::events;
  using namespace caseline::events::testing;
  caseline::test::temp_dir dir;
  auto log =
      open_embedded_log({.dir = dir.sub("log"), .partitions = 4, .commit_linger = long_linger(3)})
          .value();
  ack_collector acks;
  acks.append(*log, numbered_case(0), "first");
  REQUIRE(acks.wait_for(1)[0].outcome.has_value());  // a group of one: it lingers after it
  const auto before = group_commits_of(*log).value();
  CHECK(before.groups == 1);
  CHECK(before.lingers == 0);
  acks.append(*log, numbered_case(1), "second");
  REQUIRE(eventually([&] { return group_commits_of(*log)->lingers == 1; }));
  CHECK(acks.size() == 1);  // waiting for two more appends
  acks.append(*log, numbered_case(2), "third");
  acks.append(*log, numbered_case(3), "fourth");
  for (const auto& a : acks.wait_for(4)) CHECK(a.outcome.has_value());
  CHECK(group_commits_of(*log)->groups == 2);  // the three in one WriteBatch and one sync
  std::size_t stored = 0;
  for (std::int32_t p = 0; p < 4; ++p) stored += read_all(*log, partition_id{p}).size();
  CHECK(stored == 4);
}

TEST_CASE("an append that comes alone never waits for others: one at a time, one sync each") {
  using namespace caseline::events;
  using namespace caseline::events::testing;
  caseline::test::temp_dir dir;
  auto log = open_embedded_log({.dir = dir.sub("log"),
                                .partitions = 4,
                                .commit_linger = {.linger = std::chrono::microseconds(300)}})
                 .value();
  ack_collector acks;
  for (int i = 0; i < 5; ++i) {
    acks.append(*log, numbered_case(i), "alone");
    REQUIRE(acks.wait_for(static_cast<std::size_t>(i) + 1).back().outcome.has_value());
  }
  CHECK(group_commits_of(*log)->groups == 5);
  CHECK(group_commits_of(*log)->lingers == 0);
}

TEST_CASE("a log closed while its writer lingers writes the waiting appends at once") {
  using namespace caseline::events;
  using namespace caseline::events::testing;
  caseline::test::temp_dir dir;
  ack_collector acks;
  {
    auto log = open_embedded_log(
                   {.dir = dir.sub("log"), .partitions = 4, .commit_linger = long_linger(100)})
                   .value();
    acks.append(*log, numbered_case(0), "first");
    REQUIRE(acks.wait_for(1)[0].outcome.has_value());
    acks.append(*log, numbered_case(1), "waiting");
    REQUIRE(eventually([&] { return group_commits_of(*log)->lingers == 1; }));
    // The close neither waits out the linger nor drops the append.
    auto closed = std::async(std::launch::async, [l = std::move(log)]() mutable { l.reset(); });
    REQUIRE(closed.wait_for(20s) == std::future_status::ready);
  }
  const auto outcomes = acks.wait_for(2);
  CHECK(outcomes[1].outcome.has_value());
  auto log = open_embedded_log({.dir = dir.sub("log"), .partitions = 4}).value();
  std::size_t stored = 0;
  for (std::int32_t p = 0; p < 4; ++p) stored += read_all(*log, partition_id{p}).size();
  CHECK(stored == 2);
}
