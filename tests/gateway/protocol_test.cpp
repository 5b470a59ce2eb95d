// HTTP and JSON details at the edge of the real server: what a client sends is never echoed as
// invalid UTF-8, HTTP/1.1 needs Host, a JSON object may not repeat a key.
#include "gateway/server.h"

#include <boost/json/parse.hpp>

#include "core/log_line.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {
// The body parses as JSON text (Boost.JSON refuses invalid UTF-8) and is valid UTF-8 byte for
// byte.
bool valid_json_text(const std::string& body) {
  boost::system::error_code ec;
  (void)boost::json::parse(body, ec);
  return !ec && valid_utf8(body) == body;
}
}  // namespace

TEST_CASE("a path of invalid UTF-8 is never echoed into a problem as invalid UTF-8") {
  test_server srv;
  for (const std::string target : {"/v1/cases/%ff%fe", "/v1/cases/%ff%fe/events",
                                   "/v1/cases/%C0%AF/answer", "/no/such/%ed%a0%80"}) {
    CAPTURE(target);
    for (const std::string& token : {std::string(), srv.own.at("agent")}) {
      const std::string method = target.ends_with("answer") ? "POST" : "GET";
      auto r = request(srv.port, method, target, {}, test_server::auth(token));
      CHECK(r.status >= 400);
      CHECK(r.header("content-type") == "application/problem+json");
      CHECK_MESSAGE(valid_json_text(r.body), r.body);
    }
  }
  auto r = srv.get("/v1/cases/%ff%fe", "");
  REQUIRE(r.status == 401);
  const std::string instance(r.json().at("instance").as_string());
  CHECK(instance == "/v1/cases/\xEF\xBF\xBD\xEF\xBF\xBD");  // replaced, not dropped silently
}

TEST_CASE("an HTTP/1.1 request without Host is 400; HTTP/1.0 needs none") {
  test_server srv;
  auto r = raw_request(srv.port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  CHECK(r.status == 400);
  CHECK(r.header("content-type") == "application/problem+json");
  r = raw_request(srv.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(r.status == 200);
  r = raw_request(srv.port, "GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(r.status == 200);
}

TEST_CASE("a JSON body that repeats a key is refused naming the key, and nothing is written") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  SUBCASE("at the top level") {
    auto r = srv.post("/v1/cases",
                      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},)"
                      R"("content":"first","content":"second"})",
                      agent);
    CHECK(r.status == 422);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(r.json().at("field").as_string() == "content");
    CHECK(std::string(r.json().at("detail").as_string()).find("content: duplicate key") !=
          std::string::npos);
  }
  SUBCASE("in a nested object") {
    auto r = srv.post("/v1/cases",
                      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234",)"
                      R"("phone":"13900001234"},"content":"c"})",
                      agent);
    CHECK(r.status == 422);
    CHECK(r.json().at("field").as_string() == "caller.phone");
    CHECK(std::string(r.json().at("detail").as_string()).find("caller.phone: duplicate key") !=
          std::string::npos);
  }
  SUBCASE("at the top level again after a nested object closed") {
    auto r = srv.post("/v1/cases",
                      R"({"channel":"phone","caller":{"phone":"13800001234","name":"张三"},)"
                      R"("center":"410100","content":"c","caller":{"phone":"13900001234"}})",
                      agent);
    CHECK(r.status == 422);
    CHECK(r.json().at("field").as_string() == "caller");
  }
  SUBCASE("in an object inside an array, named by the array's key") {
    auto r = srv.post("/v1/cases",
                      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},)"
                      R"("content":"c","extra":[{"a":1},{"b":[1,{"a":2}],"a":3,"b":4}]})",
                      agent);
    CHECK(r.status == 422);
    CHECK(r.json().at("field").as_string() == "extra.b");
    CHECK(std::string(r.json().at("detail").as_string()).find("extra.b: duplicate key") !=
          std::string::npos);
  }
  SUBCASE("the same key in two different objects is fine") {
    auto r = srv.post("/v1/cases",
                      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234",)"
                      R"("name":"张三"},"name":"x","content":"c"})",
                      agent);
    CHECK(r.status == 422);  // the top-level "name" is unknown, not a duplicate
    CHECK(std::string(r.json().at("detail").as_string()).find("duplicate") == std::string::npos);
  }
  CHECK(srv.get("/v1/cases?center=410100", srv.own.at("supervisor"))
            .json()
            .at("items")
            .as_array()
            .empty());
}
