// The authorization matrix: every role x every route x an own and a foreign case. The expected
// permissions are written out here from the role table of gateway/README.md (not taken from
// gateway/auth.h), so that a change to the permission table fails this test.
#include "gateway/auth.h"

#include <set>

#include "gateway/routes.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {

const std::set<std::string> center_readers{"agent",      "shift_lead", "quality_inspector",
                                           "revisit_officer", "supervisor", "unit", "unit_head",
                                           "auditor"};
// A handling unit's staff and its head (Art. 30, 34).
const std::set<std::string> unit_roles{"unit", "unit_head"};
const std::set<std::string> intake{"agent", "shift_lead", "supervisor"};
// The provincial center's revisit officers also take the app, web and WeChat matters (Art. 23):
// core refuses them any other matter (409), so a city center's is not 403 here.
const std::set<std::string> online_intake{"agent", "shift_lead", "supervisor", "revisit_officer"};
const std::set<std::string> report_readers{"analyst", "supervisor", "auditor"};
const std::set<std::string> everyone{"agent",   "shift_lead", "quality_inspector", "analyst",
                                     "revisit_officer", "supervisor", "unit", "auditor", "admin",
                                     "unit_head"};

// Route name -> the roles that may use it (Art. 16-23, 30). Routes without a token are absent.
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> m{
      {"metrics", {"admin", "analyst", "auditor"}},
      {"receive", online_intake},
      {"list_cases", center_readers},
      {"get_case", center_readers},
      {"get_case_events", center_readers},
      {"answer", online_intake},
      {"not_accept", online_intake},
      {"redirect", online_intake},
      {"classify", online_intake},
      {"transfer", online_intake},
      {"flag_major_urgent", online_intake},
      {"escalate", {"supervisor"}},
      {"archive", {"supervisor", "agent", "revisit_officer"}},  // Art. 22(4), 23
      {"return", unit_roles},
      {"accept_late_return", {"shift_lead", "supervisor"}},  // Art. 32
      {"extend", unit_roles},
      {"approve_extension", {"unit_head"}},  // Art. 34
      {"reply", unit_roles},
      {"revisit", {"revisit_officer", "supervisor"}},
      {"get_calendar", everyone},
      {"get_unit", everyone},
      {"list_centers", everyone},
      {"put_unit", {"admin", "supervisor"}},
      {"set_clock", {"admin"}},
      {"get_clock", {"admin"}},
      {"publish_calendar", {"admin"}},
      {"create_token", {"admin"}},
      {"list_tokens", {"admin"}},
      {"revoke_token", {"admin"}},
      {"start_retention_purge", {"admin"}},
      {"get_retention_purge", {"admin"}},
      // Queues and deadlines for the center's staff, units and auditors; reports for
      // analysts, supervisors and auditors.
      {"get_queue", center_readers},
      {"sla_overdue", center_readers},
      {"sla_due_soon", center_readers},
      {"report_monthly", report_readers},
      {"report_annual", report_readers},
      {"report_period", report_readers},
      {"report_assessment", report_readers},
      {"report_urgent", report_readers},
      {"report_overdue", report_readers},
      // Retention and call audio (Art. 38)
      {"retention_audit", {"auditor", "supervisor"}},
      {"place_legal_hold", {"supervisor"}},
      {"lift_legal_hold", {"supervisor"}},
      {"put_recording", intake},
      {"get_recording", {"supervisor", "auditor", "quality_inspector"}},
  };
  return m;
}

// Roles that may use a route only as staff of the provincial center (410000): a city center's
// token of that role is 403 (Art. 38 audit, Art. 45 assessment).
const std::map<std::string, std::set<std::string>>& provincial_only() {
  static const std::map<std::string, std::set<std::string>> m{
      {"retention_audit", {"supervisor"}},
      {"report_assessment", {"analyst", "supervisor"}},
  };
  return m;
}

const std::map<std::string, std::string>& bodies() {
  static const std::map<std::string, std::string> m{
      {"receive",
       R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c"})"},
      {"answer", R"({"answer":"a"})"},
      {"not_accept", R"({"reason":"outside_remit","explanation":"e"})"},
      {"redirect", R"({"to":"postal","number":"11185"})"},
      {"classify", R"({"category":"inquiry","domain":"highway"})"},
      {"transfer", std::string(R"({"unit":")") + own_unit + "\"}"},
      {"flag_major_urgent", R"({"reason":"r"})"},
      {"escalate", R"({"to":"department","reason":"no_unit"})"},
      {"archive", "{}"},
      {"return", R"({"reasons":"r"})"},
      {"accept_late_return", R"({"reason":"r"})"},
      {"extend", R"({"reason":"complex","working_days":3,"explanation":"e"})"},
      {"approve_extension", "{}"},
      {"reply", R"({"facts":"f","process":"p","basis":"b","caller_reached":false})"},
      {"revisit", R"({"reached":false})"},
      {"put_unit",
       R"({"name":"N","center":"410100","contact":{"name":"C","mobile":"13500000000"}})"},
      {"set_clock", R"({"now":"2025-09-26T10:00:00+08:00"})"},
      {"create_token", R"({"role":"agent","center":"410100"})"},
      {"start_retention_purge", R"({"as_of":"2025-09-26","dry_run":true})"},
      {"place_legal_hold", R"({"reason":"court order"})"},
      {"lift_legal_hold", R"({"reason":"lifted"})"},
      {"put_recording", "RIFF....WAVEfmt "},
      {"publish_calendar",
       "year 2025 covered https://www.gov.cn/example\n2025-01-01 holiday 元旦\n"},
  };
  return m;
}

// A token that only DELETE /v1/admin/tokens/{id} uses (the admin revokes it once).
std::string spare_token_id;
// A purge job that GET /v1/admin/retention/purge/{id} reads.
std::string purge_job_id;

std::string target_of(const gateway::route& r, const std::string& id) {
  std::string t(r.path);
  const std::pair<const char*, std::string> params[] = {{"{queue}", "to_classify"},
                                                        {"{month}", "2025-09"},
                                                        {"{day}", "2025-09-26"}};
  for (const auto& [name, value] : params)
    if (auto p = t.find(name); p != std::string::npos) t.replace(p, std::string(name).size(), value);
  if (r.name == "report_period") t += "?from=2025-09-01&to=2025-09-30";
  if (auto p = t.find("{id}"); p != std::string::npos)
    t.replace(p, 4,
              r.name == "get_unit" || r.name == "put_unit" ? std::string(own_unit)
              : r.name == "revoke_token"                   ? spare_token_id
              : r.name == "get_retention_purge"            ? purge_job_id
                                                           : id);
  if (auto p = t.find("{year}"); p != std::string::npos) t.replace(p, 6, "2025");
  if (r.name == "get_status") t += "?phone_last4=1234";
  return t;
}

reply call(test_server& srv, const gateway::route& r, const std::string& id, const std::string& token) {
  const auto b = bodies().find(std::string(r.name));
  header_list extra;
  if (r.name == "put_recording") extra.emplace_back("Content-Type", "audio/wav");
  if (r.name == "publish_calendar") extra.emplace_back("Content-Type", "text/plain");
  return request(srv.port, std::string(r.method), target_of(r, id),
                 b == bodies().end() ? std::string() : b->second,
                 test_server::auth(token, std::move(extra)));
}

bool on_a_case(const gateway::route& r) {
  return std::string_view(r.path).starts_with("/v1/cases/{id}");
}

}  // namespace

TEST_CASE("the permission table of the test covers every route that needs a token") {
  for (const auto& r : gateway::route_table()) {
    CAPTURE(r.name);
    CHECK(r.op.has_value() == allowed().contains(std::string(r.name)));
  }
}

TEST_CASE("every role x every route x own and foreign case") {
  test_server srv;
  const std::string missing = "410100-20250926-999999";
  auto spare = srv.stack->create_token(tools::token_request{"agent", "410100", ""});
  REQUIRE(spare);
  spare_token_id = spare.value().info.id;
  auto job = srv.post("/v1/admin/retention/purge", R"({"as_of":"2025-09-26","dry_run":true})",
                      srv.own.at("admin"), {{"Content-Type", "application/json"}});
  REQUIRE(job.status == 202);
  purge_job_id = job.json().at("id").as_string().c_str();
  for (const auto& r : gateway::route_table()) {
    if (!r.op) continue;
    const std::string name(r.name);
    CAPTURE(name);
    // Without a token, or with an unknown one: 401, for every route that needs one.
    const auto any = srv.receive();
    CHECK(call(srv, r, any, "").status == 401);
    CHECK(call(srv, r, any, "clt_" + std::string(64, '0')).status == 401);
    for (const auto& role : all_roles()) {
      CAPTURE(role);
      const bool may = allowed().at(name).contains(role);
      const auto prov_only = provincial_only().find(name);
      const bool city_may = may && (prov_only == provincial_only().end() ||
                                    !prov_only->second.contains(role));
      // A fresh case transferred to the role's own unit, so that each command meets a case in
      // its own scope (a center's staff see it as their center's).
      const auto own_case = srv.transferred(true);
      const auto own = call(srv, r, own_case, srv.own.at(role));
      CAPTURE(own.body);
      if (!city_may) {
        CHECK(own.status == 403);
        if (may) {  // the same role at the provincial center may
          const auto prov = call(srv, r, own_case, srv.provincial.at(role));
          CAPTURE(prov.body);
          CHECK(prov.status != 403);
          CHECK(prov.status < 500);
        }
        continue;
      }
      CHECK(own.status != 401);
      CHECK(own.status != 403);
      CHECK(own.status != 404);
      CHECK(own.status < 500);
      if (!on_a_case(r)) continue;
      // A case of another center (for a unit: transferred to another unit) is exactly a
      // missing case: same status, same body but for the id.
      const auto foreign_case = srv.transferred(false);
      const auto foreign = call(srv, r, foreign_case, srv.own.at(role));
      const auto absent = call(srv, r, missing, srv.own.at(role));
      if (role == "auditor") {
        // Auditors read everything (a case without audio answers its recording with 410).
        CHECK((foreign.status < 400 || (name == "get_recording" && foreign.status == 410)));
        continue;
      }
      CHECK(foreign.status == 404);
      CHECK(absent.status == 404);
      auto body = foreign.body;
      for (auto p = body.find(foreign_case); p != std::string::npos; p = body.find(foreign_case))
        body.replace(p, foreign_case.size(), missing);
      CHECK(body == absent.body);
      // And the provincial center's staff see every case.
      if (!unit_roles.contains(role)) {
        const auto prov = call(srv, r, foreign_case, srv.provincial.at(role));
        CHECK(prov.status != 404);
      }
    }
  }
}

TEST_CASE("a foreign case is never changed by a refused command") {
  test_server srv;
  const auto id = srv.transferred(false);
  const auto before = srv.get("/v1/cases/" + id, srv.other.at("agent")).json().at("version");
  CHECK(srv.post("/v1/cases/" + id + "/reply", R"({"facts":"f","process":"p","basis":"b","caller_reached":true})",
                 srv.own.at("unit")).status == 404);
  CHECK(srv.post("/v1/cases/" + id + "/escalate", R"({"to":"department","reason":"no_unit"})",
                 srv.own.at("supervisor")).status == 404);
  CHECK(srv.get("/v1/cases/" + id, srv.other.at("agent")).json().at("version") == before);
}
