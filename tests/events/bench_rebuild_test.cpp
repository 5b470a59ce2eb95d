// `caseline bench rebuild --log-dir`: the generated log is kept and reused by a later run of the
// same events, partitions and seed, and generated again for other parameters. Figures are not
// judged (benchmarks never fail CI); which log a run measured is.
#include "tools/bench_rebuild.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include "events/embedded_event_log.h"
#include "events/storage/key.h"
#include "projections/projection_set.h"
#include "projections/rebuild.h"
#include "projections/row_keys.h"
#include "projections/store.h"
#include "tests/support/environment.h"
#include "tests/support/temp_dir.h"

using namespace caseline;

namespace {

struct run_result {
  int rc{0};
  std::string out;
  tools::bench_rebuild_figures figures;
};

run_result run(const tools::bench_rebuild_options& o) {
  std::ostringstream out, err;
  run_result r;
  r.rc = tools::run_bench_rebuild(o, out, err, &r.figures);
  r.out = out.str() + err.str();
  return r;
}

// 3,000 events in 2 partitions, in `dir`, without db_bench.
tools::bench_rebuild_options small_run(const test::temp_dir& dir) {
  tools::bench_rebuild_options o;
  o.events = 3000;
  o.partitions = 2;
  o.dir = dir.sub("work");
  o.db_bench.clear();
  o.calendar_file = test::source_dir() + "/core/data/cn-workdays.txt";
  return o;
}

// An embedded log of `partitions` partitions in `dir`/log with at least `at_least` generated
// events.
std::unique_ptr<events::event_log> generated_log(test::temp_dir& dir, std::int32_t partitions,
                                                 std::uint64_t at_least) {
  auto cal = core::calendar::load_file(test::source_dir() + "/core/data/cn-workdays.txt");
  REQUIRE(cal.has_value());
  auto log = events::open_embedded_log({dir.sub("log"), partitions});
  REQUIRE(log.has_value());
  REQUIRE(tools::generate_log(*log.value(), cal.value(), at_least, 12328));
  return std::move(log).value();
}

}  // namespace

TEST_CASE("bench rebuild keeps its generated log in --log-dir and reuses it for the same run") {
  test::temp_dir dir;
  tools::bench_rebuild_options o = small_run(dir);
  o.log_dir = dir.sub("kept");

  const run_result first = run(o);
  INFO(first.out);
  REQUIRE(first.rc == 0);
  CHECK(first.out.find("generated in") != std::string::npos);
  REQUIRE(std::filesystem::exists(std::filesystem::path(o.log_dir) / "generated"));

  SUBCASE("the same parameters reuse the log: the same events are rebuilt, none generated") {
    const run_result second = run(o);
    INFO(second.out);
    REQUIRE(second.rc == 0);
    CHECK(second.out.find("from an earlier run") != std::string::npos);
    CHECK(second.out.find("generated in") == std::string::npos);
    CHECK(second.figures.events == first.figures.events);
    CHECK(second.figures.keys_per_event == first.figures.keys_per_event);
  }
  SUBCASE("another seed generates the log again, in the same folder") {
    o.seed = 7;
    const run_result other = run(o);
    INFO(other.out);
    REQUIRE(other.rc == 0);
    CHECK(other.out.find("generated in") != std::string::npos);
    CHECK(other.out.find("from an earlier run") == std::string::npos);
  }
  SUBCASE("an interrupted generation (no marker) is not reused") {
    std::filesystem::remove(std::filesystem::path(o.log_dir) / "generated");
    const run_result again = run(o);
    INFO(again.out);
    REQUIRE(again.rc == 0);
    CHECK(again.out.find("generated in") != std::string::npos);
    CHECK(again.figures.events == first.figures.events);
  }
  SUBCASE("a log folder inside the working folder, which is emptied, is refused") {
    o.log_dir = dir.sub("work") + "/kept";
    const run_result refused = run(o);
    CHECK(refused.rc == 2);
    CHECK(refused.out.find("--log-dir") != std::string::npos);
  }
}

// The replay takes the partitions in turn, a batch of each (replay_batch_records), not one
// partition to its end before the next: the partitions advance through the same days together,
// so the rows written between two flushes are those of a few days (rebuild.cpp). Seen from the
// offsets the store holds after each batch. And the bench prints what RocksDB wrote.
TEST_CASE("a replay takes the log's partitions in turn, a batch of each") {
  test::temp_dir dir;
  // Enough records that each partition takes two batches, not three.
  auto log = generated_log(dir, 2, 3 * projections::replay_batch_records);
  std::vector<std::int64_t> ends;
  for (std::int32_t p = 0; p < 2; ++p) {
    auto end = log->end_offset(events::partition_id{p});
    REQUIRE(end.has_value());
    REQUIRE(end.value()() > static_cast<std::int64_t>(projections::replay_batch_records));
    REQUIRE(end.value()() <= static_cast<std::int64_t>(2 * projections::replay_batch_records));
    ends.push_back(end.value()());
  }
  auto st = projections::store::open(dir.sub("store"), projections::store::open_mode::bulk);
  REQUIRE(st.has_value());
  const auto stored = [&](std::int32_t p) -> std::int64_t {
    std::string v;
    const auto s =
        st.value()->db().Get(rocksdb::ReadOptions(), st.value()->cf(projections::family::offsets),
                             projections::keys::offset{p}.encode(), &v);
    if (s.IsNotFound()) return 0;
    REQUIRE(s.ok());
    return static_cast<std::int64_t>(storage::parse_be64_value(v).value());
  };
  std::vector<std::pair<std::int64_t, std::int64_t>> after_each;
  {
    projections::projection_set set(*st.value());
    auto replayed = projections::replay(*log, *st.value(), set.all(), {},
                                        [&](const projections::replay_progress&) {
                                          after_each.emplace_back(stored(0), stored(1));
                                        });
    REQUIRE(replayed.has_value());
  }
  REQUIRE(after_each.size() == 4);
  const auto batch = static_cast<std::int64_t>(projections::replay_batch_records);
  CHECK(after_each[0] == std::pair<std::int64_t, std::int64_t>{batch, 0});
  CHECK(after_each[1] == std::pair<std::int64_t, std::int64_t>{batch, batch});
  CHECK(after_each[2] == std::pair<std::int64_t, std::int64_t>{ends[0], batch});
  CHECK(after_each[3] == std::pair<std::int64_t, std::int64_t>{ends[0], ends[1]});
}

// Lanes (rebuild.h): a thread for each share of the partitions, all writing one store, the report
// counters of every partition merged by each. The store is the one a single thread writes, key by
// key and byte by byte.
TEST_CASE("a replay in parallel lanes writes the store one lane writes") {
  test::temp_dir dir;
  auto log = generated_log(dir, 4, 2 * projections::replay_batch_records);
  const auto rebuild = [&](const std::string& name, unsigned lanes) {
    auto st = projections::store::open(dir.sub(name), projections::store::open_mode::bulk);
    REQUIRE(st.has_value());
    projections::replay_sets sets(*st.value(), lanes);
    REQUIRE_FALSE(sets.load_error().has_value());
    std::set<std::thread::id> threads;
    std::uint64_t last = 0;
    bool grew = true;
    auto r = projections::replay(*log, *st.value(), sets.lanes(), {},
                                 [&](const projections::replay_progress& p) {
                                   threads.insert(std::this_thread::get_id());
                                   grew = grew && p.records > last;
                                   last = p.records;
                                 });
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message()));
    CHECK(grew);
    CHECK(r.value().records == last);
    CHECK(threads.size() == lanes);
    return r.value();
  };
  const auto one = rebuild("one", 1);
  for (const unsigned lanes : {2U, 4U}) {
    INFO(lanes << " lanes");
    const std::string name = "lanes-" + std::to_string(lanes);
    const auto many = rebuild(name, lanes);
    CHECK(many.events == one.events);
    CHECK(many.records == one.records);
    CHECK(many.keys == one.keys);  // the same batches: a partition's records, at most a batch
    auto diff = projections::compare_stores(dir.sub("one"), dir.sub(name),
                                            projections::log_derived_families());
    REQUIRE(diff.has_value());
    for (const auto& d : diff.value()) MESSAGE(d.family << " " << d.key << ": " << d.what);
    CHECK(diff.value().empty());
  }
}

TEST_CASE("bench rebuild prints what RocksDB wrote to build the store") {
  test::temp_dir dir;
  const run_result r = run(small_run(dir));
  INFO(r.out);
  REQUIRE(r.rc == 0);
  // At least the store itself, flushed once: a positive figure, in MiB, per event and as a
  // multiple of the store.
  const auto at = r.out.find("RocksDB writes (flushes + compactions)     : ");
  REQUIRE(at != std::string::npos);
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  CHECK(line.find(" bytes/event, ") != std::string::npos);
  CHECK(line.find("x the store; compactions ") != std::string::npos);
  CHECK(line.find("; most written: ") != std::string::npos);
  CHECK(line.find(" 0 bytes/event") == std::string::npos);
}
