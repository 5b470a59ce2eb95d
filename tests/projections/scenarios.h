#pragma once

// Test bodies that run on both log backends: the embedded test binary and the Kafka one call
// them with their backend.

#include <array>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/codec.h"
#include "events/log_reader.h"
#include "events/storage/counter_merge.h"
#include "projections/reminder_scheduler.h"
#include "projections/report_render.h"
#include "projections/reports.h"
#include "tests/projections/october_scenario.h"

namespace caseline::projections::testing {

// The province-wide report of October 2026.
inline report monthly_report(store& st, const core::registry& reg) {
  auto r = build_report(report_reader(st), reg, monthly_request(2026, 10, std::nullopt));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return r.value();
}

// A reply deadline passes (10-19), the server is down when a transfer deadline passes (10-15 for
// S), and it restarts twice: one reminder per deadline, whatever happens.
inline void reminder_exactly_once(backend b) {
  stack s(b);
  const auto agent = world::agent("410100");
  auto ids = play(s, {{"2026-10-12", "R", recv("410100"), agent},
                      {"2026-10-12", "R", classify(core::category::inquiry, core::domain::highway, {}), agent},
                      {"2026-10-12", "R", transfer("u-zz-yg"), agent},  // reply due 10-19
                      {"2026-10-12", "S", recv("410100"), agent}});     // transfer due 10-15
  const auto& cal = core::testing::repo_calendar();
  const auto reminded = [&] { return s.count_in_log(core::reminded::type_id); };
  {
    reminder_scheduler sched(s.db(), s.writer(), cal);
    auto n = sched.tick(at(date("2026-10-15")));  // nothing has passed yet (due at 24:00)
    REQUIRE(n);
    CHECK(n.value() == 0);
  }
  // Down from the 15th to the 20th: both deadlines passed meanwhile.
  s.close();
  s.clock().set(at(date("2026-10-20")));
  s.open();
  {
    reminder_scheduler first(s.db(), s.writer(), cal);
    reminder_scheduler second(s.db(), s.writer(), cal);  // e.g. a stale instance: still once
    auto n = first.tick(s.clock().now());
    REQUIRE(n);
    CHECK(n.value() == 2);
    REQUIRE(second.tick(s.clock().now()));
    REQUIRE(first.wait_idle(60s));
    REQUIRE(second.wait_idle(60s));
    CHECK(first.written() + second.written() == 2);
    CHECK(first.failed() + second.failed() == 0);
    auto again = first.tick(s.clock().now());  // settled: not submitted again
    REQUIRE(again);
    CHECK(again.value() == 0);
  }
  CHECK(reminded() == 2);
  // Art. 35: the unit's reply deadline is also reported to the department, once; the center's
  // own transfer deadline is not.
  CHECK(s.count_in_log(core::overdue_reported::type_id) == 1);
  s.catch_up();
  // A restart: the index no longer lists them; a new scheduler submits nothing.
  s.close();
  s.clock().set(at(date("2026-10-21")));
  s.open();
  {
    reminder_scheduler sched(s.db(), s.writer(), cal);
    auto n = sched.tick(s.clock().now());
    REQUIRE(n);
    CHECK(n.value() == 0);
  }
  CHECK(reminded() == 2);
  CHECK(s.count_in_log(core::overdue_reported::type_id) == 1);
  // The reminder carries the deadline it is about.
  auto overdue = sla_reader(s.db(), cal).overdue(scope::everything(), date("2026-10-21"), "", 10);
  REQUIRE(overdue);
  REQUIRE(overdue.value().items.size() == 2);
  CHECK(overdue.value().items[0].id == ids.at("S"));
  CHECK(overdue.value().items[0].kind == core::deadline_kind::transfer);
  CHECK(overdue.value().items[0].due == date("2026-10-15"));
  CHECK(overdue.value().items[0].reminded);
  CHECK(overdue.value().items[1].id == ids.at("R"));
  CHECK(overdue.value().items[1].due == date("2026-10-19"));
  CHECK(overdue.value().items[1].reminded);
  // An extension cannot come after the deadline, but a late reply meets it: gone from the list.
  REQUIRE(s.run(ids.at("R"), reply(), world::unit_member("u-zz-yg"), at(date("2026-10-21"))));
  auto after = sla_reader(s.db(), cal).overdue(scope::everything(), date("2026-10-21"), "", 10);
  REQUIRE(after);
  CHECK(after.value().items.size() == 1);
}

// The October scenario, then a rebuild from offset 0 into a fresh store: the families are equal
// key by key and byte by byte, and so are the reports computed from them.
// A rebuild: closes the stack and replays its log, up to where the live store stood, into a
// fresh store in the folder `name`, in `lanes` threads (replay_sets).
struct rebuilt {
  std::string live_dir;
  std::unique_ptr<store> fresh;
  replay_stats stats;
};
inline rebuilt rebuild_from_log(stack& s, const std::string& name,
                                const std::function<void(const replay_progress&)>& progress = {},
                                unsigned lanes = 1) {
  rebuilt out{s.dir().sub("store"), nullptr, {}};
  s.close();
  auto until = stored_offsets(out.live_dir);
  REQUIRE(until);
  auto fresh = store::open(s.dir().sub(name));
  REQUIRE(fresh);
  out.fresh = std::move(fresh).value();
  replay_sets sets(*out.fresh, lanes);
  REQUIRE_FALSE(sets.load_error().has_value());
  auto stats = replay(s.log(), *out.fresh, sets.lanes(), until.value(), progress);
  REQUIRE_MESSAGE(stats, (stats ? "" : stats.error().message()));
  out.stats = stats.value();
  return out;
}

inline void rebuild_is_identical(backend b) {
  stack s(b);
  play(s, october_scenario());
  const report live_report = monthly_report(s.db(), s.world().reg);
  std::uint64_t calls = 0;
  auto r = rebuild_from_log(s, "rebuilt", [&](const replay_progress&) { ++calls; });
  const std::string live_dir = r.live_dir;
  CHECK(r.stats.events > 40);
  CHECK(calls > 0);
  CHECK(monthly_report(*r.fresh, s.world().reg) == live_report);
  r.fresh.reset();
  auto diff = compare_stores(live_dir, s.dir().sub("rebuilt"), log_derived_families());
  REQUIRE(diff);
  for (const auto& d : diff.value()) INFO(d.family << " " << d.key << " " << d.what);
  CHECK(diff.value().empty());

  // In parallel, a thread for each of three sets of partitions: the same store.
  std::uint64_t parallel_calls = 0;
  auto p = rebuild_from_log(
      s, "rebuilt-in-lanes", [&](const replay_progress&) { ++parallel_calls; }, 3);
  CHECK(p.stats.events == r.stats.events);
  CHECK(parallel_calls > 0);
  p.fresh.reset();
  auto lanes_diff =
      compare_stores(live_dir, s.dir().sub("rebuilt-in-lanes"), log_derived_families());
  REQUIRE(lanes_diff);
  for (const auto& d : lanes_diff.value()) INFO(d.family << " " << d.key << " " << d.what);
  CHECK(lanes_diff.value().empty());

  SUBCASE("a report counter merged back to zero is no difference; one that is not, is") {
    const std::string key = "m/2026-10/410100/x/y/";
    {
      auto st = store::open(s.dir().sub("rebuilt"));
      REQUIRE(st);
      const std::array<std::int64_t, 2> one{0, 1};
      const std::array<std::int64_t, 2> minus_one{0, -1};
      auto& db = st.value()->db();
      auto* cf = st.value()->cf(family::report_counters);
      REQUIRE(db.Merge(rocksdb::WriteOptions(), cf, key, storage::counter_cells_value(one)).ok());
      REQUIRE(
          db.Merge(rocksdb::WriteOptions(), cf, key, storage::counter_cells_value(minus_one)).ok());
    }
    auto zero = compare_stores(live_dir, s.dir().sub("rebuilt"), log_derived_families());
    REQUIRE(zero);
    CHECK(zero.value().empty());
    {
      auto st = store::open(s.dir().sub("rebuilt"));
      REQUIRE(st);
      const std::array<std::int64_t, 2> one{0, 1};
      REQUIRE(st.value()
                  ->db()
                  .Merge(rocksdb::WriteOptions(), st.value()->cf(family::report_counters), key,
                         storage::counter_cells_value(one))
                  .ok());
    }
    auto d2 = compare_stores(live_dir, s.dir().sub("rebuilt"), log_derived_families());
    REQUIRE(d2);
    REQUIRE(d2.value().size() == 1);
    CHECK(d2.value().front().what == "only in " + s.dir().sub("rebuilt"));
  }

  SUBCASE("verify can fail: a changed row is reported") {
    {
      auto st = store::open(s.dir().sub("rebuilt"));
      REQUIRE(st);
      REQUIRE(st.value()->db().Put(rocksdb::WriteOptions(), st.value()->cf(family::report_counters),
                                   "m/2026-10/410100/x/y/received", std::string(8, '\1')).ok());
    }
    auto d2 = compare_stores(live_dir, s.dir().sub("rebuilt"), log_derived_families());
    REQUIRE(d2);
    CHECK(d2.value().size() == 1);
  }
}

// A crash after the projections consumed a batch but before the batch (rows + offsets) was
// written: their rows went nowhere, the restart re-applies the batch, nothing is counted twice.
// And a committed batch delivered again is skipped by its offsets.
inline void crash_between_consume_and_commit(backend b) {
  stack s(b);
  play(s, october_scenario());
  const report expected = monthly_report(s.db(), s.world().reg);
  s.close();

  auto st = store::open(s.dir().sub("crashed"));
  REQUIRE(st);
  std::vector<std::vector<events::log_record>> batches;
  for (std::int32_t p = 0; p < s.log().partition_count(); ++p) {
    auto end = s.log().end_offset(events::partition_id{p});
    REQUIRE(end);
    if (end.value()() == 0) continue;
    std::vector<events::log_record> all;
    while (static_cast<std::int64_t>(all.size()) < end.value()()) {
      auto recs = s.log().read(events::partition_id{p},
                               events::log_offset{static_cast<std::int64_t>(all.size())}, 1000, 10s);
      REQUIRE(recs);
      REQUIRE_FALSE(recs.value().empty());
      for (auto& r : recs.value()) all.push_back(std::move(r));
    }
    batches.push_back(std::move(all));
  }
  REQUIRE_FALSE(batches.empty());
  {
    // Consume everything into a WriteBatch, then "crash": the batch is never written.
    projection_set set(*st.value());
    for (auto& batch : batches) {
      for (auto* proj : set.all()) proj->begin_batch();
      rocksdb::WriteBatch lost;
      for (const auto& rec : batch) {
        auto decoded = events::decode_record(rec.value);
        REQUIRE(decoded);
        for (std::uint32_t i = 0; i < decoded.value().events.size(); ++i) {
          auto env = events::decode_envelope(decoded.value().events[i]);
          REQUIRE(env);
          auto ev = core::decode(env.value().type_id, env.value().version, env.value().body);
          if (!ev) continue;  // a registry event: not a case event
          const decoded_event de{env.value(), ev.value(), rec.position, i, decoded.value().events[i],
                                 decoded.value().idempotency ? &*decoded.value().idempotency
                                                             : nullptr};
          for (auto* proj : set.all()) REQUIRE(proj->apply(de, lost));
        }
      }
      CHECK(lost.Count() > 0);
      for (auto* proj : set.all()) proj->end_batch(false);
    }
  }
  st.value().reset();  // the process dies
  st = store::open(s.dir().sub("crashed"));
  REQUIRE(st);
  {
    projection_set set(*st.value());
    projection_runner runner(s.log(), *st.value(), set.all());
    for (const auto& batch : batches) REQUIRE(runner.apply(batch));
    const report once = monthly_report(*st.value(), s.world().reg);
    CHECK(once == expected);
    // The same batches again (a redelivery after the commit): skipped by the stored offsets.
    for (const auto& batch : batches) REQUIRE(runner.apply(batch));
    CHECK(monthly_report(*st.value(), s.world().reg) == expected);
  }
  st.value().reset();
  auto diff = compare_stores(s.dir().sub("store"), s.dir().sub("crashed"), log_derived_families());
  REQUIRE(diff);
  CHECK(diff.value().empty());
}

// Art. 23, 46: at least 30% of the closed non-complaint matters (replied or answered at once) of
// each center's month are picked for a revisit, after every closure, and every complaint; the
// picks are in the log, so a rebuild gives the same. Three center-months of varied mixes; each
// month's closing commands are submitted all at once (the writer decides them concurrently),
// with a restart halfway.
inline void revisit_sample_holds_at_every_point(backend b) {
  stack s(b);
  s.close();
  s.world().sla.revisit_sample_percent = 30;
  s.open();
  struct month_plan {
    const char* center;
    const char* unit;
    const char* day;
    int matters;
    std::uint32_t seed;
    const char* kinds;  // I inquiry, S suggestion, C complaint: replied; A inquiry, Q complaint: answered at once
  };
  const std::vector<month_plan> plans = {{"410100", "u-zz-yg", "2026-11-02", 60, 1, "IISCAAQ"},
                                         {"410200", "u-kf-yg", "2026-11-03", 25, 2, "AAAAAQI"},
                                         {"410100", "u-zz-yg", "2026-12-01", 30, 3, "CCCCIIS"}};
  std::size_t closures = 0;
  for (const auto& plan : plans) {
    const civil_date day = date(plan.day);
    const auto agent = world::agent(plan.center);
    const auto unit = world::unit_member(plan.unit);
    std::vector<std::pair<case_id, core::command>> closing;
    std::vector<core::actor> closers;
    std::uint32_t x = plan.seed;
    for (int i = 0; i < plan.matters; ++i) {
      x = x * 1664525u + 1013904223u;
      const char kind = plan.kinds[(x >> 16) % std::char_traits<char>::length(plan.kinds)];
      const core::category cat = kind == 'C' || kind == 'Q' ? core::category::complaint
                                 : kind == 'S'              ? core::category::suggestion
                                                            : core::category::inquiry;
      core::command call = recv(plan.center);
      const bool at_once = kind == 'A' || kind == 'Q';
      if (at_once) {
        std::get<core::receive>(call).cat = cat;
        std::get<core::receive>(call).dom = core::domain::road_transport;
      }
      auto r = s.run(std::nullopt, call, agent, at(day, i));
      REQUIRE(r);
      const case_id id = r.value().state.id;
      if (at_once) {
        closing.emplace_back(id, answer());
        closers.push_back(agent);
        continue;
      }
      REQUIRE(s.run(id, classify(cat, core::domain::road_transport, {}), agent, at(day, i)));
      REQUIRE(s.run(id, transfer(plan.unit), agent, at(day, i)));
      closing.emplace_back(id, reply());
      closers.push_back(unit);
    }
    s.clock().set(at(day, 120));  // closed the same day, after every intake
    const std::size_t half = closing.size() / 2;
    for (const auto& [from, to] : {std::pair{std::size_t{0}, half}, std::pair{half, closing.size()}}) {
      std::vector<std::promise<result<command_outcome>>> done(to - from);
      for (std::size_t i = from; i < to; ++i) {
        command_request req;
        req.id = closing[i].first;
        req.cmd = closing[i].second;
        req.who = closers[i];
        req.correlation_id = "test";
        s.writer().submit(std::move(req), [&done, k = i - from](result<command_outcome> r) {
          done[k].set_value(std::move(r));
        });
      }
      for (auto& d : done) {
        auto f = d.get_future();
        REQUIRE(f.wait_for(60s) == std::future_status::ready);
        auto r = f.get();
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
      }
      closures += to - from;
      s.catch_up();
      if (from == 0) {  // a restart halfway: the tallies go on from the store
        s.close();
        s.open();
      }
    }
  }

  // The log, partition by partition in offset order, folded case by case.
  struct closure {
    std::string center_month;
    bool picked;
  };
  std::vector<std::vector<closure>> by_partition(static_cast<std::size_t>(s.log().partition_count()));
  std::map<std::string, core::case_state> states;
  std::map<std::string, core::revisit_tally> tallies;  // "<partition>/<center>/<month>"
  std::size_t complaints = 0, complaint_picks = 0, seen = 0;
  for (std::int32_t p = 0; p < s.log().partition_count(); ++p) {
    auto scanned = events::scan_events(
        s.log(), events::partition_id{p},
        [&](const events::logged_event& e, const events::typed_event& body) {
          const auto* ev = std::get_if<core::event>(&body);
          if (ev == nullptr) return true;  // a registry event: not a case event
          core::case_state& st = states[e.env.case_id()];
          const bool closing = std::holds_alternative<core::replied>(*ev) ||
                               std::holds_alternative<core::answered_immediately>(*ev);
          if (closing && st.cat == core::category::complaint) ++complaints;
          if (auto c = core::sample_closure_of(st, *ev)) {
            ++seen;
            core::revisit_tally& t =
                tallies[std::to_string(p) + "/" + c->center() + "/" + c->month];
            ++t.closed;
            t.picked += c->picked;
            by_partition[static_cast<std::size_t>(p)].push_back(
                {c->center() + "/" + c->month, c->picked});
            // After every closure of the partition: at least 30% picked.
            CHECK(100ULL * t.picked >= 30ULL * t.closed);
          }
          st = core::evolve(std::move(st), *ev, e.env.recorded_at);
          if (closing && st.cat == core::category::complaint)
            complaint_picks += st.revisit_required;
          return true;
        });
    REQUIRE_MESSAGE(scanned, (scanned ? "" : scanned.error().message()));
  }
  CHECK(seen + complaints == closures);
  CHECK(seen > 60);
  CHECK(complaint_picks == complaints);
  CHECK(complaints > 10);
  // Whatever order the partitions are read in together (here: round robin), every point of each
  // center's month has at least 30% picked.
  std::map<std::string, core::revisit_tally> merged;
  for (std::size_t i = 0;; ++i) {
    bool any = false;
    for (const auto& list : by_partition) {
      if (i >= list.size()) continue;
      any = true;
      core::revisit_tally& t = merged[list[i].center_month];
      ++t.closed;
      t.picked += list[i].picked;
      CHECK(100ULL * t.picked >= 30ULL * t.closed);
    }
    if (!any) break;
  }
  CHECK(merged.size() == 3);
  // The case shows its pick, and the store's tallies are the log's.
  case_reader reader(s.db());
  for (const auto& [id, st] : states) {
    auto row = reader.get(case_id{id});
    REQUIRE(row);
    REQUIRE(row.value());
    CHECK(row.value()->state.revisit_required == st.revisit_required);
  }
  for (const auto& [key, t] : tallies) {
    const auto slash = key.find('/');
    const auto slash2 = key.find('/', slash + 1);
    auto stored = reader.revisit_tally(events::partition_id{std::stoi(key.substr(0, slash))},
                                       center_code{key.substr(slash + 1, slash2 - slash - 1)},
                                       key.substr(slash2 + 1));
    REQUIRE(stored);
    CHECK(stored.value() == t);
  }
  // Replay: a rebuild from the log gives the same picks and tallies, byte for byte.
  auto r = rebuild_from_log(s, "rebuilt");
  const std::string live_dir = r.live_dir;
  r.fresh.reset();
  auto diff = compare_stores(live_dir, s.dir().sub("rebuilt"), log_derived_families());
  REQUIRE(diff);
  for (const auto& d : diff.value()) INFO(d.family << " " << d.key << " " << d.what);
  CHECK(diff.value().empty());
}

}  // namespace caseline::projections::testing
