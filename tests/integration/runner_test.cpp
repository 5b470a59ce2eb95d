// The projection runner: batches applied with their offsets in one WriteBatch, resumed from the
// stored offsets, never applied twice, and stopped (never skipping) by a record it cannot decode.
#include "projections/runner.h"

#include <algorithm>
#include <future>
#include <optional>
#include <ostream>
#include <vector>

#include <doctest/doctest.h>

#include "core/calendar.h"
#include "core/registry.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "projections/case_projection.h"
#include "projections/case_writer.h"
#include "projections/retention.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

core::calendar repo_calendar() {
  const char* src = std::getenv("CASELINE_SOURCE_DIR");
  REQUIRE(src);
  return core::calendar::load_file(std::string(src) + "/core/data/cn-workdays.txt").value();
}

core::receive a_call(int i) {
  return core::receive{core::channel::website, center_code{"410100"},
                       core::caller_info{"1380000" + std::to_string(1000 + i), ""},
                       "case " + std::to_string(i), std::nullopt, {}, ""};
}

// Appends `n` cases through a real writer, then stops everything.
void write_cases(const std::string& dir, int n) {
  const auto cal = repo_calendar();
  const auto reg = core::registry::henan();
  projections::manual_clock clock{timestamp{1'780'000'000'000}};
  auto log = events::open_embedded_log({dir + "/log", 2}).value();
  auto store = projections::store::open(dir + "/store").value();
  projections::case_projection cases(*store);
  projections::projection_runner runner(*log, *store, {&cases});
  REQUIRE(runner.start());
  core::context base;
  base.cal = &cal;
  base.reg = &reg;
  projections::case_writer writer(*log, *store, runner, nullptr, base, clock);
  const core::actor agent{user_id{"a"}, core::role::agent, center_code{"410100"}, {}};
  for (int i = 0; i < n; ++i) {
    auto r = projections::submit_and_wait(
        writer, projections::command_request{std::nullopt, a_call(i), agent, "t", {}, {}, {}, {}},
        30s);
    REQUIRE(r);
  }
  REQUIRE(runner.catch_up(30s));
}

std::int64_t applied_total(projections::projection_runner& r) {
  return r.applied(events::partition_id{0}) + r.applied(events::partition_id{1});
}

}  // namespace

TEST_CASE("a runner resumes from its stored offsets and never applies a record twice") {
  test::temp_dir dir;
  write_cases(dir.path(), 20);
  auto log = events::open_embedded_log({dir.sub("log"), 2}).value();
  auto store = projections::store::open(dir.sub("store")).value();
  projections::case_projection cases(*store);
  projections::projection_runner runner(*log, *store, {&cases});
  CHECK(applied_total(runner) == 20);  // loaded from the store, before anything runs
  // Feeding an already applied batch again changes nothing: the offsets make it idempotent.
  auto batch = log->read(events::partition_id{0}, events::log_offset{0}, 100, 0ms).value();
  REQUIRE_FALSE(batch.empty());
  REQUIRE(runner.apply(batch));
  CHECK(runner.events_applied() == 0);
  for (const auto& rec : batch) {
    auto row = projections::case_reader(*store).get(case_id{rec.key}).value();
    REQUIRE(row);
    CHECK(row->state.version == 1);
  }
  // A gap (a batch that starts past the next offset) is refused, not skipped over.
  auto later = log->read(events::partition_id{1}, events::log_offset{0}, 100, 0ms).value();
  REQUIRE(later.size() >= 2);
  std::vector<events::log_record> gap(later.begin() + 1, later.end());
  for (auto& r : gap) r.position.offset = events::log_offset{r.position.offset() + 1000};
  CHECK_FALSE(runner.apply(gap));
}

TEST_CASE("a batch of several partitions is applied once, with each partition's offset") {
  test::temp_dir dir;
  write_cases(dir.path(), 20);
  auto log = events::open_embedded_log({dir.sub("log"), 2}).value();
  auto first = log->read(events::partition_id{0}, events::log_offset{0}, 100, 0ms).value();
  auto second = log->read(events::partition_id{1}, events::log_offset{0}, 100, 0ms).value();
  REQUIRE(first.size() >= 2);
  REQUIRE(second.size() >= 2);
  REQUIRE(first.size() + second.size() == 20);
  // The two partitions interleaved, as a group commit of the embedded log hands them over.
  const auto interleave = [](const std::vector<events::log_record>& a,
                             const std::vector<events::log_record>& b) {
    std::vector<events::log_record> out;
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      if (i < a.size()) out.push_back(a[i]);
      if (i < b.size()) out.push_back(b[i]);
    }
    return out;
  };
  const auto mixed = interleave(first, second);
  {
    auto store = projections::store::open(dir.sub("store-mixed")).value();
    projections::case_projection cases(*store);
    {
      projections::projection_runner runner(*log, *store, {&cases});
      REQUIRE(runner.apply(mixed));
      CHECK(runner.applied(events::partition_id{0}) == static_cast<std::int64_t>(first.size()));
      CHECK(runner.applied(events::partition_id{1}) == static_cast<std::int64_t>(second.size()));
      CHECK(runner.events_applied() == 20);
    }
    // Both offsets were stored with the rows, and the same batch again changes nothing.
    projections::projection_runner again(*log, *store, {&cases});
    CHECK(applied_total(again) == 20);
    REQUIRE(again.apply(mixed));
    CHECK(again.events_applied() == 0);
    for (const auto& rec : mixed) {
      auto row = projections::case_reader(*store).get(case_id{rec.key}).value();
      REQUIRE(row);
      CHECK(row->state.version == 1);
    }
  }
  // A gap in one partition refuses the whole batch: the other partition's records are not
  // written either.
  auto later = second;
  for (auto& r : later) r.position.offset = events::log_offset{r.position.offset() + 1000};
  auto store = projections::store::open(dir.sub("store-gap")).value();
  projections::case_projection cases(*store);
  projections::projection_runner runner(*log, *store, {&cases});
  CHECK_FALSE(runner.apply(interleave(first, later)));
  CHECK(applied_total(runner) == 0);
  CHECK(runner.events_applied() == 0);
  CHECK_FALSE(projections::case_reader(*store).get(case_id{first.front().key}).value());
}

TEST_CASE("a record that cannot be decoded stops the runner with its position, never skipped") {
  test::temp_dir dir;
  write_cases(dir.path(), 3);
  auto log = events::open_embedded_log({dir.sub("log"), 2}).value();
  // A foreign record in the log, keyed like a case.
  std::promise<result<events::log_position>> appended;
  log->append("410100-20260101-999999", "not a caseline record",
              [&](result<events::log_position> r) { appended.set_value(std::move(r)); });
  const auto pos = appended.get_future().get().value();
  // And a good record after it in the same partition, which must not be applied either.
  std::promise<result<events::log_position>> after;
  log->append("410100-20260101-999999", "still not", [&](result<events::log_position> r) {
    after.set_value(std::move(r));
  });
  REQUIRE(after.get_future().get());

  auto store = projections::store::open(dir.sub("store")).value();
  projections::case_projection cases(*store);
  projections::projection_runner runner(*log, *store, {&cases});
  REQUIRE(runner.start());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!runner.failure() && std::chrono::steady_clock::now() < deadline)
    runner.wait_applied(events::log_position{pos.partition, events::log_offset(pos.offset() + 5)},
                        100ms);
  auto failure = runner.failure();
  REQUIRE(failure);
  CHECK(failure->code == events::errc::corrupt_record);
  CHECK(failure->message().find("offset " + std::to_string(pos.offset())) != std::string::npos);
  CHECK(runner.applied(pos.partition) == pos.offset());  // stopped right before it
  CHECK_FALSE(runner.catch_up(1s));
}

TEST_CASE("a case received twice (a duplicated record) stops the runner, its row unchanged") {
  // Each event is held against its case's stored row (its version and hash chain): a received
  // event for a case that has a row is a duplicate, and must not overwrite it.
  test::temp_dir dir;
  write_cases(dir.path(), 3);
  auto log = events::open_embedded_log({dir.sub("log"), 2}).value();
  std::optional<events::log_record> first;
  for (std::int32_t p = 0; p < 2 && !first; ++p) {
    auto records = log->read(events::partition_id{p}, events::log_offset{0}, 1, 0ms);
    REQUIRE(records);
    if (!records.value().empty()) first = records.value().front();
  }
  REQUIRE(first);
  std::promise<result<events::log_position>> appended;
  log->append(first->key, first->value,
              [&](result<events::log_position> r) { appended.set_value(std::move(r)); });
  const auto pos = appended.get_future().get().value();
  REQUIRE(pos.partition == first->position.partition);

  auto store = projections::store::open(dir.sub("store")).value();
  projections::case_projection cases(*store);
  projections::projection_runner runner(*log, *store, {&cases});
  REQUIRE(runner.start());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  // Until the runner fails, or applies the duplicate (which the check below then reports).
  while (!runner.failure() && runner.applied(pos.partition) <= pos.offset() &&
         std::chrono::steady_clock::now() < deadline)
    runner.wait_applied(events::log_position{pos.partition, events::log_offset(pos.offset() + 1)},
                        100ms);
  auto failure = runner.failure();
  REQUIRE(failure);
  CHECK(failure->code == events::errc::corrupt_record);
  CHECK(failure->message().find("expected 2") != std::string::npos);
  CHECK(runner.applied(pos.partition) == pos.offset());  // stopped right before it
  auto row = projections::case_reader(*store).get(case_id{first->key});
  REQUIRE(row);
  REQUIRE(row.value());
  CHECK(row.value()->state.version == 1);
}
