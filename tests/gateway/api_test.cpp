// The routes of gateway/api.h against a real server: a case's whole life, lists, the status
// query, the calendar, the registry, the manual clock, masking, the access log and metrics.
#include "gateway/api.h"

#include <sys/resource.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "projections/access_log.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {
std::string str(const json::value& v, const char* k) { return v.at(k).as_string().c_str(); }
}  // namespace

TEST_CASE("a case goes through its whole life over the API, each answer the case with its new version") {
  test_server srv;
  const auto& own = srv.own;
  const auto id = srv.receive();
  auto c = srv.get("/v1/cases/" + id, own.at("agent"));
  REQUIRE(c.status == 200);
  CHECK(c.header("etag") == "\"1\"");
  CHECK(str(c.json(), "status") == "received");
  CHECK(str(c.json().at("deadlines").at("transfer_by"), "due") == "2025-09-30");  // Sun 28 Sep is a make-up working day

  auto r = srv.post("/v1/cases/" + id + "/classify",
                    R"({"category":"complaint","domain":"road_transport","topics":["bus"]})",
                    own.at("agent"));
  REQUIRE(r.status == 200);
  CHECK(r.json().at("version").as_int64() == 2);
  CHECK(r.header("etag") == "\"2\"");
  r = srv.post("/v1/cases/" + id + "/transfer", std::string(R"({"unit":")") + own_unit + "\"}",
               own.at("agent"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "transferred");
  r = srv.post("/v1/cases/" + id + "/extend", R"({"reason":"evidence","working_days":5,"explanation":"CCTV"})",
               own.at("unit_head"));
  REQUIRE(r.status == 200);
  CHECK(r.json().at("extension_days").as_int64() == 5);
  r = srv.post("/v1/cases/" + id + "/reply",
               R"({"facts":"f","process":"p","basis":"Art. 37","caller_reached":true})",
               own.at("unit"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "replied");
  // A complaint is archived only after its revisit (Art. 23, 38): 409 naming the article.
  r = srv.post("/v1/cases/" + id + "/archive", "", own.at("supervisor"));
  CHECK(r.status == 409);
  CHECK(str(r.json(), "article") == "Art. 23, 38");
  r = srv.post("/v1/cases/" + id + "/revisit",
               R"({"reached":true,"satisfaction":"satisfied","timeliness":"timely","further_handling":false,"notes":"ok"})",
               own.at("revisit_officer"));
  REQUIRE(r.status == 200);
  r = srv.post("/v1/cases/" + id + "/archive", "{}", own.at("supervisor"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "archived");
  CHECK(r.json().at("version").as_int64() == 7);

  auto ev = srv.get("/v1/cases/" + id + "/events", own.at("auditor"));
  REQUIRE(ev.status == 200);
  const auto& events = ev.json().at("events").as_array();
  REQUIRE(events.size() == 7);
  CHECK(str(events[0], "type") == "case_received");
  CHECK(str(events[6], "type") == "archived");
}

TEST_CASE("the intake commands: answer, not-accept (wire name already_in_proceedings), redirect, escalate, return, flag") {
  test_server srv;
  const auto& own = srv.own;
  auto id = srv.receive();
  auto r = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"Line 2 runs every 5 minutes."})", own.at("agent"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "answered");

  id = srv.receive();
  r = srv.post("/v1/cases/" + id + "/not-accept",
               R"({"reason":"already_in_proceedings","explanation":"Before the court."})", own.at("shift_lead"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "not_accepted_reason") == "already_in_proceedings");
  r = srv.post("/v1/cases/" + id + "/not-accept", R"({"reason":"handled_by_other_body","explanation":"x"})",
               own.at("agent"));
  CHECK(r.status == 422);  // core's name is not the wire name

  id = srv.receive();
  r = srv.post("/v1/cases/" + id + "/redirect", R"({"to":"rail","number":"12306"})", own.at("agent"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "redirected_to") == "rail");

  id = srv.receive();
  r = srv.post("/v1/cases/" + id + "/flag-major-urgent", R"({"reason":"bridge closed"})", own.at("agent"));
  REQUIRE(r.status == 200);
  CHECK(r.json().at("major_urgent").as_bool());
  r = srv.post("/v1/cases/" + id + "/classify", R"({"category":"inquiry","domain":"highway"})", own.at("agent"));
  REQUIRE(r.status == 200);
  r = srv.post("/v1/cases/" + id + "/escalate", R"({"to":"upper_center","reason":"cross_region"})",
               own.at("supervisor"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "owner_center") == "410000");

  id = srv.transferred();
  r = srv.post("/v1/cases/" + id + "/return", R"({"reasons":"not ours"})", own.at("unit"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "returned");
  // The unit no longer sees a case it returned, nor its history.
  CHECK(srv.get("/v1/cases/" + id, own.at("unit")).status == 404);
  CHECK(srv.get("/v1/cases/" + id + "/events", own.at("unit")).status == 404);
}

TEST_CASE("Art. 32 — a late return is refused to the unit and accepted by a shift lead with a reason") {
  test_server srv;
  const auto& own = srv.own;
  const auto set_clock = [&](const char* now) {
    REQUIRE(srv.post("/v1/admin/clock", std::string(R"({"now":")") + now + "\"}", own.at("admin"))
                .status == 200);
  };
  // Transferred Friday 26 September 2025: Sunday the 28th is a make-up working day, so the
  // window runs through Monday the 29th.
  const auto in_time = srv.transferred();
  const auto late = srv.transferred();
  auto c = srv.get("/v1/cases/" + late, own.at("agent")).json();
  const auto& window = c.at("deadlines").at("return_by");
  CHECK(str(window, "due") == "2025-09-29");
  CHECK(str(window, "state") == "pending");
  CHECK(window.at("met_on").is_null());
  const std::string reply_due = str(c.at("deadlines").at("reply_by"), "due");

  auto r = srv.post("/v1/cases/" + in_time + "/return", R"({"reasons":"not ours"})", own.at("unit"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json().at("deadlines").at("return_by"), "state") == "met");
  CHECK(str(r.json().at("deadlines").at("return_by"), "met_on") == "2025-09-26");

  set_clock("2025-09-30T10:00:00+08:00");
  const auto closed = srv.get("/v1/cases/" + late, own.at("agent")).json();
  CHECK(str(closed.at("deadlines").at("return_by"), "state") == "closed");
  const struct {
    const char* what;
    const char* route;
    const char* body;
    std::string token;
    int status;
    const char* type;
  } rows[] = {
      {"the unit, after its window", "/return", R"({"reasons":"not ours"})", own.at("unit"), 409,
       "/problems/rule/return-window-passed"},
      {"an agent", "/accept-late-return", R"({"reason":"r"})", own.at("agent"), 403,
       "/problems/forbidden"},
      {"the unit itself", "/accept-late-return", R"({"reason":"r"})", own.at("unit"), 403,
       "/problems/forbidden"},
      {"a shift lead without a reason", "/accept-late-return", R"({"unit_reasons":"x"})",
       own.at("shift_lead"), 422, "/problems/invalid-field"},
      {"a shift lead accepting a return on time", "/accept-late-return", R"({"reason":"r"})",
       own.at("shift_lead"), 409, "/problems/rule/return-window-open"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    const std::string id = std::string_view(row.route) == "/accept-late-return" &&
                                   std::string_view(row.type).ends_with("window-open")
                               ? srv.transferred()
                               : late;
    r = srv.post("/v1/cases/" + id + row.route, row.body, row.token);
    CAPTURE(r.body);
    CHECK(r.status == row.status);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(str(r.json(), "type") == row.type);
    if (row.status == 409) CHECK(str(r.json(), "article") == "Art. 32");
  }
  CHECK(srv.get("/v1/cases/" + late, own.at("agent")).json().at("status") == "transferred");

  r = srv.post("/v1/cases/" + late + "/accept-late-return",
               R"({"reason":"the unit was closed for the holiday","unit_reasons":"not ours"})",
               own.at("shift_lead"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "returned");
  CHECK(str(r.json().at("deadlines").at("return_by"), "state") == "missed");
  CHECK(str(r.json().at("deadlines").at("return_by"), "met_on") == "2025-09-30");
  auto ev = srv.get("/v1/cases/" + late + "/events", own.at("auditor")).json().at("events").as_array();
  // The return is recorded as accepted late, by the shift lead: the event's actor.
  const auto& returned = ev.back();
  CHECK(str(returned, "type") == "returned");
  CHECK(returned.at("version").as_int64() == 2);
  CHECK(str(returned.at("actor"), "role") == "shift_lead");
  CHECK(str(returned.at("data"), "unit") == own_unit);
  CHECK(returned.at("data").at("late").as_bool());
  CHECK(str(returned.at("data"), "reasons") == "not ours");
  CHECK(str(returned.at("data"), "accepted_late_reason") == "the unit was closed for the holiday");

  // Back to the same unit: its reply deadline still counts from the first transfer.
  r = srv.post("/v1/cases/" + late + "/transfer", std::string(R"({"unit":")") + own_unit + "\"}",
               own.at("agent"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json().at("deadlines").at("reply_by"), "due") == reply_due);
  CHECK(str(r.json().at("deadlines").at("return_by"), "state") == "pending");
  ev = srv.get("/v1/cases/" + late + "/events", own.at("auditor")).json().at("events").as_array();
  CHECK(str(ev.back().at("data"), "reply_from") == "2025-09-26");

  // The monthly report shows the unit's returns, late ones apart.
  const auto report = [&] {
    return srv.get("/v1/reports/monthly/2025-09?center=410100", own.at("analyst"));
  };
  REQUIRE(eventually([&] {
    const auto units = report().json().at("units").as_array();
    return units.size() == 1 && units[0].at("returns").as_int64() == 2;
  }));
  const auto unit_row = report().json().at("units").as_array().at(0);
  CHECK(str(unit_row, "unit") == own_unit);
  CHECK(unit_row.at("late_returns").as_int64() == 1);
}

TEST_CASE("Art. 34 — the unit's head extends, or approves the unit's request; the approver is the token") {
  test_server srv;
  const auto& own = srv.own;
  const std::string body = R"({"reason":"appraisal","working_days":5,"explanation":"expert needed"})";
  // A client that still names the approver is told the approver is whoever acts.
  auto id = srv.transferred();
  auto r = srv.post("/v1/cases/" + id + "/extend",
                    R"({"reason":"complex","working_days":3,"approved_by":"head","explanation":"e"})",
                    own.at("unit_head"));
  CHECK(r.status == 422);
  CHECK(str(r.json(), "field") == "approved_by");

  const struct {
    const char* what;
    const char* route;
    std::string token;
    bool requested_first;
    int status;
    const char* type;
  } rows[] = {
      {"the head extends", "/extend", own.at("unit_head"), false, 200, ""},
      {"the head approves a request", "/extension/approve", own.at("unit_head"), true, 200, ""},
      {"the staff approve their own request", "/extension/approve", own.at("unit"), true, 403,
       "/problems/forbidden"},
      {"a supervisor approves", "/extension/approve", own.at("supervisor"), true, 403,
       "/problems/forbidden"},
      {"another unit's head", "/extension/approve", srv.other.at("unit_head"), true, 404,
       "/problems/case-not-found"},
      {"the head approves what nobody asked", "/extension/approve", own.at("unit_head"), false, 409,
       "/problems/rule/no-extension-request"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    id = srv.transferred();
    const std::string due = str(srv.get("/v1/cases/" + id, own.at("agent")).json().at("deadlines").at("reply_by"), "due");
    if (row.requested_first) {
      r = srv.post("/v1/cases/" + id + "/extend", body, own.at("unit"));
      REQUIRE(r.status == 200);
      // A request changes no deadline until the head approves it.
      CHECK(r.json().at("extension_days").as_int64() == 0);
      CHECK(str(r.json().at("deadlines").at("reply_by"), "due") == due);
      CHECK(str(r.json().at("extension_request"), "reason") == "appraisal");
      CHECK(r.json().at("extension_request").at("working_days").as_int64() == 5);
    }
    r = srv.post("/v1/cases/" + id + row.route, std::string_view(row.route) == "/extend" ? body : "",
                 row.token);
    CAPTURE(r.body);
    REQUIRE(r.status == row.status);
    if (row.status != 200) {
      CHECK(str(r.json(), "type") == row.type);
      if (row.status == 409) CHECK(str(r.json(), "article") == "Art. 34");
      continue;
    }
    CHECK(r.json().at("extension_days").as_int64() == 5);
    CHECK(r.json().at("extension_request").is_null());
    CHECK(str(r.json().at("deadlines").at("reply_by"), "due") != due);
    const auto events = srv.get("/v1/cases/" + id + "/events", own.at("auditor")).json().at("events").as_array();
    const auto& ext = events.back();
    CHECK(str(ext, "type") == "extended");
    CHECK(ext.at("version").as_int64() == 4);
    CHECK(str(ext.at("actor"), "role") == "unit_head");
    // The approver is the head's token, as the actor: never a text a client gave.
    CHECK(str(ext.at("data"), "approved_by") == str(ext.at("actor"), "user"));
    CHECK(str(ext.at("data"), "approved_by").starts_with("token:"));
    if (row.requested_first) {
      const auto& req = events[events.size() - 2];
      CHECK(str(req, "type") == "extension_requested");
      CHECK(str(req.at("actor"), "role") == "unit_staff");
      CHECK(str(req.at("data"), "explanation") == "expert needed");
      CHECK(str(ext.at("data"), "requested_by") == str(req.at("actor"), "user"));
    }
  }
}

TEST_CASE("a rule of core that misses a field names it in the problem, as the detail does") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  const auto check_field = [](const gwtest::reply& r, const std::string& field,
                              const std::string& detail) {
    CHECK(r.status == 422);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(str(r.json(), "type") == "/problems/invalid-field");
    CHECK(str(r.json(), "detail") == detail);
    if (field.empty())
      CHECK(r.json().as_object().if_contains("field") == nullptr);
    else
      CHECK(str(r.json(), "field") == field);
  };
  const auto id = srv.receive();
  // Blank text passes the body's length check and is refused by core's rule.
  check_field(srv.post("/v1/cases/" + id + "/answer", R"({"answer":" "})", agent), "answer",
              "invalid argument: answer");
  check_field(srv.post("/v1/cases/" + id + "/redirect", R"({"to":"rail","number":" "})", agent),
              "number_given",
              "invalid argument: number_given: the caller is told the number (Art. 29)");
  REQUIRE(srv.post("/v1/cases/" + id + "/answer", R"({"answer":"Tomorrow."})", agent).status ==
          200);
  check_field(srv.post("/v1/cases/" + id + "/revisit",
                       R"({"reached":true,"satisfaction":"satisfied","further_handling":true})",
                       srv.own.at("revisit_officer")),
              "further_handling",
              "invalid argument: further_handling: a matter answered at once has no unit to "
              "reopen it for; record the caller's new request as a new matter (Art. 23)");
  const auto with_unit = srv.transferred();
  check_field(srv.post("/v1/cases/" + with_unit + "/extend",
                       R"({"reason":"complex","working_days":2,"explanation":" "})",
                       srv.own.at("unit_head")),
              "explanation", "invalid argument: explanation: the caller is told why (Art. 34)");
  // A rule whose problem has never named a field.
  check_field(
      srv.post("/v1/cases/" + with_unit + "/return", R"({"reasons":" "})", srv.own.at("unit")), "",
      "invalid argument: reasons (Art. 32)");
}

TEST_CASE("the case list checks its limit like the other lists") {
  test_server srv;
  for (const char* bad : {"0", "201", "x", "-1", "1000"}) {
    CAPTURE(bad);
    const auto r = srv.get(std::string("/v1/cases?limit=") + bad, srv.own.at("agent"));
    CHECK(r.status == 422);
    CHECK(str(r.json(), "field") == "limit");
    CHECK(str(r.json(), "detail") == "invalid argument: limit: from 1 to 200");
  }
  CHECK(srv.get("/v1/cases?limit=200", srv.own.at("agent")).status == 200);
}

TEST_CASE("bodies are validated field by field: unknown fields, wrong types, enums, lengths") {
  test_server srv;
  const auto id = srv.receive();
  const auto& agent = srv.own.at("agent");
  auto r = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"x","extra":1})", agent);
  CHECK(r.status == 422);
  CHECK(str(r.json(), "field") == "extra");
  r = srv.post("/v1/cases/" + id + "/classify", R"({"category":"praise","domain":"highway"})", agent);
  CHECK(r.status == 422);
  CHECK(str(r.json(), "field") == "category");
  r = srv.post("/v1/cases/" + id + "/answer", R"({"answer":)" + std::string("\"") + std::string(4001, 'a') + "\"}", agent);
  CHECK(r.status == 422);
  r = srv.post("/v1/cases/" + id + "/answer", R"({"answer":1})", agent);
  CHECK(r.status == 422);
  r = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"x")", agent);
  CHECK(r.status == 400);
  r = request(srv.port, "POST", "/v1/cases/" + id + "/answer", R"({"answer":"x"})",
              {{"Authorization", "Bearer " + agent}, {"Content-Type", "text/plain"}});
  CHECK(r.status == 415);
  // Nothing was appended by the refused requests.
  CHECK(srv.get("/v1/cases/" + id, agent).json().at("version").as_int64() == 1);
}

TEST_CASE("GET /v1/cases lists from the index with filters and cursor paging, within the token's scope") {
  test_server srv;
  std::vector<std::string> mine;
  mine.reserve(5);
  for (int i = 0; i < 5; ++i) mine.push_back(srv.receive());
  const auto foreign = srv.receive(false);
  const auto moved = srv.transferred();
  mine.push_back(moved);

  const auto& agent = srv.own.at("agent");
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = srv.get("/v1/cases?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), agent);
    REQUIRE(r.status == 200);
    for (const auto& it : r.json().at("items").as_array()) {
      seen.push_back(str(it, "id"));
      CHECK_FALSE(it.as_object().contains("caller"));  // no personal data in lists
    }
    const auto& next = r.json().at("next_cursor");
    cursor = next.is_null() ? "" : next.as_string().c_str();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  CHECK(pages >= 3);
  std::sort(seen.begin(), seen.end());
  auto expected = mine;
  std::sort(expected.begin(), expected.end());
  CHECK(seen == expected);

  auto r = srv.get("/v1/cases?status=transferred", agent);
  REQUIRE(r.json().at("items").as_array().size() == 1);
  CHECK(str(r.json().at("items").as_array()[0], "id") == moved);
  r = srv.get(std::string("/v1/cases?unit=") + own_unit + "&category=complaint&domain=road_transport", agent);
  CHECK(r.json().at("items").as_array().size() == 1);
  r = srv.get("/v1/cases?received_from=2025-09-27", agent);
  CHECK(r.json().at("items").as_array().empty());
  r = srv.get("/v1/cases?received_from=2025-09-26&received_to=2025-09-26", agent);
  CHECK(r.json().at("items").as_array().size() == mine.size());
  // Another center's filter gives nothing to a city token; the provincial center sees all.
  r = srv.get(std::string("/v1/cases?center=") + other_center, agent);
  CHECK(r.json().at("items").as_array().empty());
  r = srv.get(std::string("/v1/cases?center=") + other_center, srv.provincial.at("supervisor"));
  REQUIRE(r.json().at("items").as_array().size() == 1);
  CHECK(str(r.json().at("items").as_array()[0], "id") == foreign);
  // A unit lists only the cases transferred to it.
  r = srv.get("/v1/cases", srv.own.at("unit"));
  REQUIRE(r.json().at("items").as_array().size() == 1);
  CHECK(srv.get("/v1/cases?status=bogus", agent).status == 422);
  CHECK(srv.get("/v1/cases?cursor=zz", agent).status == 422);
  CHECK(srv.get("/v1/cases?color=red", agent).status == 422);
}

TEST_CASE("GET /v1/status needs no token, shows no personal data, and is identical for a wrong id and a wrong phone") {
  test_server srv;
  const auto id = srv.receive(true, "13800005678");
  auto ok = request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=5678");
  REQUIRE(ok.status == 200);
  CHECK(str(ok.json(), "status") == "received");
  CHECK(ok.body.find("13800005678") == std::string::npos);
  CHECK(ok.body.find("张三") == std::string::npos);
  auto wrong_phone = request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=0000");
  const std::string missing = id.substr(0, id.size() - 1) + "9";
  auto wrong_id = request(srv.port, "GET", "/v1/status/" + missing + "?phone_last4=5678");
  CHECK(wrong_phone.status == 404);
  CHECK(wrong_id.status == 404);
  // Same bytes but for the id echoed in `detail`/`instance`.
  auto strip = [](std::string body, const std::string& s) {
    for (auto p = body.find(s); p != std::string::npos; p = body.find(s)) body.replace(p, s.size(), "ID");
    return body;
  };
  CHECK(strip(wrong_phone.body, id) == strip(wrong_id.body, missing));
}

TEST_CASE("GET /v1/status is rate-limited per client address") {
  test_server srv([](tools::serve_options& o) { o.status_rate = {0.001, 3}; });
  const auto id = srv.receive();
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=1234");
    if (r.status == 429) {
      ++limited;
      CHECK_FALSE(r.header("retry-after").empty());
    }
  }
  CHECK(limited == 3);
}

TEST_CASE("the calendar, the centers and the units registry") {
  test_server srv;
  const auto& t = srv.own.at("analyst");
  auto cal = srv.get("/v1/calendar/2025", t);
  REQUIRE(cal.status == 200);
  const auto& days = cal.json().at("days").as_array();
  CHECK(days.size() == 365);
  CHECK(str(days[0], "kind") == "holiday");
  // A year without data is still answered, from the weekdays, and says so.
  auto old = srv.get("/v1/calendar/1999", t);
  REQUIRE(old.status == 200);
  CHECK(str(old.json(), "status") == "weekends_only");
  CHECK(str(cal.json(), "status") == "official");
  CHECK(srv.get("/v1/calendar/20x5", t).status == 422);

  auto centers = srv.get("/v1/centers", t);
  REQUIRE(centers.status == 200);
  bool found = false;
  for (const auto& c : centers.json().at("centers").as_array())
    if (str(c, "code") == own_center) found = c.at("units").as_array().size() == 1;
  CHECK(found);

  auto u = srv.get(std::string("/v1/units/") + own_unit, t);
  REQUIRE(u.status == 200);
  CHECK(str(u.json().at("contact"), "mobile") == "13700000000");
  CHECK(srv.get("/v1/units/nope", t).status == 404);
  // A supervisor keeps the own center's units, not another's; a registration is checked.
  auto put = request(srv.port, "PUT", "/v1/units/zz-2",
                     R"({"name":"ZZ 2","center":"410100","contact":{"name":"Li","mobile":"13600000000"}})",
                     test_server::auth(srv.own.at("supervisor")));
  CHECK(put.status == 200);
  put = request(srv.port, "PUT", "/v1/units/ly-2",
                R"({"name":"LY 2","center":"410300","contact":{"name":"Li","mobile":"13600000000"}})",
                test_server::auth(srv.own.at("supervisor")));
  CHECK(put.status == 403);
  put = request(srv.port, "PUT", "/v1/units/x-9",
                R"({"name":"X","center":"999999","contact":{"name":"Li","mobile":"13600000000"}})",
                test_server::auth(srv.own.at("admin")));
  CHECK(put.status == 422);  // an unknown center breaks Art. 5 whatever the state
  // Registry changes are events of the log: they survive a restart and drive decisions.
  srv.restart();
  CHECK(srv.get("/v1/units/zz-2", t).status == 200);
  const auto id = srv.receive();
  REQUIRE(srv.post("/v1/cases/" + id + "/classify", R"({"category":"inquiry","domain":"highway"})",
                   srv.own.at("agent")).status == 200);
  CHECK(srv.post("/v1/cases/" + id + "/transfer", R"({"unit":"zz-2"})", srv.own.at("agent")).status == 200);
}

TEST_CASE("the manual clock moves deadlines; without --clock manual its route does not exist") {
  test_server srv;
  const auto id = srv.receive();
  auto r = srv.post("/v1/admin/clock", R"({"now":"2025-10-20T10:00:00+08:00"})", srv.own.at("admin"));
  REQUIRE(r.status == 200);
  auto c = srv.get("/v1/cases/" + id, srv.own.at("agent"));
  CHECK(str(c.json().at("deadlines").at("transfer_by"), "state") == "missed");
  CHECK(srv.post("/v1/admin/clock", R"({"now":"2025-10-20T10:00:00+08:00"})", srv.own.at("supervisor")).status == 403);

  test_server sys([](tools::serve_options& o) { o.clock = "system"; });
  CHECK(sys.post("/v1/admin/clock", R"({"now":"2025-10-20T10:00:00+08:00"})", sys.own.at("admin")).status == 404);
  CHECK(request(sys.port, "POST", "/v1/admin/clock", "{}").status == 404);
}

TEST_CASE("phone numbers are masked for roles that do not need them, in the case and its history") {
  test_server srv;
  const auto id = srv.receive(true, "13800000000");
  auto full = srv.get("/v1/cases/" + id, srv.own.at("agent"));
  CHECK(str(full.json().at("caller"), "phone") == "13800000000");
  for (const char* role : {"quality_inspector", "auditor"}) {
    CAPTURE(role);
    auto c = srv.get("/v1/cases/" + id, srv.own.at(role));
    REQUIRE(c.status == 200);
    CHECK(str(c.json().at("caller"), "phone") == "138****0000");
    auto e = srv.get("/v1/cases/" + id + "/events", srv.own.at(role));
    CAPTURE(e.body);
    CHECK(e.body.find("13800000000") == std::string::npos);
    CHECK(e.body.find("138****0000") != std::string::npos);
  }
}

TEST_CASE("every read of a case has its access entry when its answer arrives, reads in parallel") {
  test_server srv;
  const std::string id = srv.receive();
  // Reads answered on the I/O threads have their entries written together, one write behind
  // the requests a loop has ready (projections::access_gatherer): each answer still waits for
  // its own entry.
  constexpr int clients = 8;
  constexpr int per_client = 20;
  std::atomic<int> answered{0};
  std::atomic<int> unrecorded{0};
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; i < per_client; ++i) {
        const auto r =
            srv.get("/v1/cases/" + id + ((c + i) % 2 == 0 ? "" : "/events"), srv.own.at("agent"));
        if (r.status != 200) continue;
        ++answered;
        // Read as the answer arrives: the entry must already be in the store.
        const auto correlation = r.header("x-correlation-id");
        auto entries = projections::access_log(srv.stack->store()).of_case(id);
        bool recorded = false;
        if (entries)
          for (const auto& e : entries.value())
            recorded = recorded || e.correlation_id == correlation;
        if (!recorded) ++unrecorded;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(answered.load() == clients * per_client);
  CHECK(unrecorded.load() == 0);
}

TEST_CASE("every read of personal data is recorded: who, when, which case") {
  std::string id;
  {
    test_server srv;
    id = srv.receive();
    REQUIRE(srv.get("/v1/cases/" + id, srv.own.at("quality_inspector")).status == 200);
    REQUIRE(srv.get("/v1/cases/" + id + "/events", srv.own.at("auditor")).status == 200);
    srv.stack.reset();
    auto s = projections::store::open((srv.dir.path() / "store").string());
    REQUIRE(s);
    auto entries = projections::access_log(*s.value()).of_case(id);
    REQUIRE(entries);
    std::vector<std::string> roles;
    for (const auto& e : entries.value()) {
      roles.push_back(e.role);
      CHECK_FALSE(e.token_id.empty());
      CHECK(e.at.ms > 0);
    }
    // The agent saw it when receiving it (the answer is the case), then the two reads.
    CHECK(roles == std::vector<std::string>{"agent", "quality_inspector", "auditor"});
  }
}

TEST_CASE("/metrics, /openapi.json, /healthz and /readyz") {
  test_server srv;
  srv.receive();
  auto m = srv.get("/metrics", srv.own.at("analyst"));
  REQUIRE(m.status == 200);
  CHECK(m.body.find(R"(caseline_http_requests_total{route="/v1/cases",method="POST",status="201"} 1)") != std::string::npos);
  CHECK(m.body.find("caseline_http_request_duration_seconds_bucket{route=\"/v1/cases\"") != std::string::npos);
  CHECK(m.body.find("caseline_append_duration_seconds_count{outcome=\"ok\"}") != std::string::npos);
  CHECK(m.body.find("caseline_projection_lag_records{projection=\"cases\"}") != std::string::npos);
  CHECK(m.body.find("13800001234") == std::string::npos);
  CHECK(request(srv.port, "GET", "/metrics").status == 401);
  auto doc = request(srv.port, "GET", "/openapi.json");
  REQUIRE(doc.status == 200);
  CHECK(str(doc.json(), "openapi") == "3.1.0");
  CHECK(request(srv.port, "GET", "/healthz").status == 200);
  CHECK(request(srv.port, "GET", "/readyz").status == 200);
}

namespace {

// The value of an unlabelled sample in the text exposition format; nullopt when it is missing.
std::optional<double> sample(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + name.size() + 2));
}

double cpu_seconds_of_this_process() {
  rusage u{};
  REQUIRE(getrusage(RUSAGE_SELF, &u) == 0);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

TEST_CASE("/metrics holds the standard process metrics of the server's process") {
  test_server srv;  // the server runs in this process: its figures are this process's
  const auto scrape = [&] {
    auto m = srv.get("/metrics", srv.own.at("analyst"));
    REQUIRE(m.status == 200);
    return m.body;
  };
  const std::string first = scrape();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_start_time_seconds",
                           "process_open_fds", "process_max_fds"}) {
    INFO(name);
    CHECK(sample(first, name).has_value());
  }
  CHECK(first.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
  CHECK(first.find("# TYPE caseline_log_lines_dropped_total counter\n") != std::string::npos);
  CHECK(first.find("# TYPE process_resident_memory_bytes gauge\n") != std::string::npos);

  const double cpu = sample(first, "process_cpu_seconds_total").value_or(-1);
  CHECK(cpu > 0);
  CHECK(std::abs(cpu - cpu_seconds_of_this_process()) < 0.5);  // the kernel's own account
  const double rss = sample(first, "process_resident_memory_bytes").value_or(0);
  rusage u{};
  REQUIRE(getrusage(RUSAGE_SELF, &u) == 0);
  CHECK(rss > 4 * 1024 * 1024);
  CHECK(rss <= static_cast<double>(u.ru_maxrss) * 1024 + 1024 * 1024);  // ru_maxrss is in KiB
  CHECK(sample(first, "process_virtual_memory_bytes").value_or(0) >= rss);
  const double wall =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double started = sample(first, "process_start_time_seconds").value_or(0);
  CHECK(started <= wall + 1);
  CHECK(started > wall - 24 * 3600);  // a test process started less than a day ago
  const double fds = sample(first, "process_open_fds").value_or(0);
  CHECK(fds >= 3);
  CHECK(fds <= sample(first, "process_max_fds").value_or(0));

  // CPU time is a counter: it grows while the server works, never goes back.
  double later = cpu;
  CHECK(eventually([&] {
    srv.receive();
    later = sample(scrape(), "process_cpu_seconds_total").value_or(-1);
    return later > cpu;
  }));
  CHECK(later > cpu);

  // The projections take the embedded log's records as it wrote them: while they keep up,
  // nothing more is read back from the log's database.
  CHECK(first.find("# TYPE caseline_log_records_read_back_total counter\n") != std::string::npos);
  const auto read_back = sample(scrape(), "caseline_log_records_read_back_total");
  REQUIRE(read_back.has_value());
  const auto groups = sample(scrape(), "caseline_log_group_commits_total");
  REQUIRE(groups.has_value());
  for (int i = 0; i < 5; ++i) srv.receive();
  CHECK(sample(scrape(), "caseline_log_records_read_back_total") == read_back);
  // One case at a time: a group commit each, and none lingered for more.
  CHECK(sample(scrape(), "caseline_log_group_commits_total").value_or(0) >= *groups + 5);
  CHECK(sample(scrape(), "caseline_log_commit_lingers_total") == 0.0);

  // On the embedded log a new case's key is journaled with its record: the key store syncs the
  // journaled keys later, many at once, and writes none of those cases' keys with a sync of its
  // own.
  CHECK(eventually([&] {
    return sample(scrape(), R"(caseline_key_store_syncs_total{of="journaled_keys"})").value_or(0) >=
           1;
  }));
  const auto own_syncs = sample(scrape(), R"(caseline_key_store_syncs_total{of="new_keys"})");
  REQUIRE(own_syncs.has_value());
  for (int i = 0; i < 5; ++i) srv.receive();
  CHECK(sample(scrape(), R"(caseline_key_store_syncs_total{of="new_keys"})") == own_syncs);
  CHECK(sample(scrape(), "caseline_key_store_commit_lingers_total") == 0.0);
}

TEST_CASE("bearer tokens are created, listed and revoked while the server runs; revoked and expired ones answer 401") {
  test_server srv;
  const auto admin = srv.own.at("admin");
  // One hour after the manual clock (2025-09-26T10:00+08:00).
  const auto made = srv.post(
      "/v1/admin/tokens",
      R"({"role":"agent","center":"410100","expires":"2025-09-26T11:00:00+08:00"})", admin);
  REQUIRE(made.status == 201);
  const auto created = json::parse(made.body);
  const std::string secret = str(created, "token");
  const std::string id = str(created, "id");
  CHECK(secret.starts_with("clt_"));
  CHECK(srv.get("/v1/cases", secret).status == 200);

  const auto list = srv.get("/v1/admin/tokens", admin);
  REQUIRE(list.status == 200);
  CHECK(list.body.find(id) != std::string::npos);
  CHECK(list.body.find("clt_") == std::string::npos);  // secrets are never listed
  CHECK(srv.get("/v1/admin/tokens", srv.own.at("supervisor")).status == 403);

  SUBCASE("expired: 401 once the clock reaches the expiry") {
    REQUIRE(srv.post("/v1/admin/clock", R"({"now":"2025-09-26T10:59:59+08:00"})", admin).status ==
            200);
    CHECK(srv.get("/v1/cases", secret).status == 200);
    REQUIRE(srv.post("/v1/admin/clock", R"({"now":"2025-09-26T11:00:00+08:00"})", admin).status ==
            200);
    const auto r = srv.get("/v1/cases", secret);
    CHECK(r.status == 401);
    CHECK(r.body.find("expired") != std::string::npos);
    const auto listed = json::parse(srv.get("/v1/admin/tokens", admin).body);
    bool marked = false;
    for (const auto& t : listed.at("tokens").as_array())
      if (str(t, "id") == id) marked = t.at("expired").as_bool();
    CHECK(marked);
  }
  SUBCASE("revoked: 401 from the next request on; a second revocation is 404") {
    CHECK(request(srv.port, "DELETE", "/v1/admin/tokens/" + id, {}, test_server::auth(admin))
              .status == 204);
    CHECK(srv.get("/v1/cases", secret).status == 401);
    CHECK(request(srv.port, "DELETE", "/v1/admin/tokens/" + id, {}, test_server::auth(admin))
              .status == 404);
    CHECK(srv.get("/v1/admin/tokens", admin).body.find(id) == std::string::npos);
  }
  SUBCASE("the order is checked as by caseline token create") {
    CHECK(srv.post("/v1/admin/tokens", R"({"role":"pilot","center":"410100"})", admin).status ==
          422);
    CHECK(srv.post("/v1/admin/tokens", R"({"role":"agent","center":"999999"})", admin).status ==
          422);
    CHECK(srv.post("/v1/admin/tokens",
                   R"({"role":"agent","center":"410100","expires":"2025-09-26T09:00:00+08:00"})",
                   admin)
              .status == 422);
  }
}

TEST_CASE("Art. 40(4) — a matter is flagged major-urgent at any open step, also with the unit") {
  test_server srv;
  const auto& own = srv.own;
  const std::string reply = R"({"facts":"f","process":"p","basis":"b","caller_reached":true})";
  const struct {
    const char* name;
    std::function<std::string()> make;
    int status;
  } rows[] = {
      {"received", [&] { return srv.receive(); }, 200},
      {"with the unit", [&] { return srv.transferred(); }, 200},
      {"returned by the unit",
       [&] {
         auto id = srv.transferred();
         REQUIRE(srv.post("/v1/cases/" + id + "/return", R"({"reasons":"not ours"})", own.at("unit"))
                     .status == 200);
         return id;
       },
       200},
      {"replied (closed)",
       [&] {
         auto id = srv.transferred();
         REQUIRE(srv.post("/v1/cases/" + id + "/reply", reply, own.at("unit")).status == 200);
         return id;
       },
       409},
  };
  std::size_t flagged = 0;
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto id = row.make();
    auto r = srv.post("/v1/cases/" + id + "/flag-major-urgent", R"({"reason":"bridge closed"})",
                      own.at("agent"));
    CHECK(r.status == row.status);
    if (row.status == 200) {
      ++flagged;
      CHECK(r.json().at("major_urgent").as_bool());
    } else {
      CHECK(r.header("content-type") == "application/problem+json");
      CHECK(str(r.json(), "type").ends_with("/problems/rule/flag-too-late"));
      CHECK(str(r.json(), "detail").find("Art. 40") != std::string::npos);
    }
  }
  // The day's special report lists each flagged matter the same day.
  auto u = srv.get("/v1/reports/urgent/2025-09-26", srv.own.at("analyst"));
  REQUIRE(u.status == 200);
  CHECK(u.json().at("major_urgent").as_array().size() == flagged);
}

TEST_CASE("Art. 27 — a matter's deadlines count from when it was received, named by occurred_at") {
  test_server srv;  // the clock: Fri 2025-09-26 10:00 Shanghai
  const auto& agent = srv.own.at("agent");
  const auto body = [](const std::string& occurred) {
    return R"({"channel":"website","center":"410100","caller":{"phone":"13800001234"},"content":"A message.","occurred_at":")" +
           occurred + "\"}";
  };
  const struct {
    const char* occurred;
    int status;
    const char* received_on;
    const char* transfer_due;
  } rows[] = {
      {"2025-09-22T09:00:00+08:00", 201, "2025-09-22", "2025-09-25"},  // Monday: due Thursday
      {"2025-09-19T10:00:00+08:00", 201, "2025-09-19", "2025-09-24"},  // exactly 7 days back
      {"2025-09-19T09:59:59+08:00", 422, "", ""},                      // more than 7 days back
      {"2025-09-26T10:00:01+08:00", 422, "", ""},                      // in the future
  };
  for (const auto& r : rows) {
    CAPTURE(r.occurred);
    auto c = srv.post("/v1/cases", body(r.occurred), agent);
    REQUIRE(c.status == r.status);
    if (r.status != 201) {
      CHECK(c.header("content-type") == "application/problem+json");
      CHECK(str(c.json(), "type") == "/problems/rule/received-out-of-range");
      CHECK(str(c.json(), "article") == "Art. 27");
      continue;
    }
    CHECK(str(c.json(), "received_on") == r.received_on);
    CHECK(str(c.json().at("deadlines").at("transfer_by"), "due") == r.transfer_due);
    CHECK(str(c.json(), "recorded_at") == "2025-09-26T10:00:00.000+08:00");
    auto ev = srv.get("/v1/cases/" + str(c.json(), "id") + "/events", srv.own.at("auditor"));
    REQUIRE(ev.status == 200);
    const auto& first = ev.json().at("events").as_array().at(0);
    CHECK(str(first, "recorded_at") == "2025-09-26T10:00:00.000+08:00");
    CHECK(str(first, "occurred_at") == str(c.json(), "received_at"));
  }
}

TEST_CASE("Art. 22(4), 23 — agents archive their own work orders; the provincial revisit officer takes app, web and WeChat") {
  test_server srv;
  const auto receive = [&](const std::string& center, const std::string& channel,
                           const std::string& caller, const std::string& token) {
    return srv.post("/v1/cases",
                    R"({"channel":")" + channel + R"(","center":")" + center + R"(","caller":)" + caller +
                        R"(,"content":"Where is my refund?"})",
                    token);
  };
  const std::string wx = R"({"account":"wx-o6_bmjrPTlm6"})";
  // A way to answer the caller: phone for the phone channel, else a phone or the account.
  auto r = receive(own_center, "phone", wx, srv.own.at("agent"));
  CHECK(r.status == 422);
  CHECK(str(r.json(), "field") == "caller.phone");
  r = receive(own_center, "website", R"({"name":"Li"})", srv.own.at("agent"));
  CHECK(r.status == 422);
  CHECK(str(r.json(), "field") == "caller");
  // The provincial center's revisit officer receives, answers and archives a WeChat matter.
  r = receive("410000", "wechat", wx, srv.provincial.at("revisit_officer"));
  REQUIRE(r.status == 201);
  const auto online = str(r.json(), "id");
  CHECK(str(r.json().at("caller"), "account") == "wx-o6_bmjrPTlm6");
  CHECK(r.json().at("caller").at("phone").is_null());
  REQUIRE(srv.post("/v1/cases/" + online + "/answer", R"({"answer":"Tomorrow."})",
                   srv.provincial.at("revisit_officer")).status == 200);
  // Masked for those who do not need it, like the phone.
  auto seen = srv.get("/v1/cases/" + online, srv.provincial.at("quality_inspector"));
  REQUIRE(seen.status == 200);
  CHECK(str(seen.json().at("caller"), "account") == "wx-****Tlm6");
  CHECK(seen.body.find("wx-o6_bmjrPTlm6") == std::string::npos);
  srv.revisit_if_picked(online, srv.provincial.at("revisit_officer"));
  r = srv.post("/v1/cases/" + online + "/archive", "{}", srv.provincial.at("revisit_officer"));
  CHECK(r.status == 200);
  // Not a phone matter, and not a city center's revisit officer.
  r = receive("410000", "phone", R"({"phone":"13800001234"})", srv.provincial.at("revisit_officer"));
  CHECK(r.status == 409);
  CHECK(str(r.json(), "type") == "/problems/rule/not-permitted");
  CHECK(str(r.json(), "detail").find("(Art. 23)") != std::string::npos);
  // The article that gives the revisit officer the power, not the code's generic one.
  CHECK(str(r.json(), "article") == "Art. 23");
  CHECK(receive(own_center, "wechat", wx, srv.own.at("revisit_officer")).status == 409);

  // An agent archives the work orders that agent handled, not another agent's.
  const auto mine = srv.receive();
  REQUIRE(srv.post("/v1/cases/" + mine + "/answer", R"({"answer":"8:00."})", srv.own.at("agent")).status == 200);
  const auto colleague = srv.token("agent", own_center, "");
  r = srv.post("/v1/cases/" + mine + "/archive", "{}", colleague);
  CHECK(r.status == 409);
  CHECK(str(r.json(), "detail").find("(Art. 22(4))") != std::string::npos);
  srv.revisit_if_picked(mine, srv.own.at("supervisor"));
  r = srv.post("/v1/cases/" + mine + "/archive", "{}", srv.own.at("agent"));
  CHECK(r.status == 200);
  CHECK(str(r.json(), "status") == "archived");
}

TEST_CASE("Art. 23, 46 — at least 30% of closed non-complaint matters are revisited, matters answered at once included, and the case shows its pick") {
  test_server srv;
  const auto& own = srv.own;
  // In request order (which is log order): a = answered at once (not a complaint), c = a
  // complaint transferred and replied to.
  struct row {
    const char* kinds;
  };
  int closed = 0, picked = 0;
  std::vector<std::string> picked_answers, unpicked_answers;
  for (const row& t : {row{"aaaaaaaaaa"}, row{"cacacaac"}, row{"aaaaacccaaaa"}}) {
    for (const char* k = t.kinds; *k != '\0'; ++k) {
      if (*k == 'c') {
        const auto id = srv.transferred();
        auto r = srv.post("/v1/cases/" + id + "/reply",
                          R"({"facts":"f","process":"p","basis":"b","caller_reached":true})",
                          own.at("unit"));
        REQUIRE(r.status == 200);
        CHECK(r.json().at("revisit_required").as_bool());  // every complaint
        continue;
      }
      const auto id = srv.receive();
      auto r = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"8:00."})", own.at("agent"));
      REQUIRE(r.status == 200);
      ++closed;
      const bool pick = r.json().at("revisit_required").as_bool();
      picked += pick;
      (pick ? picked_answers : unpicked_answers).push_back(id);
      // After every closure: picks >= ceil(30% of the closures so far).
      CHECK(100 * picked >= 30 * closed);
      // The case view and the event say the same.
      auto c = srv.get("/v1/cases/" + id, own.at("agent"));
      REQUIRE(c.status == 200);
      CHECK(c.json().at("revisit_required").as_bool() == pick);
      auto ev = srv.get("/v1/cases/" + id + "/events", own.at("auditor"));
      REQUIRE(ev.status == 200);
      const auto& answered = ev.json().at("events").as_array().back();
      CHECK(str(answered, "type") == "answered_immediately");
      CHECK(answered.at("data").at("revisit_required").as_bool() == pick);
    }
  }
  REQUIRE(!picked_answers.empty());
  REQUIRE(!unpicked_answers.empty());
  // A picked matter answered at once is archived only after its revisit (Art. 23(1), 38); it
  // cannot be reopened for a unit it never had.
  const auto& p = picked_answers.front();
  auto r = srv.post("/v1/cases/" + p + "/archive", "{}", own.at("supervisor"));
  CHECK(r.status == 409);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(str(r.json(), "type") == "/problems/rule/revisit-required");
  CHECK(str(r.json(), "article") == "Art. 23, 38");
  r = srv.post("/v1/cases/" + p + "/revisit", R"({"reached":true,"satisfaction":"satisfied","further_handling":true})",
               own.at("revisit_officer"));
  CHECK(r.status == 422);
  CHECK(r.header("content-type") == "application/problem+json");
  r = srv.post("/v1/cases/" + p + "/revisit", R"({"reached":true,"satisfaction":"satisfied"})",
               own.at("revisit_officer"));
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "status") == "revisited");
  CHECK(r.json().at("revisited").as_bool());
  CHECK(srv.post("/v1/cases/" + p + "/archive", "{}", own.at("supervisor")).status == 200);
  // One not picked is archived at once.
  r = srv.post("/v1/cases/" + unpicked_answers.front() + "/archive", "{}", own.at("supervisor"));
  CHECK(r.status == 200);
  CHECK(str(r.json(), "status") == "archived");
}
