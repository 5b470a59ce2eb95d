// A center's staff act within their center: a unit token names a unit registered with the
// token's center, and a city/county supervisor keeps only the own center's units. Against a
// real server (tests/gateway/gateway_test_support.h).
#include "tools/token_cmd.h"

#include <sstream>

#include "gateway/auth.h"
#include "projections/clock.h"
#include "projections/token_store.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {

std::string unit_body(const std::string& center, const std::string& name = "Transit") {
  return R"({"name":")" + name + R"(","center":")" + center +
         R"(","contact":{"name":"Zhao","mobile":"13900000000"}})";
}

reply put_unit_as(test_server& srv, const std::string& id, const std::string& center,
                  const std::string& token, const std::string& name = "Transit") {
  return request(srv.port, "PUT", "/v1/units/" + id, unit_body(center, name),
                 test_server::auth(token));
}

std::string center_of_unit(test_server& srv, const std::string& id) {
  auto r = srv.get("/v1/units/" + id, srv.own.at("agent"));
  REQUIRE(r.status == 200);
  return r.json().at("center").as_string().c_str();
}

}  // namespace

TEST_CASE("a unit token names a unit registered with the token's center") {
  test_server srv;
  SUBCASE("an unknown unit is refused, naming the field") {
    auto t = srv.stack->create_token(tools::token_request{"unit", own_center, "no-such-unit"});
    REQUIRE(!t);
    CHECK(t.error().message().find("unit") != std::string::npos);
    CHECK(t.error().message().find("not registered") != std::string::npos);
  }
  SUBCASE("another center's unit is refused") {
    auto t = srv.stack->create_token(tools::token_request{"unit", other_center, own_unit});
    REQUIRE(!t);
    CHECK(t.error().message().find(std::string("registered with center ") + own_center) !=
          std::string::npos);
  }
  SUBCASE("the own center's unit is accepted") {
    CHECK(srv.stack->create_token(tools::token_request{"unit", own_center, own_unit}));
  }
  SUBCASE("Art. 34 — a unit head's token names its unit like a unit token") {
    CHECK(srv.stack->create_token(tools::token_request{"unit_head", own_center, own_unit}));
    CHECK_FALSE(srv.stack->create_token(tools::token_request{"unit_head", own_center, ""}));
    CHECK_FALSE(srv.stack->create_token(tools::token_request{"unit_head", other_center, own_unit}));
    // Through the admin token API too.
    auto r = srv.post("/v1/admin/tokens",
                      std::string(R"({"role":"unit_head","center":")") + own_center +
                          R"(","unit":")" + own_unit + "\"}",
                      srv.own.at("admin"));
    CHECK(r.status == 201);
    CHECK(r.json().at("role").as_string() == "unit_head");
    r = srv.post("/v1/admin/tokens",
                 std::string(R"({"role":"unit_head","center":")") + own_center + "\"}",
                 srv.own.at("admin"));
    CHECK(r.status == 422);
    CHECK(r.json().at("field").as_string() == "unit");
  }
  SUBCASE("caseline token create exits non-zero with the reason, and stores nothing") {
    const std::string data = srv.dir.path().string();
    srv.stack.reset();  // the embedded store is locked while the server runs
    tools::store_options o;
    o.data_dir = data;
    o.partitions = 4;
    o.calendar_file = source_dir() + "/core/data/cn-workdays.txt";
    std::ostringstream out, err;
    CHECK(tools::run_token_create(o, tools::token_admin{}, {"unit", other_center, own_unit}, out, err) != 0);
    CHECK(out.str().empty());
    CHECK(err.str().find(std::string("registered with center ") + own_center) !=
          std::string::npos);
    std::ostringstream out2, err2;
    CHECK(tools::run_token_create(o, tools::token_admin{}, {"unit", own_center, "nope"}, out2, err2) != 0);
    CHECK(err2.str().find("not registered") != std::string::npos);
    std::ostringstream out3, err3;
    CHECK(tools::run_token_create(o, tools::token_admin{}, {"unit", own_center, own_unit}, out3, err3) == 0);
    CHECK(out3.str().starts_with("clt_"));
    // Art. 34: the unit's head, by `caseline token create --role unit_head`.
    std::ostringstream out4, err4;
    CHECK(tools::run_token_create(o, tools::token_admin{}, {"unit_head", own_center, own_unit}, out4, err4) == 0);
    CHECK(out4.str().starts_with("clt_"));
    std::ostringstream out5, err5;
    CHECK(tools::run_token_create(o, tools::token_admin{}, {"unit_head", own_center, ""}, out5, err5) != 0);
    CHECK(err5.str().find("unit") != std::string::npos);
  }
}

TEST_CASE("a unit token whose unit is not its center's is not honoured") {
  test_server srv;
  const auto id = srv.transferred(true);  // a 410100 case transferred to own_unit
  // As a token made before the check was: another center's token naming own_unit.
  auto forged = projections::token_store(srv.stack->store(), &srv.stack->tokens())
                    .create("unit", other_center, own_unit);
  REQUIRE(forged);
  const std::string t = forged.value().secret;
  auto read = srv.get("/v1/cases/" + id, t);
  CHECK(read.status == 401);
  CHECK(read.header("content-type") == "application/problem+json");
  const auto before = srv.get("/v1/cases/" + id, srv.own.at("agent")).json().at("version");
  CHECK(srv.post("/v1/cases/" + id + "/extend", R"({"reason":"complex","working_days":3,"explanation":"e"})", t).status ==
        401);
  CHECK(srv.get("/v1/cases/" + id, srv.own.at("agent")).json().at("version") == before);
  // The own center's unit token still acts.
  CHECK(srv.get("/v1/cases/" + id, srv.own.at("unit")).status == 200);
}

TEST_CASE("a city supervisor keeps the own center's units and never takes another's") {
  test_server srv;
  const std::string other_sup = srv.other.at("supervisor");
  const std::string own_sup = srv.own.at("supervisor");
  REQUIRE(put_unit_as(srv, "kf-bus", other_center, other_sup).status == 200);

  SUBCASE("naming the own center in the body does not move another center's unit") {
    auto r = put_unit_as(srv, "kf-bus", own_center, own_sup);
    CHECK(r.status == 403);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(center_of_unit(srv, "kf-bus") == other_center);
  }
  SUBCASE("nor does naming the unit's own center change it") {
    CHECK(put_unit_as(srv, "kf-bus", other_center, own_sup, "Renamed").status == 403);
    auto u = srv.get("/v1/units/kf-bus", srv.own.at("agent"));
    CHECK(std::string(u.json().at("name").as_string().c_str()) == "Transit");
  }
  SUBCASE("a supervisor updates and registers the own center's units") {
    CHECK(put_unit_as(srv, "kf-bus", other_center, other_sup, "Renamed").status == 200);
    CHECK(put_unit_as(srv, "zz-new", own_center, own_sup).status == 200);
    CHECK(put_unit_as(srv, "zz-new2", other_center, own_sup).status == 403);
  }
  SUBCASE("the provincial supervisor and an admin move a unit between centers") {
    CHECK(put_unit_as(srv, "kf-bus", own_center, srv.provincial.at("supervisor")).status == 200);
    CHECK(center_of_unit(srv, "kf-bus") == own_center);
    CHECK(put_unit_as(srv, "kf-bus", other_center, srv.own.at("admin")).status == 200);
    CHECK(center_of_unit(srv, "kf-bus") == other_center);
  }
  SUBCASE("a moved unit's old tokens lose their scope") {
    const std::string unit_token = srv.token("unit", other_center, "kf-bus");
    CHECK(srv.get("/v1/queues/at_unit?unit=kf-bus", unit_token).status != 401);
    REQUIRE(put_unit_as(srv, "kf-bus", own_center, srv.own.at("admin")).status == 200);
    CHECK(srv.get("/v1/queues/at_unit?unit=kf-bus", unit_token).status == 401);
  }
}
