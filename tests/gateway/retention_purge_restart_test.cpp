// A purge job's status across a restart (embedded log, RocksDB in a temporary folder): each job's
// summary is saved in the server's store, so that a restarted server still answers for it; a job
// that was running when the server was killed is `interrupted`, and running the purge again
// finishes it, nothing purged twice; an id never issued is a 404 that says so.
#include "gateway/api.h"

#include <csignal>

#include "projections/retention.h"
#include "tests/gateway/gateway_test_support.h"
#include "tests/gateway/retention_purge_support.h"
#include "tests/support/process.h"
#include "tools/bench_purge.h"

using namespace caseline;
using namespace caseline::gwtest;
using namespace std::chrono_literals;

namespace {

constexpr const char* later = "2032-01-05";  // past 5 years from archiving on 2025-09-26
constexpr const char* later_now = "2032-01-05T10:00:00.000+08:00";

std::string str(const json::value& v, const char* k) { return v.at(k).as_string().c_str(); }
std::uint64_t num(const json::value& v, const char* k) {
  return v.at(k).to_number<std::uint64_t>();
}

// Cases received, answered and archived at the test server's date, then the clock past their
// text's retention (the manual clock is kept in the store across restarts).
void seed(test_server& srv, std::uint64_t cases) {
  auto s = tools::seed_archived_cases(srv.stack->writer(), cases, own_center);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
  REQUIRE(srv.post("/v1/admin/clock", std::string(R"({"now":")") + later + R"(T10:00:00+08:00"})",
                   srv.own.at("admin"))
              .status == 200);
}

std::string purge_body(bool dry_run = false) {
  return std::string(R"({"as_of":")") + later + (dry_run ? R"(","dry_run":true})" : R"("})");
}

// The job's status from the server at `address`, until `until` holds of it.
json::value status_until(const std::string& address, const std::string& token,
                         const std::string& id,
                         const std::function<bool(const json::value&)>& until,
                         std::chrono::milliseconds deadline = 120s) {
  json::value last;
  REQUIRE(eventually(
      [&] {
        auto r = test::http_call(address, "GET", "/v1/admin/retention/purge/" + id, "",
                                 {{"authorization", "Bearer " + token}});
        REQUIRE_MESSAGE(r.status == 200, r.body);
        last = json::parse(r.body);
        return until(last);
      },
      deadline));
  return last;
}

bool not_running(const json::value& j) { return str(j, "status") != "running"; }

// `caseline serve` on the test server's data folder (which the test server has closed).
std::unique_ptr<test::child_process> serve_process(const test_server& srv, std::string& address) {
  address = "127.0.0.1:" + std::to_string(test::unused_port());
  auto p = std::make_unique<test::child_process>(std::vector<std::string>{
      test::caseline_binary(), "serve", "--data", srv.dir.path().string(), "--partitions", "4",
      "--calendar", test::source_dir() + "/core/data/cn-workdays.txt", "--listen", address,
      "--clock", "manual", "--token-rate", "1000", "--token-burst", "5000"});
  REQUIRE_MESSAGE(p->wait_for_line("listening on http://", 120s).has_value(),
                  "caseline serve did not start: " << p->output());
  return p;
}

void check_no_such_job(const reply& r) {
  CHECK(r.status == 404);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(str(r.json(), "type").ends_with("/problems/no-such-purge-job"));
  CHECK(str(r.json(), "title") == "No such purge job");
}

}  // namespace

TEST_CASE("a finished job still answers after a restart; an id never issued is no such purge job") {
  constexpr std::uint64_t cases = 200;
  test_server srv;
  seed(srv, cases);
  auto dry = srv.post("/v1/admin/retention/purge", purge_body(true), srv.own.at("admin"),
                      {{"Content-Type", "application/json"}});
  REQUIRE(dry.status == 202);
  const auto dry_id = str(dry.json(), "id");
  REQUIRE(eventually(
      [&] {
        return str(srv.get("/v1/admin/retention/purge/" + dry_id, srv.own.at("admin")).json(),
                   "status") != "running";
      },
      60s));
  auto run = srv.post("/v1/admin/retention/purge", purge_body(), srv.own.at("admin"),
                      {{"Content-Type", "application/json"}});
  REQUIRE(run.status == 202);
  const auto id = str(run.json(), "id");
  json::value before;
  REQUIRE(eventually(
      [&] {
        before = srv.get("/v1/admin/retention/purge/" + id, srv.own.at("admin")).json();
        return str(before, "status") != "running";
      },
      60s));
  REQUIRE(str(before, "status") == "done");

  srv.restart();
  // Read from the store now: the same summary, its times from the server's clock.
  const auto after = srv.get("/v1/admin/retention/purge/" + id, srv.own.at("admin"));
  REQUIRE(after.status == 200);
  CHECK(str(after.json(), "status") == "done");
  CHECK(num(after.json(), "purged") == cases);
  CHECK(num(after.json(), "planned") == cases);
  CHECK(num(after.json(), "failed") == 0);
  CHECK(after.json().at("partitions_done").as_array().size() == 4);
  CHECK(str(after.json(), "started") == later_now);
  CHECK(str(after.json(), "finished") == later_now);
  CHECK(!after.json().at("dry_run").as_bool());
  CHECK(str(after.json(), "as_of") == later);
  const auto dry_after = srv.get("/v1/admin/retention/purge/" + dry_id, srv.own.at("admin"));
  REQUIRE(dry_after.status == 200);
  CHECK(dry_after.json().at("dry_run").as_bool());
  CHECK(num(dry_after.json(), "purged") == cases);

  check_no_such_job(srv.get("/v1/admin/retention/purge/0123456789abcdef", srv.own.at("admin")));
  check_no_such_job(srv.get("/v1/admin/retention/purge/not-a-job", srv.own.at("admin")));
}

TEST_CASE(
    "a job running when its server is killed is interrupted after the restart; the purge run "
    "again finishes it, nothing twice") {
  // Enough cases that the kill comes in the middle of the job.
  constexpr std::uint64_t cases = 4000;
  test_server srv;
  seed(srv, cases);
  const auto admin = srv.own.at("admin");
  srv.stack.reset();

  std::string address;
  auto server = serve_process(srv, address);
  auto started =
      test::http_call(address, "POST", "/v1/admin/retention/purge", purge_body(),
                      {{"authorization", "Bearer " + admin}, {"content-type", "application/json"}});
  REQUIRE_MESSAGE(started.status == 202, started.body);
  const auto id = str(started.json(), "id");
  const auto seen = status_until(address, admin, id, [](const json::value& j) {
    return not_running(j) || num(j, "purged") > 0;
  });
  REQUIRE_MESSAGE(str(seen, "status") == "running", "the job ended before the kill: raise `cases`");
  server->signal(SIGKILL);
  REQUIRE(server->wait(30s).has_value());

  server = serve_process(srv, address);
  const auto interrupted = status_until(address, admin, id, not_running);
  CHECK(str(interrupted, "status") == "interrupted");
  CHECK(str(interrupted, "started") == later_now);
  CHECK(interrupted.at("finished").is_null());
  CHECK(interrupted.as_object().contains("retry"));

  // Run again: it purges the rest, and nothing the killed job purged.
  auto again =
      test::http_call(address, "POST", "/v1/admin/retention/purge", purge_body(),
                      {{"authorization", "Bearer " + admin}, {"content-type", "application/json"}});
  REQUIRE_MESSAGE(again.status == 202, again.body);
  const auto done = status_until(address, admin, str(again.json(), "id"), not_running);
  CHECK(str(done, "status") == "done");
  CHECK(num(done, "failed") == 0);
  CHECK(num(done, "purged") < cases);  // the killed job had purged some
  server->signal(SIGTERM);
  CHECK(server->wait(60s) == 0);

  // The log, as the retention trail applies it: every case's text shredded exactly once.
  srv.start();
  projections::retention_audit a;
  REQUIRE(eventually(
      [&] {
        auto r = projections::audit_retention(srv.stack->store(), {}, *civil_date::parse(later),
                                              &srv.stack->blobs(), &srv.stack->keys());
        REQUIRE(r);
        a = std::move(r).value();
        return a.purged == cases;
      },
      60s));
  CHECK(a.ok());
  const auto shreds = test::purge::shreds_of(a);
  CHECK(shreds.cases == cases);
  CHECK(shreds.twice == 0);
}
