// The working-day calendar as a projection of the log: seeding publishes only the years the log
// has never had (so a start cut short while seeding completes it, and an admin's publication is
// never overwritten), all in one record; a publication replaces its year; a malformed or
// conflicting year appends nothing; the rows reload to the same calendar after a restart; the
// provisional-year warning is told on the calendar the log holds.

#include "projections/calendar_projection.h"

#include <functional>
#include <span>
#include <string>

#include <doctest/doctest.h>

#include "core/errc.h"
#include "events/errc.h"
#include "projections/projection_set.h"
#include "projections/registry_projection.h"
#include "projections/runner.h"
#include "projections/store.h"
#include "projections/token_store.h"
#include "tests/projections/projection_test_support.h"

using namespace caseline;
using namespace caseline::projections;
using namespace caseline::projections::testing;

namespace {
const events::actor admin{"admin-1", "admin", "410000", ""};
}  // namespace

TEST_CASE("calendar years are events: seeded once per year, replaced by publication, reloaded") {
  stack s;
  calendar_writer w(s.log(), s.runner(), s.calendar(), s.clock());
  CHECK(s.calendar().snapshot() == nullptr);  // nothing published yet
  const std::string y2026 = "year 2026 covered notice-2026\n2026-01-01 holiday 元旦\n";
  const std::string y2027 = "year 2027 provisional law\n2027-01-01 holiday 元旦\n";

  auto seeded = w.seed(y2026, admin);
  REQUIRE(seeded);
  CHECK(seeded.value() == 1);
  // A later start (or one after a seed cut short) publishes only the missing years.
  seeded = w.seed(y2026 + y2027, admin);
  REQUIRE(seeded);
  CHECK(seeded.value() == 1);
  auto cal = s.calendar().snapshot();
  REQUIRE(cal);
  CHECK(cal->status(2026) == core::year_status::official);
  CHECK(cal->status(2027) == core::year_status::provisional);
  CHECK(s.calendar().head().sequence == 2);

  // The notice replaces the provisional year; the seed never undoes it.
  const std::string notice = "year 2027 covered notice-2027\n2027-01-01..2027-01-03 holiday 元旦\n";
  auto p = w.publish(2027, notice, admin, "c1");
  REQUIRE(p);
  CHECK(p.value().changed);
  CHECK(p.value().calendar_version == s.calendar().snapshot()->version());
  CHECK(w.seed(y2026 + y2027, admin).value() == 0);
  CHECK(s.calendar().snapshot()->status(2027) == core::year_status::official);
  // The same lines again: nothing appended.
  p = w.publish(2027, notice, admin, "c2");
  REQUIRE(p);
  CHECK_FALSE(p.value().changed);
  CHECK(s.calendar().head().sequence == 3);
  CHECK(s.count_in_log(core::calendar_year_published::type_id) == 3);

  // Refused, with nothing appended: a malformed line, another year's lines, a date two years
  // listed.
  auto bad = w.publish(2027, "year 2027 covered x\n2027-02-30 holiday x\n", admin, "c3");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::errc::invalid_argument);
  CHECK(bad.error().detail.find("calendar line 2") != std::string::npos);
  CHECK_FALSE(w.publish(2028, notice, admin, "c4"));
  CHECK_FALSE(w.publish(2026, "year 2026 covered x\n2027-01-01 holiday x\n", admin, "c5"));
  CHECK(s.count_in_log(core::calendar_year_published::type_id) == 3);

  // A restart reloads the rows into the same calendar.
  const std::string version = s.calendar().snapshot()->version();
  s.close();
  s.open();
  REQUIRE(s.calendar().snapshot());
  CHECK(s.calendar().snapshot()->version() == version);
  CHECK(s.calendar().years().at(2027).text == notice);
  CHECK(s.calendar().head().sequence == 3);
}

TEST_CASE(
    "a seed is one record: no server ever counts on part of it, and the provisional-year "
    "warning is the same on every server for the same log and day") {
  stack a;  // the server that seeds
  calendar_writer w(a.log(), a.runner(), a.calendar(), a.clock());
  const std::string shipped =
      "year 2025 covered notice-2025\n2025-01-01 holiday 元旦\n"
      "year 2026 covered notice-2026\n2026-01-01 holiday 元旦\n"
      "year 2027 provisional law\n2027-01-01 holiday 元旦\n";
  const civil_date today = date("2026-12-02");
  auto before = provisional_next_year(a.log(), a.runner(), a.calendar(), today, 10s);
  REQUIRE(before);
  CHECK_FALSE(before.value());  // no calendar in the log yet: nothing to tell
  REQUIRE(w.seed(shipped, admin).value() == 3);
  const provisional_year_warning expected{2027, 29};  // 2 to 31 December 2026
  auto on_a = provisional_next_year(a.log(), a.runner(), a.calendar(), today, 10s);
  REQUIRE(on_a);
  CHECK(on_a.value() == expected);
  CHECK_FALSE(provisional_next_year(a.log(), a.runner(), a.calendar(), date("2026-09-30"), 10s)
                  .value());  // from 1 October only

  // Server B: its own store over the same log, its runner not started: behind the log. It
  // tells nothing rather than what its projection holds.
  auto b_store = store::open(a.dir().sub("store-b"));
  REQUIRE(b_store);
  projection_set b(*b_store.value());
  projection_runner b_runner(a.log(), *b_store.value(), b.all());
  CHECK_FALSE(provisional_next_year(a.log(), b_runner, b.calendar(), today, 0ms));
  // B applies the calendar stream a record at a time: its calendar is none or the whole seed.
  const auto p = events::partition_for(calendar_writer::stream_key, a.log().partition_count());
  auto records = a.log().read(p, events::log_offset{0}, 1000, 0ms);
  REQUIRE(records);
  CHECK(records.value().size() == 1);
  const std::string whole = a.calendar().snapshot()->version();
  for (const auto& r : records.value()) {
    REQUIRE(b_runner.apply(std::span(&r, 1)));
    const auto cal = b.calendar().snapshot();
    CHECK((cal == nullptr || cal->version() == whole));
  }
  auto on_b = provisional_next_year(a.log(), b_runner, b.calendar(), today, 0ms);
  REQUIRE(on_b);
  CHECK(on_b.value() == expected);
}

namespace {
// Every record of the log, as a count per partition.
std::vector<std::int64_t> log_ends(events::event_log& log) {
  std::vector<std::int64_t> ends;
  for (std::int32_t p = 0; p < log.partition_count(); ++p) {
    auto end = log.end_offset(events::partition_id{p});
    REQUIRE(end);
    ends.push_back(end.value()());
  }
  return ends;
}
}  // namespace

// A server alone on Kafka writes the reference streams under its single-writer claim, as it
// writes cases: while the claim is in doubt another server may write the topic, and two writers
// of one stream would fork its chain, which no server could apply. Each writer asks its lease
// before it appends: refused, it answers not_owner (a 503 to the client) and writes nothing.
TEST_CASE("the registry, calendar and token writers append nothing while their lease refuses") {
  stack s;
  bool current = false;
  const write_lease lease = [&current] { return current; };
  registry_writer registry(s.log(), s.runner(), s.registry(), s.clock());
  calendar_writer calendar(s.log(), s.runner(), s.calendar(), s.clock());
  token_writer tokens(s.log(), s.runner(), s.tokens(), s.clock());
  registry.set_write_lease(lease);
  calendar.set_write_lease(lease);
  tokens.set_write_lease(lease);
  const core::unit_registered unit{unit_id{"u-410100-yg"}, "郑州市运管处", center_code{"410100"},
                                   core::unit_contact{"李四", "13900000000", "", ""}};
  const std::string year = "year 2026 covered notice-2026\n2026-01-01 holiday 元旦\n";

  const auto before = log_ends(s.log());
  const auto refused = [](const auto& r, const std::string& what) {
    REQUIRE_MESSAGE(!r, what);
    CHECK_MESSAGE(r.error().code == events::errc::not_owner, what);
    CHECK_MESSAGE(
        r.error().message().find("claim to be the log's only writer") != std::string::npos, what);
  };
  refused(registry.put(unit, admin, "r1"), "registry put");
  refused(calendar.publish(2026, year, admin, "c1"), "calendar publish");
  refused(calendar.seed(year, admin), "calendar seed");
  refused(tokens.issue("agent", "410100", "", {}, admin, "t1"), "token issue");
  CHECK(log_ends(s.log()) == before);
  CHECK(s.calendar().snapshot() == nullptr);

  current = true;  // the claim confirmed
  auto put = registry.put(unit, admin, "r2");
  REQUIRE_MESSAGE(put, (put ? "" : put.error().message()));
  auto seeded = calendar.seed(year, admin);
  REQUIRE_MESSAGE(seeded, (seeded ? "" : seeded.error().message()));
  CHECK(seeded.value() == 1);
  auto issued = tokens.issue("agent", "410100", "", {}, admin, "t2");
  REQUIRE_MESSAGE(issued, (issued ? "" : issued.error().message()));
  CHECK(s.registry().head().sequence == 1);
  CHECK(s.calendar().head().sequence == 1);
  CHECK(s.tokens().head().sequence == 1);
  CHECK(log_ends(s.log()) != before);
}
