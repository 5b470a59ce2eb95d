// The access log's batched writes (access_batch on one thread, access_gatherer across threads):
// the reads of a run of answers are written with one write, no answer leaves before its entry is
// written, and a failed write fails every answer of the batch instead of letting one out
// unrecorded. Real RocksDB in a temporary folder.
#include "projections/access_log.h"

#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace caseline::projections;
using test::temp_dir;

namespace {

access_entry read_of(const std::string& id, const std::string& correlation) {
  return access_entry{timestamp{1'700'000'000'000}, "tok-1", "agent", id, "/v1/cases", correlation};
}

std::size_t entries_of(const access_log& log, const std::string& id) {
  auto e = log.of_case(id);
  REQUIRE_MESSAGE(e, (e ? "" : e.error().message()));
  return e.value().size();
}

}  // namespace

TEST_CASE("without a batch a read is written at once and its answer goes at once") {
  temp_dir dir;
  auto s = store::open(dir.sub("store"));
  REQUIRE(s);
  access_log log(*s.value());
  REQUIRE(log.record(read_of("410100-20260101-1", "c1")));
  CHECK(entries_of(log, "410100-20260101-1") == 1);
  bool answered = false;
  access_batch::after_recorded([&](const result<void>& r) {
    CHECK(r.has_value());
    answered = true;
  });
  CHECK(answered);
}

TEST_CASE("the reads of a batch are written together, and its answers only after that write") {
  temp_dir dir;
  auto s = store::open(dir.sub("store"));
  REQUIRE(s);
  access_log log(*s.value());
  std::vector<int> answered;
  {
    access_batch batch(*s.value());
    for (int i = 0; i < 3; ++i) {
      REQUIRE(log.record(read_of("410100-20260101-7", "c" + std::to_string(i))));
      access_batch::after_recorded([&, i](const result<void>& r) {
        CHECK(r.has_value());
        // Its own entry, and those of the answers before it, are in the store when it goes.
        CHECK(entries_of(log, "410100-20260101-7") == 3);
        answered.push_back(i);
      });
    }
    // Staged, not written, and no answer out yet.
    CHECK(entries_of(log, "410100-20260101-7") == 0);
    CHECK(answered.empty());
    // Another thread has no batch open: its read is written at once.
    std::thread([&] { REQUIRE(log.record(read_of("410100-20260101-8", "other"))); }).join();
    CHECK(entries_of(log, "410100-20260101-8") == 1);
    batch.commit();
    CHECK(answered == std::vector<int>{0, 1, 2});
    // Closed by its commit: a read now is written at once.
    REQUIRE(log.record(read_of("410100-20260101-9", "after")));
    CHECK(entries_of(log, "410100-20260101-9") == 1);
  }
  CHECK(answered.size() == 3);  // the destructor commits nothing twice
  CHECK(entries_of(log, "410100-20260101-7") == 3);
}

TEST_CASE("a batch that is not committed is committed by its destructor") {
  temp_dir dir;
  auto s = store::open(dir.sub("store"));
  REQUIRE(s);
  access_log log(*s.value());
  bool answered = false;
  {
    access_batch batch(*s.value());
    REQUIRE(log.record(read_of("410100-20260101-3", "c")));
    access_batch::after_recorded([&](const result<void>& r) { answered = r.has_value(); });
    CHECK_FALSE(answered);
  }
  CHECK(answered);
  CHECK(entries_of(log, "410100-20260101-3") == 1);
}

TEST_CASE("a failed batch write fails every answer it held: none leaves unrecorded") {
  temp_dir dir;
  auto primary = store::open(dir.sub("store"));
  REQUIRE(primary);
  // A secondary instance beside the primary: a real store whose writes fail.
  auto secondary = store::open_secondary(dir.sub("store"));
  REQUIRE_MESSAGE(secondary, (secondary ? "" : secondary.error().message()));
  access_log log(*secondary.value());
  std::vector<bool> outcomes;
  {
    access_batch batch(*secondary.value());
    REQUIRE(log.record(read_of("410100-20260101-4", "c1")));
    REQUIRE(log.record(read_of("410100-20260101-4", "c2")));
    for (int i = 0; i < 2; ++i)
      access_batch::after_recorded(
          [&](const result<void>& r) { outcomes.push_back(r.has_value()); });
    batch.commit();
  }
  CHECK(outcomes == std::vector<bool>{false, false});
  CHECK(entries_of(access_log(*primary.value()), "410100-20260101-4") == 0);
}

TEST_CASE("reads staged from several threads are written by one write, their answers after it") {
  temp_dir dir;
  auto s = store::open(dir.sub("store"));
  REQUIRE(s);
  access_log log(*s.value());
  access_gatherer gathered(*s.value());
  std::vector<std::size_t> seen_when_answered;
  std::mutex mu;
  auto answer = [&](const result<void>& r) {
    CHECK(r.has_value());
    std::lock_guard lk(mu);
    seen_when_answered.push_back(entries_of(log, "410100-20260101-5"));
  };
  // The first entry staged asks for a write; the others join it.
  CHECK(gathered.stage(read_of("410100-20260101-5", "c0"), answer));
  std::vector<std::thread> threads;
  std::vector<int> first(3, -1);
  for (int i = 1; i <= 3; ++i)
    threads.emplace_back([&, i] {
      first[static_cast<std::size_t>(i - 1)] =
          gathered.stage(read_of("410100-20260101-5", "c" + std::to_string(i)), answer) ? 1 : 0;
    });
  for (auto& t : threads) t.join();
  CHECK(first == std::vector<int>{0, 0, 0});
  // Staged, not written, and no answer out yet.
  CHECK(entries_of(log, "410100-20260101-5") == 0);
  CHECK(seen_when_answered.empty());
  gathered.write();
  // Every answer saw all four entries in the store.
  CHECK(seen_when_answered == std::vector<std::size_t>{4, 4, 4, 4});
  // Written and emptied: a write with nothing staged does nothing, the next entry asks again.
  gathered.write();
  CHECK(seen_when_answered.size() == 4);
  CHECK(gathered.stage(read_of("410100-20260101-6", "later"), [](const result<void>&) {}));
  gathered.write();
  CHECK(entries_of(log, "410100-20260101-6") == 1);
}

TEST_CASE("a failed gathered write fails every answer it held: none leaves unrecorded") {
  temp_dir dir;
  auto primary = store::open(dir.sub("store"));
  REQUIRE(primary);
  auto secondary = store::open_secondary(dir.sub("store"));
  REQUIRE_MESSAGE(secondary, (secondary ? "" : secondary.error().message()));
  access_gatherer gathered(*secondary.value());
  std::vector<bool> outcomes;
  for (int i = 0; i < 2; ++i)
    gathered.stage(read_of("410100-20260101-4", "c" + std::to_string(i)),
                   [&](const result<void>& r) { outcomes.push_back(r.has_value()); });
  gathered.write();
  CHECK(outcomes == std::vector<bool>{false, false});
  CHECK(entries_of(access_log(*primary.value()), "410100-20260101-4") == 0);
}
