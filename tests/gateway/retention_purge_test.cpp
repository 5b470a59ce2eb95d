// The Art. 38 retention purge online (POST /v1/admin/retention/purge, GET .../purge/{id}) against a
// real server (embedded log, RocksDB in a temporary folder): the admin starts it while the server
// serves, every bad input is refused naming the article, a dry run changes nothing, a second run
// purges nothing twice, and the audit's verdict holds after it.
#include "gateway/api.h"

#include "projections/retention.h"
#include "tests/gateway/gateway_test_support.h"
#include "tools/bench_purge.h"

using namespace caseline;
using namespace caseline::gwtest;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t seeded = 400;
constexpr const char* later = "2032-01-05";  // past 5 years from archiving on 2025-09-26

std::string str(const json::value& v, const char* k) { return v.at(k).as_string().c_str(); }
std::uint64_t num(const json::value& v, const char* k) {
  return v.at(k).to_number<std::uint64_t>();
}

// Cases received, answered and archived at the test server's date, then the clock past their
// text's retention.
void seed(test_server& srv) {
  auto s = tools::seed_archived_cases(srv.stack->writer(), seeded, own_center);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
  REQUIRE(srv.post("/v1/admin/clock", std::string(R"({"now":")") + later + R"(T10:00:00+08:00"})",
                   srv.own.at("admin"))
              .status == 200);
}

// Follows a job until it is no longer running (the deadline fails the test).
json::value finished(test_server& srv, const std::string& id) {
  json::value last;
  REQUIRE(eventually(
      [&] {
        auto r = srv.get("/v1/admin/retention/purge/" + id, srv.own.at("admin"));
        REQUIRE(r.status == 200);
        last = r.json();
        return str(last, "status") != "running";
      },
      60s));
  return last;
}

reply start(test_server& srv, const std::string& body, const std::string& role = "admin") {
  return srv.post("/v1/admin/retention/purge", body, srv.own.at(role),
                  {{"Content-Type", "application/json"}});
}

projections::retention_audit audit(test_server& srv) {
  auto a = projections::audit_retention(srv.stack->store(), {}, *civil_date::parse(later),
                                        &srv.stack->blobs(), &srv.stack->keys());
  REQUIRE(a);
  return std::move(a).value();
}

}  // namespace

TEST_CASE("every bad purge request is refused naming Art. 38, and only an admin may start one") {
  test_server srv;
  const auto refused = [&](const std::string& body, int status, const std::string& field) {
    auto r = start(srv, body);
    CHECK(r.status == status);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(str(r.json(), "article") == "Art. 38");
    if (!field.empty()) CHECK(str(r.json(), "field") == field);
  };
  refused(R"({"as_of":"2025-13-01"})", 422, "as_of");
  refused(R"({"as_of":"tomorrow!!!"})", 422, "as_of");
  refused(R"({})", 422, "as_of");
  refused(R"({"as_of":"2025-09-27"})", 422, "as_of");  // after today: nothing is due yet
  refused(R"({"as_of":"2025-09-26","dry_run":"yes"})", 422, "dry_run");
  refused(R"({"as_of":"2025-09-26","partitions":[4]})", 422, "partitions");
  refused(R"({"as_of":"2025-09-26","partitions":[]})", 422, "partitions");
  refused(R"({"as_of":"2025-09-26","everything":true})", 422, "everything");
  refused("not json", 400, "");
  // Not the admin: the policy's refusal.
  CHECK(start(srv, R"({"as_of":"2025-09-26"})", "supervisor").status == 403);
  CHECK(start(srv, R"({"as_of":"2025-09-26"})", "auditor").status == 403);
  // A job this server does not know.
  auto r = srv.get("/v1/admin/retention/purge/0123456789abcdef", srv.own.at("admin"));
  CHECK(r.status == 404);
  CHECK(r.header("content-type") == "application/problem+json");
}

TEST_CASE(
    "the purge runs while the server serves; a dry run changes nothing; a re-run purges "
    "nothing twice") {
  test_server srv;
  seed(srv);
  REQUIRE(eventually([&] { return audit(srv).eligible == seeded; }, 30s));

  SUBCASE("a dry run lists them and changes nothing") {
    auto r = start(srv, std::string(R"({"as_of":")") + later + R"(","dry_run":true})");
    REQUIRE(r.status == 202);
    const auto done = finished(srv, str(r.json(), "id"));
    CHECK(str(done, "status") == "done");
    CHECK(done.at("dry_run").as_bool());
    CHECK(num(done, "purged") == seeded);
    CHECK(audit(srv).eligible == seeded);
    CHECK(audit(srv).purged == 0);
  }

  SUBCASE("the purge, then the same purge again") {
    auto r = start(srv, std::string(R"({"as_of":")") + later + R"("})");
    REQUIRE(r.status == 202);
    CHECK(r.header("location") == "/v1/admin/retention/purge/" + str(r.json(), "id"));
    // The server serves meanwhile: a new case and a read.
    const auto fresh = srv.receive();
    CHECK(srv.get("/v1/cases/" + fresh, srv.own.at("agent")).status == 200);
    const auto done = finished(srv, str(r.json(), "id"));
    CHECK(str(done, "status") == "done");
    CHECK(num(done, "purged") == seeded);
    CHECK(num(done, "refused") == 0);
    CHECK(num(done, "failed") == 0);
    CHECK(done.at("partitions_done").as_array().size() == 4);
    CHECK(done.at("partitions_not_done").as_array().empty());
    CHECK(done.at("items").at("purged").as_array().size() == seeded);
    // The job is done once its commands are in the log; the audit reads the projections, which
    // apply them a moment later.
    REQUIRE(eventually([&] { return audit(srv).purged == seeded; }, 30s));
    const auto a = audit(srv);
    CHECK(a.ok());
    CHECK(a.purged == seeded);
    CHECK(a.eligible == 0);
    // One text_shredded per case in the trail, and no key left.
    std::size_t shreds = 0;
    for (const auto& h : a.history) shreds += h.kind == "text_shredded" ? 1 : 0;
    CHECK(shreds == seeded);

    auto again = start(srv, std::string(R"({"as_of":")") + later + R"("})");
    REQUIRE(again.status == 202);
    const auto second = finished(srv, str(again.json(), "id"));
    CHECK(str(second, "status") == "done");
    CHECK(num(second, "planned") == 0);
    CHECK(num(second, "purged") == 0);
    CHECK(num(second, "refused") == 0);
    const auto b = audit(srv);
    std::size_t shreds_after = 0;
    for (const auto& h : b.history) shreds_after += h.kind == "text_shredded" ? 1 : 0;
    CHECK(shreds_after == seeded);
    CHECK(b.ok());
  }
}
