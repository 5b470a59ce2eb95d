#include "projections/queues.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "events/storage/scan.h"
#include "gateway/json_text.h"
#include "gateway/read_model_json.h"
#include "projections/sla_index.h"
#include "tests/projections/october_scenario.h"

namespace caseline::projections::testing {
namespace {

std::vector<std::string> ids_of(const queue_page& p, const std::map<std::string, case_id>& ids) {
  std::map<std::string, std::string> label_of;
  for (const auto& [label, id] : ids) label_of[id()] = label;
  std::vector<std::string> out;
  for (const auto& item : p.items) out.push_back(label_of.at(item.id()));
  return out;
}

std::vector<std::string> labels(const std::vector<deadline_row>& rows,
                                const std::map<std::string, case_id>& ids) {
  std::map<std::string, std::string> label_of;
  for (const auto& [label, id] : ids) label_of[id()] = label;
  std::vector<std::string> out;
  for (const auto& r : rows)
    out.push_back(label_of.at(r.id()) + " " + std::string(core::to_string(r.kind)) + " " +
                  r.due.to_string());
  return out;
}

using strings = std::vector<std::string>;

TEST_CASE("queues list each center's and unit's cases by deadline, major-urgent first") {
  stack s;
  const auto ids = play(s, october_scenario());
  const queue_reader q(s.db());
  const scope zz = scope::of_center(center_code{"410100"});
  auto page = [&](queue_kind k, const scope& sc) {
    auto p = q.page({k, sc, "", 100});
    REQUIRE(p);
    CHECK(p.value().next_cursor.empty());
    return ids_of(p.value(), ids);
  };
  CHECK(page(queue_kind::to_classify, zz) == strings{"K"});
  CHECK(page(queue_kind::to_transfer, zz).empty());
  CHECK(page(queue_kind::returned, zz).empty());
  CHECK(page(queue_kind::escalated, zz).empty());
  // H is major-urgent: first although its deadline (November) is the latest but J's.
  CHECK(page(queue_kind::at_unit, zz) == strings{"H", "I", "J"});
  CHECK(page(queue_kind::at_unit, scope::of_unit(unit_id{"u-zz-yg"})) == strings{"H", "I"});
  CHECK(page(queue_kind::at_unit, scope::of_unit(unit_id{"u-zz-gl"})) == strings{"J"});
  CHECK(page(queue_kind::awaiting_revisit, zz) == strings{"D"});
  // Closed on 10-12 (A, B, C), 10-20 (E, replied then revisited), 10-22 (G), 10-28 (F); the
  // archived September and 2025 cases are gone.
  CHECK(page(queue_kind::to_archive, zz) == strings{"A", "B", "C", "E", "G", "F"});
  CHECK(page(queue_kind::to_archive, scope::of_center(center_code{"410200"})) == strings{"N"});

  SUBCASE("the deadline shown is the (extended) one the queue is sorted by") {
    auto p = q.page({queue_kind::at_unit, zz, "", 100});
    REQUIRE(p);
    REQUIRE(p.value().items.size() == 3);
    CHECK(p.value().items[0].major_urgent);
    CHECK(p.value().items[1].due == date("2026-10-22"));
    CHECK(p.value().items[1].due_kind == core::deadline_kind::reply);
    CHECK(p.value().items[1].unit == unit_id{"u-zz-yg"});
  }

  SUBCASE("cursor paging returns every item once, in order") {
    auto first = q.page({queue_kind::to_archive, zz, "", 4});
    REQUIRE(first);
    CHECK(ids_of(first.value(), ids) == strings{"A", "B", "C", "E"});
    REQUIRE_FALSE(first.value().next_cursor.empty());
    auto second = q.page({queue_kind::to_archive, zz, first.value().next_cursor, 4});
    REQUIRE(second);
    CHECK(ids_of(second.value(), ids) == strings{"G", "F"});
    CHECK(second.value().next_cursor.empty());
    CHECK_FALSE(q.page({queue_kind::to_archive, zz, "zz", 4}));     // not a cursor
    CHECK_FALSE(q.page({queue_kind::to_archive, scope{}, "", 4}));  // no scope
  }

  SUBCASE("overdue and due-soon lists read the deadline index") {
    const sla_reader sla(s.db(), core::testing::repo_calendar());
    const civil_date today = date("2026-10-30");
    auto overdue = sla.overdue(zz, today, "", 100);
    REQUIRE(overdue);
    CHECK(labels(overdue.value().items, ids) == strings{"I reply 2026-10-22"});
    auto all = sla.overdue(scope::everything(), today, "", 100);
    REQUIRE(all);
    CHECK(labels(all.value().items, ids) == strings{"I reply 2026-10-22"});
    auto unit = sla.overdue(scope::of_unit(unit_id{"u-zz-gl"}), today, "", 100);
    REQUIRE(unit);
    CHECK(unit.value().items.empty());
    // K was received on Friday 10-30: its transfer is due on the 3rd working day, Wed 11-04.
    auto soon2 = sla.due_soon(zz, today, working_days{2}, "", 100);
    REQUIRE(soon2);
    CHECK(soon2.value().items.empty());
    auto soon3 = sla.due_soon(zz, today, working_days{3}, "", 100);
    REQUIRE(soon3);
    CHECK(labels(soon3.value().items, ids) == strings{"K transfer 2026-11-04"});
    CHECK(soon3.value().next_cursor.empty());
  }

  SUBCASE("a deadline list is paged by key: each row once, a foreign cursor refused") {
    const sla_reader sla(s.db(), core::testing::repo_calendar());
    const civil_date later = date("2026-12-31");  // every deadline of the fixture has passed
    auto whole = sla.overdue(zz, later, "", 100);
    REQUIRE(whole);
    REQUIRE(whole.value().items.size() >= 2);
    CHECK(whole.value().next_cursor.empty());
    std::vector<deadline_row> paged;
    std::string cursor;
    for (int pages = 0;; ++pages) {
      REQUIRE(pages <= static_cast<int>(whole.value().items.size()));
      auto p = sla.overdue(zz, later, cursor, 1);
      REQUIRE(p);
      paged.insert(paged.end(), p.value().items.begin(), p.value().items.end());
      if (p.value().next_cursor.empty()) break;
      CHECK(p.value().items.size() == 1);
      cursor = p.value().next_cursor;
    }
    CHECK(labels(paged, ids) == labels(whole.value().items, ids));
    // A cursor of another scope's list, or one past the list's end, is not this list's.
    auto first = sla.overdue(scope::everything(), later, "", 1);
    REQUIRE(first);
    REQUIRE_FALSE(first.value().next_cursor.empty());
    auto foreign = sla.overdue(zz, later, first.value().next_cursor, 1);
    REQUIRE_FALSE(foreign);
    CHECK(foreign.error().field == "cursor");
    // The fixture's cases came in October 2026: nothing was due before 2026-01-01.
    REQUIRE_FALSE(cursor.empty());
    auto late = sla.overdue(zz, date("2026-01-01"), cursor, 1);
    REQUIRE_FALSE(late);
    CHECK(late.error().field == "cursor");
  }

  SUBCASE("a page as the route answers it: items, overdue against today, the next cursor") {
    const queue_query query{queue_kind::at_unit, zz, "", 2};
    auto p = q.page(query);
    REQUIRE(p);
    const auto body = gateway::queue_page_json(query, p.value(), date("2026-10-30"));
    // Written straight as text, in json_text's form: the same bytes as the value it parses to.
    CHECK(gateway::json_text(boost::json::parse(body)) == body);
    CHECK(body.find("\"queue\":\"at_unit\"") != std::string::npos);
    CHECK(body.find("\"overdue\":true") != std::string::npos);  // I
    CHECK(body.find("\"next_cursor\":\"") != std::string::npos);
    auto bad = q.page({queue_kind::at_unit, zz, "zz", 2});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().field == "cursor");
    const civil_date today = date("2026-10-30");
    auto overdue = sla_reader(s.db(), core::testing::repo_calendar()).overdue(zz, today, "", 200);
    REQUIRE(overdue);
    const auto listed = gateway::deadlines_json(today, std::nullopt, zz, overdue.value());
    CHECK(gateway::json_text(boost::json::parse(listed)) == listed);
    CHECK(listed.find(ids.at("I")()) != std::string::npos);
  }
}

TEST_CASE("a case moves between queues as it is handled, and leaves them when archived") {
  stack s;
  const auto agent = world::agent("410100");
  const std::vector<step> steps{
      {"2026-11-02", "X", recv("410100"), agent},
      {"2026-11-02", "X", classify(core::category::inquiry, core::domain::highway, {}), agent},
  };
  auto ids = play(s, steps);
  const scope zz = scope::of_center(center_code{"410100"});
  const queue_reader q(s.db());
  const auto count = [&](queue_kind k) {
    auto p = q.page({k, zz, "", 100});
    REQUIRE(p);
    return p.value().items.size();
  };
  CHECK(count(queue_kind::to_classify) == 0);
  CHECK(count(queue_kind::to_transfer) == 1);
  REQUIRE(s.run(ids.at("X"), core::escalate{core::escalation_target::upper_center,
                                             core::escalation_reason::cross_region, "n"},
                agent, at(date("2026-11-02"), 5)));
  // Escalated to the provincial center: it is that center's queue now.
  CHECK(count(queue_kind::to_transfer) == 0);
  auto prov = q.page({queue_kind::escalated, scope::of_center(center_code{"410000"}), "", 10});
  REQUIRE(prov);
  CHECK(prov.value().items.size() == 1);
  const auto prov_agent = world::agent("410000");
  REQUIRE(s.run(ids.at("X"), transfer("u-prov-gs"), prov_agent, at(date("2026-11-03"))));
  auto at_unit = q.page({queue_kind::at_unit, scope::of_unit(unit_id{"u-prov-gs"}), "", 10});
  REQUIRE(at_unit);
  CHECK(at_unit.value().items.size() == 1);
  REQUIRE(s.run(ids.at("X"), give_back(), world::unit_member("u-prov-gs"), at(date("2026-11-04"))));
  auto returned = q.page({queue_kind::returned, scope::of_center(center_code{"410000"}), "", 10});
  REQUIRE(returned);
  CHECK(returned.value().items.size() == 1);
  auto none = q.page({queue_kind::at_unit, scope::of_unit(unit_id{"u-prov-gs"}), "", 10});
  REQUIRE(none);
  CHECK(none.value().items.empty());
}

TEST_CASE("the queues fold no state of their own: queue_cases stays empty, the rows are written") {
  stack s;
  play(s, october_scenario());
  const auto rows = [&](family f) {
    std::size_t n = 0;
    auto r = storage::scan(s.db().db(), s.db().cf(f), {}, "count rows", [&](auto, auto) {
      ++n;
      return storage::scan_step::next;
    });
    REQUIRE(r);
    return n;
  };
  // The case projection's states are what the queues and the deadline index derive from.
  CHECK(rows(family::queue_cases) == 0);
  CHECK(rows(family::queues) > 0);
  CHECK(rows(family::sla_deadlines) > 0);
  CHECK(rows(family::case_index) > 0);
}

}  // namespace
}  // namespace caseline::projections::testing
