// The worklist and report routes against a real server and a small scenario: work queues, overdue
// and due-soon deadlines, and the statutory reports, each in the caller's scope, with bad
// parameters answered as 422 problems naming the parameter.
#include "gateway/api.h"

#include <set>

#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {

std::string str(const json::value& v, const char* k) { return v.at(k).as_string().c_str(); }

std::vector<std::string> case_ids(const reply& r) {
  std::vector<std::string> out;
  for (const auto& i : r.json().at("items").as_array()) out.push_back(str(i, "case_id"));
  return out;
}

// The scenario, received on Fri 2025-09-26 (manual clock): at 410100 a plain case (a), a case
// transferred to own_unit (b) and a case flagged major-urgent at intake (c); at 410300 a plain
// case (d).
struct scenario {
  test_server srv;
  std::string a, b, c, d;
  scenario() {
    a = srv.receive(true);
    b = srv.transferred(true);
    auto r = srv.post("/v1/cases",
                      R"({"channel":"phone","center":"410100","caller":{"phone":"13800005555"},"content":"A bridge is cracked.","major_urgent_reason":"public safety"})",
                      srv.own.at("agent"));
    REQUIRE(r.status == 201);
    c = str(r.json(), "id");
    d = srv.receive(false);
  }
};

void check_field_error(const reply& r, const std::string& field) {
  CAPTURE(r.body);
  CHECK(r.status == 422);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(str(r.json(), "field") == field);
}

}  // namespace

TEST_CASE("queues answer in the caller's scope, major-urgent first, cursor-paged, without personal data") {
  scenario s;
  auto& srv = s.srv;
  auto q = srv.get("/v1/queues/to_classify", srv.own.at("agent"));
  REQUIRE(q.status == 200);
  CHECK(str(q.json(), "center") == own_center);  // forced to the token's center
  CHECK(case_ids(q) == std::vector<std::string>{s.c, s.a});
  CHECK(q.json().at("items").as_array()[0].at("major_urgent").as_bool());
  CHECK(str(q.json().at("items").as_array()[1], "due") == "2025-09-30");
  CHECK(q.body.find("bridge") == std::string::npos);
  CHECK(q.body.find("caller") == std::string::npos);

  // Paged: one at a time, the cursor leads to the next.
  auto p1 = srv.get("/v1/queues/to_classify?limit=1", srv.own.at("shift_lead"));
  REQUIRE(p1.status == 200);
  CHECK(case_ids(p1) == std::vector<std::string>{s.c});
  const auto cursor = str(p1.json(), "next_cursor");
  auto p2 = srv.get("/v1/queues/to_classify?limit=1&cursor=" + cursor, srv.own.at("shift_lead"));
  REQUIRE(p2.status == 200);
  CHECK(case_ids(p2) == std::vector<std::string>{s.a});

  // A unit sees its own unit's queue; center staff the units of their center.
  auto u = srv.get("/v1/queues/at_unit", srv.own.at("unit"));
  REQUIRE(u.status == 200);
  CHECK(case_ids(u) == std::vector<std::string>{s.b});
  CHECK(case_ids(srv.get(std::string("/v1/queues/at_unit?unit=") + own_unit,
                         srv.own.at("supervisor"))) == std::vector<std::string>{s.b});
  CHECK(srv.get(std::string("/v1/queues/at_unit?unit=") + other_unit, srv.own.at("supervisor"))
            .status == 403);
  CHECK(srv.get(std::string("/v1/queues/at_unit?unit=") + other_unit, srv.own.at("unit")).status ==
        403);

  // Another center's queue: 403 for a city center's staff; the provincial center names any.
  CHECK(srv.get("/v1/queues/to_classify?center=410300", srv.own.at("agent")).status == 403);
  auto prov = srv.get("/v1/queues/to_classify?center=410300", srv.provincial.at("agent"));
  REQUIRE(prov.status == 200);
  CHECK(case_ids(prov) == std::vector<std::string>{s.d});
  CHECK(case_ids(srv.get("/v1/queues/to_classify?center=410300", srv.own.at("auditor"))) ==
        std::vector<std::string>{s.d});

  // Bad parameters name themselves.
  check_field_error(srv.get("/v1/queues/to_classify", srv.provincial.at("agent")), "center");
  check_field_error(srv.get("/v1/queues/nope", srv.own.at("agent")), "queue");
  check_field_error(srv.get("/v1/queues/to_classify?limit=0", srv.own.at("agent")), "limit");
  check_field_error(srv.get("/v1/queues/to_classify?cursor=zz", srv.own.at("agent")), "cursor");
  check_field_error(srv.get("/v1/queues/to_classify?centre=410100", srv.own.at("agent")), "centre");
  check_field_error(srv.get("/v1/queues/to_classify?center=41", srv.own.at("agent")), "center");
}

TEST_CASE("overdue and due-soon deadlines follow the service clock and the caller's scope") {
  scenario s;
  auto& srv = s.srv;
  // Fri 26 Sep: the transfer deadlines of a and c fall on Tue 30 Sep (Sun 28 is a make-up
  // working day): the 3rd working day after today.
  auto soon = srv.get("/v1/sla/due-soon?within=3", srv.own.at("agent"));
  REQUIRE(soon.status == 200);
  auto ids = case_ids(soon);
  CHECK(std::set<std::string>(ids.begin(), ids.end()) == std::set<std::string>{s.a, s.c});
  CHECK(case_ids(srv.get("/v1/sla/due-soon?within=2", srv.own.at("agent"))).empty());
  CHECK(case_ids(srv.get("/v1/sla/overdue", srv.own.at("agent"))).empty());
  check_field_error(srv.get("/v1/sla/due-soon?within=x", srv.own.at("agent")), "within");
  CHECK(srv.get("/v1/sla/overdue?center=410300", srv.own.at("agent")).status == 403);

  // After the National Day holidays nothing was transferred: a, c (410100) and d are overdue.
  REQUIRE(srv.post("/v1/admin/clock", R"({"now":"2025-10-09T09:00:00+08:00"})", srv.own.at("admin"))
              .status == 200);
  auto over = srv.get("/v1/sla/overdue", srv.own.at("supervisor"));
  REQUIRE(over.status == 200);
  CHECK(str(over.json(), "today") == "2025-10-09");
  ids = case_ids(over);
  CHECK(std::set<std::string>(ids.begin(), ids.end()) == std::set<std::string>{s.a, s.c});
  for (const auto& i : over.json().at("items").as_array()) {
    CHECK(str(i, "kind") == "transfer");
    CHECK(i.at("overdue").as_bool());
  }
  auto all = srv.get("/v1/sla/overdue", srv.provincial.at("supervisor"));
  ids = case_ids(all);
  CHECK(std::set<std::string>(ids.begin(), ids.end()) == std::set<std::string>{s.a, s.c, s.d});
  // The unit's reply deadline is not due yet.
  CHECK(case_ids(srv.get("/v1/sla/overdue", srv.own.at("unit"))).empty());

  // Paged: one deadline a page, each once, then null; a cursor of another list is 422.
  std::vector<std::string> paged;
  std::string next;
  for (int pages = 0; pages < 4; ++pages) {
    auto page = srv.get("/v1/sla/overdue?limit=1" + (next.empty() ? "" : "&cursor=" + next),
                        srv.provincial.at("supervisor"));
    REQUIRE(page.status == 200);
    const auto got = case_ids(page);
    CHECK(got.size() == 1);
    paged.insert(paged.end(), got.begin(), got.end());
    const auto& cursor = page.json().at("next_cursor");
    if (cursor.is_null()) break;
    next = std::string(cursor.as_string());
  }
  CHECK(paged == case_ids(all));
  check_field_error(srv.get("/v1/sla/overdue?cursor=zz", srv.provincial.at("supervisor")),
                    "cursor");
  auto queue = srv.get("/v1/queues/to_classify?limit=1", srv.own.at("agent"));
  REQUIRE(queue.status == 200);
  REQUIRE(queue.json().at("next_cursor").is_string());
  check_field_error(
      srv.get("/v1/sla/overdue?cursor=" + std::string(queue.json().at("next_cursor").as_string()),
              srv.provincial.at("supervisor")),
      "cursor");
  check_field_error(srv.get("/v1/sla/due-soon?within=3&limit=0", srv.own.at("agent")), "limit");
}

TEST_CASE("the statutory reports answer from the counters, per center or province-wide") {
  scenario s;
  auto& srv = s.srv;
  auto m = srv.get("/v1/reports/monthly/2025-09", srv.own.at("analyst"));
  REQUIRE(m.status == 200);
  CHECK(str(m.json(), "center") == own_center);
  CHECK(m.json().at("totals").at("received").as_int64() == 3);
  auto prov = srv.get("/v1/reports/monthly/2025-09", srv.provincial.at("analyst"));
  REQUIRE(prov.status == 200);
  CHECK(str(prov.json(), "center") == "province");
  CHECK(prov.json().at("totals").at("received").as_int64() == 4);
  CHECK(srv.get("/v1/reports/monthly/2025-09?center=410300", srv.provincial.at("supervisor"))
            .json().at("totals").at("received").as_int64() == 1);
  CHECK(srv.get("/v1/reports/monthly/2025-09?center=410300", srv.own.at("analyst")).status == 403);

  auto y = srv.get("/v1/reports/annual/2025", srv.own.at("supervisor"));
  REQUIRE(y.status == 200);
  CHECK(y.json().at("totals").at("received").as_int64() == 3);
  auto p = srv.get("/v1/reports/period?from=2025-09-20&to=2025-09-30", srv.own.at("auditor"));
  REQUIRE(p.status == 200);
  CHECK(str(p.json(), "center") == "province");  // auditors see every center
  CHECK(p.json().at("totals").at("received").as_int64() == 4);

  auto u = srv.get("/v1/reports/urgent/2025-09-26", srv.own.at("analyst"));
  REQUIRE(u.status == 200);
  const auto& urgent = u.json().at("major_urgent").as_array();
  REQUIRE(urgent.size() == 1);
  CHECK(str(urgent[0], "case_id") == s.c);
  CHECK(u.body.find("public safety") == std::string::npos);

  // Art. 45: the provincial center's assessment of the city centers.
  CHECK(srv.get("/v1/reports/assessment/2025-09", srv.own.at("analyst")).status == 403);
  auto a = srv.get("/v1/reports/assessment/2025-09", srv.provincial.at("analyst"));
  REQUIRE(a.status == 200);
  bool found = false;
  for (const auto& row : a.json().at("centers").as_array())
    if (str(row, "center") == own_center) {
      found = true;
      CHECK(row.at("received").as_int64() == 3);
    }
  CHECK(found);

  check_field_error(srv.get("/v1/reports/monthly/2025-13", srv.own.at("analyst")), "month");
  check_field_error(srv.get("/v1/reports/annual/25", srv.own.at("analyst")), "year");
  check_field_error(srv.get("/v1/reports/period?to=2025-09-30", srv.own.at("analyst")), "from");
  check_field_error(srv.get("/v1/reports/period?from=2025-09-30&to=2025-09-01",
                            srv.own.at("analyst")),
                    "to");
  check_field_error(srv.get("/v1/reports/urgent/2025-02-30", srv.own.at("analyst")), "day");
  check_field_error(srv.get("/v1/reports/monthly/2025-09?center=999999", srv.provincial.at("analyst")),
                    "center");
}

TEST_CASE("Art. 35 — a passed reply deadline is reported to the department, and listed for it") {
  scenario s;
  auto& srv = s.srv;
  auto before = srv.get("/v1/cases/" + s.b, srv.own.at("supervisor"));
  REQUIRE(before.status == 200);
  CHECK(before.json().at("overdue_reports").as_array().empty());
  const std::string due = str(before.json().at("deadlines").at("reply_by"), "due");
  // The morning after the deadline: the reminder scheduler reminds and reports, once.
  const auto day_after = civil_date::parse(due)->plus_days(1).to_string();
  REQUIRE(srv.post("/v1/admin/clock", R"({"now":")" + day_after + R"(T09:00:00+08:00"})",
                   srv.own.at("admin"))
              .status == 200);
  // The case's history (auditor: any center) shows the reminder and the report once applied.
  const auto history_has = [&](const std::string& type) {
    auto h = srv.get("/v1/cases/" + s.b + "/events", srv.own.at("auditor"));
    if (h.status != 200) return false;
    for (const auto& e : h.json().at("events").as_array())
      if (str(e, "type") == type) return true;
    return false;
  };
  const bool done = eventually([&] { return history_has("overdue_reported"); });
  if (!done) MESSAGE(srv.get("/v1/cases/" + s.b + "/events", srv.own.at("supervisor")).body);
  REQUIRE(done);
  auto now_case = srv.get("/v1/cases/" + s.b, srv.own.at("supervisor"));
  REQUIRE(now_case.status == 200);
  const json::value reports = now_case.json().at("overdue_reports");
  REQUIRE(reports.as_array().size() == 1);
  CHECK(str(reports.as_array()[0], "due") == due);
  CHECK(str(reports.as_array()[0], "reported_on") == day_after);
  CHECK(str(reports.as_array()[0], "unit") == own_unit);
  auto history = srv.get("/v1/cases/" + s.b + "/events", srv.own.at("supervisor"));
  REQUIRE(history.status == 200);
  int reported = 0;
  for (const auto& e : history.json().at("events").as_array())
    if (str(e, "type") == "overdue_reported") {
      ++reported;
      CHECK(str(e.at("data"), "center") == own_center);
    }
  CHECK(reported == 1);

  const std::string period = "/v1/reports/overdue?from=" + due.substr(0, 8) + "01&to=" + day_after;
  auto list = srv.get(period, srv.own.at("analyst"));
  REQUIRE(list.status == 200);
  CHECK(str(list.json(), "center") == own_center);
  REQUIRE(case_ids(list) == std::vector<std::string>{s.b});
  const auto& item = list.json().at("items").as_array()[0];
  CHECK(str(item, "unit") == own_unit);
  CHECK(str(item, "due") == due);
  CHECK(item.at("replied_on").is_null());
  CHECK(list.json().at("next_cursor").is_null());
  // The unit replies late: the list says so.
  REQUIRE(srv.post("/v1/cases/" + s.b + "/reply",
                   R"({"facts":"f","process":"p","basis":"b","caller_reached":true})",
                   srv.own.at("unit"))
              .status == 200);
  auto after = srv.get(period, srv.own.at("supervisor"));
  REQUIRE(after.status == 200);
  CHECK(str(after.json().at("items").as_array()[0], "replied_on") == day_after);
  // The monthly report has the list and the unit's count.
  auto month = srv.get("/v1/reports/monthly/" + day_after.substr(0, 7), srv.own.at("analyst"));
  REQUIRE(month.status == 200);
  REQUIRE(month.json().at("overdue_reported").as_array().size() == 1);
  bool counted = false;
  for (const auto& u : month.json().at("units").as_array())
    if (str(u, "unit") == own_unit) counted = u.at("overdue_reported").as_int64() == 1;
  CHECK(counted);

  // Scope: the own center's and the province's staff; another center's not; units never.
  CHECK(case_ids(srv.get(period, srv.provincial.at("analyst"))) == std::vector<std::string>{s.b});
  CHECK(case_ids(srv.get(period + "&unit=" + other_unit, srv.provincial.at("analyst"))).empty());
  CHECK(srv.get(period + "&center=" + own_center, srv.other.at("analyst")).status == 403);
  CHECK(case_ids(srv.get(period, srv.other.at("analyst"))).empty());
  CHECK(srv.get(period, srv.own.at("unit")).status == 403);
  CHECK(srv.get(period, srv.own.at("agent")).status == 403);
  // Bad parameters: 422 naming the parameter.
  check_field_error(srv.get("/v1/reports/overdue?to=" + day_after, srv.own.at("analyst")), "from");
  check_field_error(srv.get(period + "&limit=0", srv.own.at("analyst")), "limit");
  check_field_error(srv.get(period + "&cursor=xyz", srv.own.at("analyst")), "cursor");
  check_field_error(srv.get(period + "&unit=a%20b", srv.own.at("analyst")), "unit");
  check_field_error(srv.get(period + "&center=41", srv.provincial.at("analyst")), "center");
  check_field_error(srv.get(period + "&colour=red", srv.own.at("analyst")), "colour");
}

TEST_CASE("Art. 39 — the immediate-answer rate is given per domain × category") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  const auto receive = [&](const std::string& extra) {
    auto r = srv.post("/v1/cases",
                      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"When does the ferry leave?")" +
                          extra + "}",
                      agent);
    REQUIRE(r.status == 201);
    return str(r.json(), "id");
  };
  const auto answer = [&](const std::string& id) {
    REQUIRE(srv.post("/v1/cases/" + id + "/answer", R"({"answer":"At 8:00."})", agent).status == 200);
  };
  // Named at intake and answered; answered and then classified (it stays answered); named at
  // intake and transferred after classification; never classified.
  const auto a = receive(R"(,"category":"inquiry","domain":"waterway")");
  answer(a);
  const auto b = receive("");
  answer(b);
  auto r = srv.post("/v1/cases/" + b + "/classify", R"({"category":"inquiry","domain":"waterway"})", agent);
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "answered");
  CHECK(str(r.json(), "category") == "inquiry");
  const auto c = receive(R"(,"category":"inquiry","domain":"waterway")");
  REQUIRE(srv.post("/v1/cases/" + c + "/classify", R"({"category":"inquiry","domain":"waterway"})", agent)
              .status == 200);
  REQUIRE(srv.post("/v1/cases/" + c + "/transfer", std::string(R"({"unit":")") + own_unit + "\"}", agent)
              .status == 200);
  receive("");
  // One of the two alone is refused, naming the missing one.
  check_field_error(srv.post("/v1/cases",
                             R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"x","category":"inquiry"})",
                             agent),
                    "domain");
  // A case not accepted is not classified afterwards.
  const auto d = receive("");
  REQUIRE(srv.post("/v1/cases/" + d + "/not-accept",
                   R"({"reason":"outside_remit","explanation":"Not transport."})", agent).status == 200);
  r = srv.post("/v1/cases/" + d + "/classify", R"({"category":"inquiry","domain":"waterway"})", agent);
  CHECK(r.status == 409);
  CHECK(str(r.json(), "type") == "/problems/rule/not-at-intake");

  bool found = false;
  REQUIRE(eventually([&] {
    auto m = srv.get("/v1/reports/monthly/2025-09", srv.own.at("analyst"));
    if (m.status != 200 || m.json().at("totals").at("received").as_int64() != 5) return false;
    for (const auto& row : m.json().at("by_domain_category").as_array()) {
      if (str(row, "domain") != "waterway" || str(row, "category") != "inquiry") continue;
      const auto& f = row.at("figures");
      found = f.at("received").as_int64() == 3 && f.at("answered_immediately").as_int64() == 2;
      if (found) CHECK(f.at("immediate_answer_rate").as_double() == 0.6667);  // 2 of 3, 4 decimals
    }
    return found;
  }));
  CHECK(found);
}
