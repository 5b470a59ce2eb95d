// Bearer tokens kept in the log: two servers on one Kafka topic (the real broker), each with its
// own store. A token created through one's API authenticates on the other once its runner
// applied the event; a revocation through one holds on the other; expiry holds against each
// server's own clock. Then a rebuild of the store keeps every token (rebuild --verify compares
// the tokens family too).

#include <doctest/doctest.h>

#include "tests/gateway/gateway_test_support.h"

namespace caseline::gwtest {

namespace {

void on_topic(tools::serve_options& o, const std::string& topic) {
  o.store.kafka = test::kafka_bootstrap();
  o.store.topic = topic;
  o.checkpoint_interval = std::chrono::minutes(0);
}

std::string str(const json::value& v, const char* k) { return v.at(k).as_string().c_str(); }

}  // namespace

TEST_CASE("a token made through one server's API works on another server reading the same log") {
  const std::string topic = test::unique_topic("tokens");
  test_server a([&](tools::serve_options& o) { on_topic(o, topic); });
  // b is a second server on a's topic without a group, which a real deployment refuses (the
  // topic's single-writer claim): here it is let in to show what it reads of a's writes.
  test_server b([&](tools::serve_options& o) {
    on_topic(o, topic);
    o.store.claim_topic = false;
  });
  const std::string admin_a = a.own.at("admin");

  // One hour after the servers' manual clocks (2025-09-26T10:00+08:00).
  const auto made = a.post(
      "/v1/admin/tokens",
      R"({"role":"agent","center":"410100","expires":"2025-09-26T11:00:00+08:00"})", admin_a);
  REQUIRE(made.status == 201);
  const std::string secret = str(json::parse(made.body), "token");
  const std::string id = str(json::parse(made.body), "id");
  CHECK(a.get("/v1/cases", secret).status == 200);
  // b has never seen this token but through the log.
  REQUIRE(eventually([&] { return b.get("/v1/cases", secret).status == 200; }));
  CHECK(b.get("/v1/admin/tokens", b.own.at("admin")).body.find(id) != std::string::npos);
  // b's own admin token works on a as well: every token is the log's.
  CHECK(a.get("/v1/admin/tokens", b.own.at("admin")).status == 200);

  SUBCASE("revoked through one: 401 there at once, and on the other once applied") {
    CHECK(request(a.port, "DELETE", "/v1/admin/tokens/" + id, {}, test_server::auth(admin_a))
              .status == 204);
    CHECK(a.get("/v1/cases", secret).status == 401);
    REQUIRE(eventually([&] { return b.get("/v1/cases", secret).status == 401; }));
    const auto r = b.get("/v1/cases", secret);
    CHECK(r.header("content-type") == "application/problem+json");
    // Revoked on a, so unknown to b's revocation too.
    CHECK(request(b.port, "DELETE", "/v1/admin/tokens/" + id, {},
                  test_server::auth(b.own.at("admin")))
              .status == 404);
  }
  SUBCASE("expired on the server whose clock reached the expiry") {
    REQUIRE(b.post("/v1/admin/clock", R"({"now":"2025-09-26T11:00:00+08:00"})", b.own.at("admin"))
                .status == 200);
    const auto r = b.get("/v1/cases", secret);
    CHECK(r.status == 401);
    CHECK(r.body.find("expired") != std::string::npos);
    CHECK(a.get("/v1/cases", secret).status == 200);
  }
}

TEST_CASE(
    "a rebuild keeps every token, and a restart: the tokens family is a function of the log") {
  test_server s;
  const std::string admin = s.own.at("admin");
  const auto kept = s.post("/v1/admin/tokens", R"({"role":"agent","center":"410100"})", admin);
  const auto gone = s.post("/v1/admin/tokens", R"({"role":"agent","center":"410100"})", admin);
  REQUIRE(kept.status == 201);
  REQUIRE(gone.status == 201);
  const std::string gone_id = str(json::parse(gone.body), "id");
  REQUIRE(request(s.port, "DELETE", "/v1/admin/tokens/" + gone_id, {}, test_server::auth(admin))
              .status == 204);
  s.stack.reset();
  std::string output;
  CHECK_MESSAGE(rebuild_verify(s, output) == 0, output);
  CHECK(output.find("identical") != std::string::npos);
  s.start();
  CHECK(s.get("/v1/cases", str(json::parse(kept.body), "token")).status == 200);
  CHECK(s.get("/v1/cases", str(json::parse(gone.body), "token")).status == 401);
}

}  // namespace caseline::gwtest
