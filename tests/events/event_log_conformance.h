#pragma once

// The event_log contract, as one suite that runs unchanged against every backend.
//
// A backend type B provides:
//   B()                                   a fresh, empty log location (a temp dir, a new topic)
//   result<std::unique_ptr<event_log>> open()   a client of that location; called again, a new
//                                         client that must see everything acknowledged before
//   static constexpr std::int32_t partitions
//   static constexpr bool transactional   (optional, false when absent) its own records beside the
//                                         appends: a Kafka group member's partition claims, and
//                                         its transactions' markers (gaps), so that the offsets
//                                         of appends are increasing but not consecutive
// A backend file includes this header and instantiates the suite with
//   TEST_CASE_TEMPLATE_INVOKE(event_log_conformance, B);

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "events/errc.h"
#include "events/event_log.h"
#include "events/record.h"
#include "tests/events/event_log_test_support.h"

namespace caseline::events::testing {

template <class B>
std::unique_ptr<event_log> open_log(B& backend) {
  auto log = backend.open();
  REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
  return std::move(log).value();
}

inline std::string case_key(int i) { return "410100-20261129-" + std::to_string(100000 + i); }

template <class B>
constexpr bool transactional = requires {
  requires B::transactional;
};

// The appended records among `records`: without the log's own (claims, gaps).
inline std::vector<log_record> appended(std::vector<log_record> records) {
  std::erase_if(records, [](const log_record& r) { return !holds_events(r.value); });
  return records;
}

inline log_offset end_of(event_log& log, partition_id p) {
  auto end = log.end_offset(p);
  REQUIRE_MESSAGE(end.has_value(), (end ? std::string{} : end.error().message()));
  return end.value();
}

inline void require_ok(const ack& a) {
  INFO("append of " << a.key << " failed: " << (a.outcome ? "" : a.outcome.error().message()));
  REQUIRE(a.outcome.has_value());
}

}  // namespace caseline::events::testing

// doctest instantiates each of these once per backend type.
TEST_CASE_TEMPLATE_DEFINE("event log conformance", B, event_log_conformance) {
  using namespace caseline;
  using namespace caseline::events;
  using namespace caseline::events::testing;

  B backend;
  auto log = open_log(backend);
  const std::int32_t n = log->partition_count();
  REQUIRE(n == B::partitions);

  SUBCASE("an append is acknowledged with the position of the record") {
    const log_offset base = end_of(*log, partition_for(case_key(1), n));
    if (!transactional<B>) CHECK(base == log_offset{0});
    ack_collector acks;
    acks.append(*log, case_key(1), "first event");
    const auto got = acks.wait_for(1);
    require_ok(got[0]);
    const log_position pos = got[0].outcome.value();
    CHECK(pos.partition == partition_for(case_key(1), n));
    CHECK(pos.offset == base);
    auto read = log->read(pos.partition, pos.offset, 10, std::chrono::milliseconds{0});
    REQUIRE(read.has_value());
    const auto records = appended(read.value());
    REQUIRE(records.size() == 1);
    CHECK(records[0].position == pos);
    CHECK(records[0].key == case_key(1));
    CHECK(records[0].value == "first event");
  }

  SUBCASE("the records of one key keep their order in one partition") {
    ack_collector acks;
    for (int i = 0; i < 50; ++i) acks.append(*log, case_key(7), "event " + std::to_string(i));
    const auto got = acks.wait_for(50);
    const partition_id p = partition_for(case_key(7), n);
    for (const auto& a : got) {
      require_ok(a);
      CHECK(a.outcome.value().partition == p);
    }
    const auto records = appended(read_all(*log, p));
    REQUIRE(records.size() == 50);
    for (int i = 0; i < 50; ++i) {
      CHECK(records[i].key == case_key(7));
      CHECK(records[i].value == "event " + std::to_string(i));
    }
  }

  SUBCASE("offsets are dense from 0 in every partition and end_offset follows them") {
    std::map<std::int32_t, std::int64_t> base;
    for (std::int32_t p = 0; p < n; ++p) {
      base[p] = end_of(*log, partition_id{p})();
      if (!transactional<B>) CHECK(base[p] == 0);
    }
    ack_collector acks;
    for (int i = 0; i < 200; ++i) acks.append(*log, case_key(i % 23), std::to_string(i));
    std::map<std::int32_t, std::vector<std::int64_t>> offsets;
    for (const auto& a : acks.wait_for(200)) {
      require_ok(a);
      offsets[a.outcome.value().partition()].push_back(a.outcome.value().offset());
    }
    for (auto& [p, offs] : offsets) {
      std::sort(offs.begin(), offs.end());
      CHECK(std::adjacent_find(offs.begin(), offs.end()) == offs.end());  // no position twice
      CHECK(offs.front() >= base[p]);
      // Consecutive unless the backend writes records of its own between them.
      if (!transactional<B>) {
        for (std::size_t i = 0; i < offs.size(); ++i)
          CHECK(offs[i] == static_cast<std::int64_t>(i));
      }
    }
    for (std::int32_t p = 0; p < n; ++p) {
      // Every offset below the end is read back, in order, the log's own records included.
      const auto records = read_all(*log, partition_id{p});
      CHECK(end_of(*log, partition_id{p})() == static_cast<std::int64_t>(records.size()));
      for (std::size_t i = 0; i < records.size(); ++i) {
        CHECK(records[i].position.offset() == static_cast<std::int64_t>(i));
      }
      CHECK(appended(records).size() == offsets[p].size());
    }
    CHECK(log->end_offset(partition_id{n}).error().code == errc::invalid_partition);
    CHECK(log->read(partition_id{-1}, log_offset{0}, 1, std::chrono::milliseconds{0})
              .error()
              .code == errc::invalid_partition);
  }

  SUBCASE("append_to puts a record in the named partition, whatever its key, in append order") {
    const partition_id home = partition_for(case_key(11), n);
    const partition_id other{(home() + 1) % n};
    ack_collector acks;
    acks.append(*log, case_key(11), "event 0");
    acks.append(*log, case_key(11), "event 1");
    log->append_to(home, "pinned-home", "pinned 2", acks.handler("pinned-home", "pinned 2"));
    acks.append(*log, case_key(11), "event 3");
    log->append_to(other, case_key(11), "pinned elsewhere",
                   acks.handler(case_key(11), "pinned elsewhere"));
    for (const auto& a : acks.wait_for(5)) require_ok(a);

    const auto records = appended(read_all(*log, home));
    REQUIRE(records.size() == 4);
    CHECK(records[0].value == "event 0");
    CHECK(records[1].value == "event 1");
    CHECK(records[2].key == "pinned-home");
    CHECK(records[2].value == "pinned 2");
    if (!transactional<B>) CHECK(records[2].position == log_position{home, log_offset{2}});
    for (const auto& a : acks.wait_for(5)) {
      if (a.value == "pinned 2") CHECK(records[2].position == a.outcome.value());
    }
    CHECK(records[3].value == "event 3");
    if (other != home) {
      const auto elsewhere = appended(read_all(*log, other));
      REQUIRE(elsewhere.size() == 1);
      CHECK(elsewhere[0].key == case_key(11));
      CHECK(elsewhere[0].value == "pinned elsewhere");
    }

    ack_collector bad;
    log->append_to(partition_id{n}, "k", "v", bad.handler("k", "v"));
    log->append_to(partition_id{-1}, "k", "v", bad.handler("k", "v"));
    for (const auto& a : bad.wait_for(2)) {
      REQUIRE_FALSE(a.outcome.has_value());
      CHECK(a.outcome.error().code == errc::invalid_partition);
    }
  }

  SUBCASE("a read from the middle returns the records from there, at most max_records") {
    ack_collector acks;
    for (int i = 0; i < 10; ++i) acks.append(*log, case_key(3), std::to_string(i));
    std::vector<std::int64_t> at(10);  // the offset of value i
    for (const auto& a : acks.wait_for(10)) {
      require_ok(a);
      at[std::stoul(a.value)] = a.outcome.value().offset();
    }
    if (!transactional<B>) {
      for (int i = 0; i < 10; ++i) CHECK(at[i] == i);
    }
    const partition_id p = partition_for(case_key(3), n);
    auto tail = log->read(p, log_offset{at[5]}, 100, std::chrono::milliseconds{0});
    REQUIRE(tail.has_value());
    const auto events_of_tail = appended(tail.value());
    REQUIRE(events_of_tail.size() == 5);
    for (int i = 0; i < 5; ++i) {
      CHECK(events_of_tail[i].position.offset == log_offset{at[5 + i]});
      CHECK(events_of_tail[i].value == std::to_string(5 + i));
    }
    auto two = log->read(p, log_offset{at[3]}, 2, std::chrono::milliseconds{0});
    REQUIRE(two.has_value());
    REQUIRE(two.value().size() == 2);
    CHECK(two.value()[0].position.offset == log_offset{at[3]});
    CHECK(two.value()[0].value == "3");
    CHECK(two.value()[1].position.offset == log_offset{at[3] + 1});
  }

  SUBCASE("a read at the end waits up to `wait` and returns nothing, or the record appended") {
    const partition_id p = partition_for(case_key(5), n);
    const log_offset end = end_of(*log, p);
    const auto start = std::chrono::steady_clock::now();
    auto empty = log->read(p, end, 10, std::chrono::milliseconds{300});
    const auto waited = std::chrono::steady_clock::now() - start;
    REQUIRE_MESSAGE(empty.has_value(), (empty ? std::string{} : empty.error().message()));
    CHECK(empty.value().empty());
    CHECK(waited >= std::chrono::milliseconds{250});
    CHECK(waited < std::chrono::seconds{10});

    // A record appended while a read waits ends the wait early.
    ack_collector acks;
    std::atomic<bool> read_started{false};
    result<std::vector<log_record>> got = std::vector<log_record>{};
    std::thread reader([&] {
      read_started = true;
      got = log->read(p, end, 10, std::chrono::seconds{30});
    });
    REQUIRE(eventually([&] { return read_started.load(); }, std::chrono::seconds{5}));
    const auto appended_at = std::chrono::steady_clock::now();
    acks.append(*log, case_key(5), "wakes the reader");
    reader.join();
    CHECK(std::chrono::steady_clock::now() - appended_at < std::chrono::seconds{20});
    require_ok(acks.wait_for(1)[0]);
    REQUIRE(got.has_value());
    const auto woke = appended(got.value());
    REQUIRE(woke.size() == 1);
    CHECK(woke[0].value == "wakes the reader");
  }

  SUBCASE("a subscription delivers every record from the given offsets exactly once, in order") {
    ack_collector acks;
    for (int i = 0; i < 100; ++i) acks.append(*log, case_key(i % 11), std::to_string(i));
    std::map<std::int32_t, std::int64_t> count;
    std::vector<log_position> acked;
    for (const auto& a : acks.wait_for(100)) {
      require_ok(a);
      ++count[a.outcome.value().partition()];
      acked.push_back(a.outcome.value());
    }
    // Start every partition that has records at offset 1 (offset 0 is skipped on purpose), the
    // others from the beginning (not named: offset 0). Every offset from there to the end is
    // delivered (the log's own records, if any, included).
    start_offsets from;
    for (const auto& [p, c] : count) from[p] = 1;
    auto records_to_end = [&] {
      std::size_t total = 0;
      for (std::int32_t p = 0; p < n; ++p) {
        total += static_cast<std::size_t>(end_of(*log, partition_id{p})() -
                                          (from.contains(p) ? from.at(p) : 0));
      }
      return total;
    };
    const std::size_t expected = records_to_end();
    batch_collector seen;
    auto sub = log->subscribe(from, seen.handler());
    REQUIRE(sub.has_value());
    seen.wait_for(expected);

    ack_collector more;  // records appended while subscribed are delivered too
    for (int i = 0; i < 20; ++i) more.append(*log, case_key(i), "late " + std::to_string(i));
    for (const auto& a : more.wait_for(20)) require_ok(a);
    const std::size_t expected_after = records_to_end();
    const auto records = seen.wait_for(expected_after);
    CHECK_FALSE(seen.mixed_batch());
    CHECK_FALSE(sub.value()->failure().has_value());
    sub.value().reset();  // stops delivery and joins

    std::map<std::int32_t, std::vector<std::int64_t>> delivered;
    for (const auto& r : records) delivered[r.position.partition()].push_back(r.position.offset());
    std::size_t total = 0;
    for (const auto& [p, offs] : delivered) {
      const std::int64_t first = from.contains(p) ? from.at(p) : 0;
      for (std::size_t i = 0; i < offs.size(); ++i) {
        CHECK(offs[i] == first + static_cast<std::int64_t>(i));  // in order, no gap, no repeat
      }
      total += offs.size();
    }
    CHECK(total == expected_after);
    std::size_t events_before = 0;  // the appended records from the start offsets on
    for (const auto& pos : acked) {
      if (pos.offset() >= (from.contains(pos.partition()) ? from.at(pos.partition()) : 0))
        ++events_before;
    }
    CHECK(appended(records).size() == events_before + 20);
    if (!transactional<B>) CHECK(expected_after == expected + 20);
  }

  SUBCASE("a failing handler stops the subscription and failure() reports its error") {
    ack_collector acks;
    for (int i = 0; i < 10; ++i) acks.append(*log, case_key(i), std::to_string(i));
    for (const auto& a : acks.wait_for(10)) require_ok(a);
    std::atomic<int> calls{0};
    auto sub = log->subscribe({}, [&](std::span<const log_record>) -> result<void> {
      ++calls;
      return make_error(errc::corrupt_record, "test handler refuses the batch");
    });
    REQUIRE(sub.has_value());
    REQUIRE(eventually([&] { return sub.value()->failure().has_value(); }, std::chrono::seconds{30}));
    const auto failure = sub.value()->failure();
    CHECK(failure->code == errc::corrupt_record);
    CHECK(failure->detail == "test handler refuses the batch");

    ack_collector more;  // nothing more reaches a stopped subscription
    for (int i = 0; i < 10; ++i) more.append(*log, case_key(i), "after the failure");
    for (const auto& a : more.wait_for(10)) require_ok(a);
    REQUIRE(log->flush(std::chrono::seconds{10}).has_value());
    sub.value().reset();
    CHECK(calls.load() == 1);
  }

  SUBCASE("a new client sees every acknowledged record") {
    ack_collector acks;
    for (int i = 0; i < 30; ++i) acks.append(*log, case_key(i % 7), "kept " + std::to_string(i));
    std::map<log_position, std::string> written;
    for (const auto& a : acks.wait_for(30)) {
      require_ok(a);
      written[a.outcome.value()] = a.value;
    }
    log.reset();
    auto again = open_log(backend);
    std::size_t found = 0;
    for (std::int32_t p = 0; p < n; ++p) {
      for (const auto& r : appended(read_all(*again, partition_id{p}))) {
        REQUIRE(written.contains(r.position));
        CHECK(written.at(r.position) == r.value);
        ++found;
      }
    }
    CHECK(found == written.size());
  }

  SUBCASE("concurrent appends from several threads are all acknowledged and all present") {
    constexpr int threads = 4;
    constexpr int per_thread = 250;
    ack_collector acks;
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          // Each thread owns its keys, so program order is the order each key must keep.
          acks.append(*log, case_key(t * 1000 + i % 17), std::to_string(t) + ":" + std::to_string(i));
        }
      });
    }
    for (auto& w : writers) w.join();
    const auto got = acks.wait_for(threads * per_thread);
    std::set<log_position> positions;
    for (const auto& a : got) {
      require_ok(a);
      positions.insert(a.outcome.value());
    }
    CHECK(positions.size() == static_cast<std::size_t>(threads * per_thread));

    std::map<std::string, std::vector<int>> per_key;  // key -> sequence numbers in log order
    std::size_t total = 0;
    for (std::int32_t p = 0; p < n; ++p) {
      for (const auto& r : appended(read_all(*log, partition_id{p}))) {
        per_key[r.key].push_back(std::stoi(r.value.substr(r.value.find(':') + 1)));
        ++total;
      }
    }
    CHECK(total == static_cast<std::size_t>(threads * per_thread));
    for (const auto& [key, seq] : per_key) CHECK(std::is_sorted(seq.begin(), seq.end()));
  }

  SUBCASE("flush waits for every earlier append and check says the log is reachable") {
    ack_collector acks;
    for (int i = 0; i < 50; ++i) acks.append(*log, case_key(i), "flushed");
    REQUIRE(log->flush(std::chrono::seconds{30}).has_value());
    CHECK(acks.size() == 50);
    CHECK(log->check().has_value());
  }
}
