// `caseline rebuild` writes its fresh store without the WAL (store::open_mode::bulk) and flushes
// every family at once at each checkpoint, here in three threads, each replaying its share of the
// partitions. Killed (SIGKILL) in the middle, it must leave rows and offsets of one and the same
// point of the log: exactly what a replay up to the stored offsets writes, and a replay from there
// must end with the store a whole rebuild gives.
#include "projections/rebuild.h"

#include <csignal>
#include <filesystem>
#include <map>
#include <numeric>

#include <doctest/doctest.h>

#include "core/calendar.h"
#include "events/embedded_event_log.h"
#include "tests/support/environment.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tools/bench_rebuild.h"

namespace caseline::projections {
namespace {

using namespace std::chrono_literals;

constexpr std::int32_t partitions = 8;

std::int64_t total(const std::map<std::int32_t, std::int64_t>& offsets) {
  return std::accumulate(offsets.begin(), offsets.end(), std::int64_t{0},
                         [](std::int64_t n, const auto& o) { return n + o.second; });
}

// A fresh store holding the log replayed up to `until` (every partition named).
void replay_into(const std::string& dir, events::event_log& log,
                 const std::map<std::int32_t, std::int64_t>& until) {
  auto st = store::open(dir, store::open_mode::bulk);
  REQUIRE(st);
  projection_set set(*st.value());
  REQUIRE_FALSE(set.load_error().has_value());
  auto r = replay(log, *st.value(), set.all(), until);
  REQUIRE(r);
}

void check_identical(const std::string& a, const std::string& b) {
  auto diff = compare_stores(a, b, log_derived_families());
  REQUIRE(diff);
  for (const auto& d : diff.value()) MESSAGE(d.family << " " << d.key << ": " << d.what);
  CHECK(diff.value().empty());
}

TEST_CASE("a rebuild killed mid-way leaves rows and offsets of one point; a replay resumes there") {
  test::temp_dir dir;
  const std::string data = dir.sub("data");
  const std::string log_dir = data + "/log";
  std::filesystem::create_directories(data);
  const std::string calendar = test::source_dir() + "/core/data/cn-workdays.txt";
  std::map<std::int32_t, std::int64_t> ends;
  {
    auto cal = core::calendar::load_file(calendar);
    REQUIRE(cal);
    auto log = events::open_embedded_log({log_dir, partitions});
    REQUIRE(log);
    REQUIRE(tools::generate_log(*log.value(), cal.value(), 60'000, 7));
    for (std::int32_t p = 0; p < partitions; ++p) {
      auto end = log.value()->end_offset(events::partition_id{p});
      REQUIRE(end);
      ends[p] = end.value()();
    }
  }

  // Killed as soon as a checkpoint is on disk: the batches after it are lost with the process.
  const std::string crashed = dir.sub("crashed");
  {
    test::child_process child({test::caseline_binary(), "rebuild", "--data", data, "--calendar",
                               calendar, "--into", crashed, "--checkpoint-records", "1000",
                               "--threads", "3"});
    REQUIRE(test::eventually(
        [&] {
          auto o = stored_offsets(crashed);  // read-only, beside the writer; fails until it exists
          return o && !o.value().empty();
        },
        120s));
    child.signal(SIGKILL);
    REQUIRE(child.wait(30s) == 128 + SIGKILL);
  }
  auto left = stored_offsets(crashed);
  REQUIRE(left);
  REQUIRE_FALSE(left.value().empty());
  CHECK(total(left.value()) < total(ends));  // killed before the end
  for (std::int32_t p = 0; p < partitions; ++p) left.value().try_emplace(p, 0);

  auto log = events::open_embedded_log({log_dir, partitions});
  REQUIRE(log);
  // What the crash left is the replay up to its stored offsets, key by key.
  const std::string upto = dir.sub("upto");
  replay_into(upto, *log.value(), left.value());
  check_identical(crashed, upto);
  // A replay resumed from the stored offsets gives the store of a whole rebuild.
  const std::string whole = dir.sub("whole");
  replay_into(whole, *log.value(), ends);
  replay_into(crashed, *log.value(), ends);
  check_identical(crashed, whole);
}

}  // namespace
}  // namespace caseline::projections
