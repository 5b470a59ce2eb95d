// Calendar continuity through the API: deadlines counted on a year without its notice are
// provisional and say so; a published year is an event in the log that revises the pending
// deadlines it changes, once; a rebuild gives the same deadlines; rule errors are never 404; the
// manual clock survives a restart. A real server (embedded log, RocksDB in a temporary folder).

#include <doctest/doctest.h>

#include "tests/gateway/gateway_test_support.h"
#include "tests/support/notice_2027.h"

using namespace caseline;
using caseline::testing::notice_2027;
using namespace caseline::gwtest;

namespace {


void set_clock(test_server& s, const std::string& rfc3339) {
  REQUIRE(s.post("/v1/admin/clock", R"({"now":")" + rfc3339 + "\"}", s.own["admin"]).status == 200);
}

reply put_calendar(test_server& s, const std::string& year, const std::string& body,
                   const std::string& token, const std::string& type = "text/plain; charset=utf-8") {
  return request(s.port, "PUT", "/v1/calendar/" + year, body,
                 test_server::auth(token, {{"Content-Type", type}}));
}

std::vector<json::object> events_of(test_server& s, const std::string& id, const std::string& type) {
  std::vector<json::object> out;
  const auto r = s.get("/v1/cases/" + id + "/events", s.own["supervisor"]);
  if (r.status != 200) return out;
  for (const auto& e : r.json().at("events").as_array())
    if (e.at("type").as_string() == type) out.push_back(e.as_object());
  return out;
}

const json::value& deadline(const reply& c, const char* which) { return c.json().at("deadlines").at(which); }

}  // namespace

TEST_CASE("a year without its notice: provisional deadlines, then the published notice revises them once") {
  test_server s;
  // A complaint received on 2026-12-30 and transferred on 2026-12-31; an inquiry received and
  // transferred on 2026-12-01, all of whose days are official.
  set_clock(s, "2026-12-01T10:00:00+08:00");
  const std::string c = s.receive();
  REQUIRE(s.post("/v1/cases/" + c + "/classify", R"({"category":"inquiry","domain":"road_transport"})",
                 s.own["agent"]).status == 200);
  REQUIRE(s.post("/v1/cases/" + c + "/transfer", R"({"unit":"zz-transit"})", s.own["agent"]).status == 200);
  set_clock(s, "2026-12-30T10:00:00+08:00");
  const std::string a = s.receive();
  auto got = s.get("/v1/cases/" + a, s.own["agent"]);
  REQUIRE(got.status == 200);
  CHECK(deadline(got, "transfer_by").at("due").as_string() == "2027-01-05");
  CHECK(deadline(got, "transfer_by").at("provisional").as_bool());
  const std::string provisional_version(deadline(got, "transfer_by").at("calendar").as_string().c_str());
  CHECK(provisional_version.size() == 16);
  set_clock(s, "2026-12-31T10:00:00+08:00");
  REQUIRE(s.post("/v1/cases/" + a + "/classify", R"({"category":"complaint","domain":"road_transport"})",
                 s.own["agent"]).status == 200);
  REQUIRE(s.post("/v1/cases/" + a + "/transfer", R"({"unit":"zz-transit"})", s.own["agent"]).status == 200);
  got = s.get("/v1/cases/" + a, s.own["agent"]);
  CHECK(deadline(got, "reply_by").at("due").as_string() == "2027-02-16");
  CHECK(deadline(got, "reply_by").at("provisional").as_bool());
  CHECK(deadline(got, "return_by").at("due").as_string() == "2027-01-05");
  CHECK(deadline(got, "return_by").at("provisional").as_bool());
  CHECK_FALSE(deadline(s.get("/v1/cases/" + c, s.own["agent"]), "reply_by").at("provisional").as_bool());
  // The events, the queue and the deadline lists carry the same flag.
  const auto transfers = events_of(s, a, "transferred");
  REQUIRE(transfers.size() == 1);
  CHECK(transfers[0].at("data").at("reply_due_provisional").as_bool());
  CHECK(transfers[0].at("data").at("calendar").as_string() == provisional_version);
  const auto queue = s.get("/v1/queues/at_unit?center=410100", s.own["agent"]);
  REQUIRE(queue.status == 200);
  int flagged = 0;
  for (const auto& item : queue.json().at("items").as_array())
    if (item.at("case_id").as_string() == a.c_str()) flagged += item.at("provisional").as_bool() ? 1 : 0;
  CHECK(flagged == 1);
  const auto soon = s.get("/v1/sla/due-soon?within=60&center=410100", s.own["agent"]);
  REQUIRE(soon.status == 200);
  bool listed = false;
  for (const auto& item : soon.json().at("items").as_array())
    if (item.at("case_id").as_string() == a.c_str()) listed = item.at("provisional").as_bool();
  CHECK(listed);

  // The calendar, from the log: 2027 is the provisional year seeded at the first start.
  auto year = s.get("/v1/calendar/2027", s.own["agent"]);
  REQUIRE(year.status == 200);
  CHECK(year.json().at("status").as_string() == "provisional");
  const std::string seeded_text(year.json().at("text").as_string().c_str());

  SUBCASE("publication is refused, with nothing appended, for a non-admin or a malformed year") {
    auto r = put_calendar(s, "2027", notice_2027, s.own["supervisor"]);
    CHECK(r.status == 403);
    CHECK(r.header("content-type") == "application/problem+json");
    r = put_calendar(s, "2027", "year 2027 covered x\n2027-02-30 holiday 春节\n", s.own["admin"]);
    CHECK(r.status == 422);
    CHECK(r.json().at("detail").as_string().find("calendar line 2") != std::string::npos);
    CHECK(r.json().as_object().if_contains("field") == nullptr);
    r = put_calendar(s, "2028", notice_2027, s.own["admin"]);  // the lines are of another year
    CHECK(r.status == 422);
    CHECK(r.json().at("field").as_string() == "calendar");
    CHECK(r.json().at("detail").as_string() ==
          "invalid argument: calendar: the text must have exactly one `year 2028 covered "
          "<source>` line (or `provisional`)");
    r = put_calendar(s, "2027", notice_2027, s.own["admin"], "application/json");
    CHECK(r.status == 415);
    year = s.get("/v1/calendar/2027", s.own["agent"]);
    CHECK(year.json().at("status").as_string() == "provisional");
    CHECK(year.json().at("text").as_string() == seeded_text.c_str());
    CHECK(events_of(s, a, "deadline_revised").empty());
  }

  SUBCASE("the notice revises exactly the pending deadlines it changes, once, and a rebuild agrees") {
    set_clock(s, "2027-01-06T09:00:00+08:00");
    auto r = put_calendar(s, "2027", notice_2027, s.own["admin"]);
    REQUIRE(r.status == 201);
    CHECK(r.json().at("status").as_string() == "official");
    const std::string official_version(r.json().at("calendar").as_string().c_str());
    CHECK(official_version != provisional_version);
    REQUIRE(eventually([&] { return !events_of(s, a, "deadline_revised").empty(); }));
    const auto revised = events_of(s, a, "deadline_revised");
    // The return window (due 01-05) had passed: it stays. The reply moves to 02-18.
    REQUIRE(revised.size() == 1);
    CHECK(revised[0].at("data").at("kind").as_string() == "reply");
    CHECK(revised[0].at("data").at("previous_due").as_string() == "2027-02-16");
    CHECK(revised[0].at("data").at("due").as_string() == "2027-02-18");
    CHECK_FALSE(revised[0].at("data").at("provisional").as_bool());
    CHECK(revised[0].at("data").at("calendar").as_string() == official_version);
    CHECK(revised[0].at("actor").at("user").as_string() == "caseline-calendar");
    got = s.get("/v1/cases/" + a, s.own["agent"]);
    CHECK(deadline(got, "reply_by").at("due").as_string() == "2027-02-18");
    CHECK_FALSE(deadline(got, "reply_by").at("provisional").as_bool());
    CHECK(deadline(got, "return_by").at("due").as_string() == "2027-01-05");
    CHECK(deadline(got, "return_by").at("provisional").as_bool());
    CHECK(events_of(s, c, "deadline_revised").empty());  // the inquiry's deadline was official
    // The statutory reports count the reply deadline on its revised day (Art. 39-40).
    const auto due_on = [&](const char* day) {
      const auto rep = s.get(std::string("/v1/reports/period?from=") + day + "&to=" + day +
                                 "&center=410100",
                             s.own["analyst"]);
      return rep.status == 200 ? rep.json().at("totals").at("reply_due").as_int64() : -1;
    };
    REQUIRE(eventually([&] { return due_on("2027-02-18") == 1; }));
    CHECK(due_on("2027-02-16") == 0);
    year = s.get("/v1/calendar/2027", s.own["agent"]);
    CHECK(year.json().at("status").as_string() == "official");

    // The same lines again: nothing is appended, nothing revised.
    r = put_calendar(s, "2027", notice_2027, s.own["admin"]);
    CHECK(r.status == 200);
    CHECK_FALSE(r.json().at("changed").as_bool());
    CHECK(r.json().at("calendar").as_string() == official_version);

    // A restart (the sweep looks again) revises nothing more.
    s.restart();
    CHECK(events_of(s, a, "deadline_revised").size() == 1);

    // The log replayed into a fresh store gives the same rows, revised deadlines included.
    s.stack.reset();
    std::string output;
    CHECK(rebuild_verify(s, output) == 0);
    INFO(output);
    CHECK(output.find("verify: identical") != std::string::npos);
  }
}

TEST_CASE("a rule error names its rule and article, and is never 404") {
  test_server s;
  const std::string id = s.receive();
  const auto r = s.post("/v1/cases/" + id + "/transfer", R"({"unit":"zz-transit"})", s.own["agent"]);
  CHECK(r.status == 409);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(r.json().at("type").as_string() == "/problems/rule/not-classified");
  CHECK(r.json().at("article").as_string() == "Art. 27");
  // A transfer to a unit of another center breaks the rule whatever the state: 422.
  REQUIRE(s.post("/v1/cases/" + id + "/classify", R"({"category":"complaint","domain":"road_transport"})",
                 s.own["agent"]).status == 200);
  const auto other = s.post("/v1/cases/" + id + "/transfer", R"({"unit":"ly-transit"})", s.own["agent"]);
  CHECK(other.status == 422);
  CHECK(other.json().at("type").as_string() == "/problems/rule/unit-not-registered");
}

TEST_CASE("the manual clock survives a restart; no reminder is dated after it") {
  // The reminder task's timer out of reach: the clock's move itself starts its pass.
  test_server s([](tools::serve_options& o) { o.reminder_interval = std::chrono::hours(1); });
  set_clock(s, "2026-12-01T10:00:00+08:00");
  const std::string id = s.receive();  // transfer due 2026-12-04
  set_clock(s, "2026-12-07T10:00:00+08:00");
  REQUIRE(eventually([&] { return events_of(s, id, "reminded").size() == 1; }));
  // The reminder task's counters in /metrics: one written, none pending.
  const auto metrics = s.get("/metrics", s.own["admin"]);
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("caseline_reminders_total{outcome=\"written\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.body.find("caseline_reminders_total{outcome=\"failed\"} 0\n") != std::string::npos);
  CHECK(metrics.body.find("caseline_reminders_in_flight 0\n") != std::string::npos);
  CHECK(metrics.body.find("caseline_reminder_passes_total 0\n") == std::string::npos);
  s.restart();
  const auto clock = s.get("/v1/admin/clock", s.own["admin"]);
  REQUIRE(clock.status == 200);
  CHECK(clock.json().at("now").as_string() == "2026-12-07T10:00:00.000+08:00");
  CHECK(s.get("/v1/admin/clock", s.own["agent"]).status == 403);
  // A new case received now is dated by the restored clock, and reminders stay at or before it.
  const std::string later = s.receive();
  CHECK(later.find("-20261207-") != std::string::npos);
  for (const auto& e : events_of(s, id, "reminded"))
    CHECK(e.at("data").at("reminded_on").as_string() <= "2026-12-07");
}

TEST_CASE("from 1 October the server warns of a provisional next year, and stays ready") {
  test_server s;
  set_clock(s, "2026-09-30T10:00:00+08:00");
  auto ready = s.get("/readyz", "");
  REQUIRE(ready.status == 200);
  CHECK(ready.json().at("checks").at("calendar").as_string() == "ok");
  set_clock(s, "2026-12-01T10:00:00+08:00");
  ready = s.get("/readyz", "");
  REQUIRE(ready.status == 200);
  CHECK(ready.json().at("checks").at("calendar").as_string() == "provisional next year");
  const auto metrics = s.get("/metrics", s.own["admin"]);
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("caseline_calendar_official_days_left 30") != std::string::npos);
}
