// The OpenAPI document (gateway/openapi.json, embedded) against the router's table: a route in
// one and not the other fails, and so does a route without its bodies and errors.
#include "gateway/openapi.h"

#include <set>

#include <boost/json/parse.hpp>

#include "gateway/command_json.h"
#include "gateway/routes.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
namespace json = boost::json;

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

TEST_CASE("the document lists exactly the router's routes, each with its operationId") {
  const auto doc = json::parse(gateway::openapi_document()).as_object();
  CHECK(doc.at("openapi").as_string() == "3.1.0");
  std::set<std::pair<std::string, std::string>> documented, routed;
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object()) {
      documented.emplace(lower(method), std::string(path));
      // Its operationId is the route's name.
      const auto m = gateway::match_route(std::string(method) == "get"    ? "GET"
                                          : std::string(method) == "put" ? "PUT"
                                                                         : "POST",
                                          std::string(path));
      CAPTURE(std::string(path));
      if (m.matched) CHECK(op.at("operationId").as_string() == m.matched->name);
    }
  for (const auto& r : gateway::route_table()) routed.emplace(lower(r.method), std::string(r.path));
  for (const auto& d : documented) {
    CAPTURE(d.second);
    CHECK(routed.contains(d));
  }
  for (const auto& r : routed) {
    CAPTURE(r.second);
    CHECK(documented.contains(r));
  }
}

TEST_CASE("every documented operation names its errors as problem+json, and every POST its body") {
  const auto doc = json::parse(gateway::openapi_document()).as_object();
  const auto& responses = doc.at("components").as_object().at("responses").as_object();
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object()) {
      CAPTURE(std::string(path));
      const auto& o = op.as_object();
      const auto& rs = o.at("responses").as_object();
      CHECK(rs.contains("400"));
      CHECK(rs.contains("503"));
      for (const auto& [code, r] : rs) {
        if (code.starts_with("2")) continue;
        const auto ref = std::string(r.as_object().at("$ref").as_string());
        CHECK(responses.contains(ref.substr(ref.rfind('/') + 1)));
      }
      if (method == "post" || method == "put") CHECK(o.contains("requestBody"));
      if (!o.at("security").as_array().empty()) {
        CHECK(rs.contains("401"));
        CHECK(rs.contains("403"));
      }
    }
}

TEST_CASE("the documented enums of not-accept are the ones the gateway accepts") {
  const auto doc = json::parse(gateway::openapi_document()).as_object();
  const auto& reasons = doc.at("components").as_object().at("schemas").as_object().at("NotAcceptBody")
                            .as_object().at("properties").as_object().at("reason").as_object().at("enum")
                            .as_array();
  for (const auto& r : reasons) {
    const std::string body = std::string(R"({"reason":")") + r.as_string().c_str() + R"(","explanation":"e"})";
    CAPTURE(body);
    CHECK(gateway::parse_case_command("not-accept", body).has_value());
  }
}

TEST_CASE("match_route: templates, literal paths, 405 with Allow, trailing slashes") {
  auto m = gateway::match_route("GET", "/v1/cases/410100-20250926-000001/events");
  REQUIRE(m.matched);
  CHECK(m.matched->name == "get_case_events");
  CHECK(m.params.at("id") == "410100-20250926-000001");
  m = gateway::match_route("DELETE", "/v1/units/x");
  CHECK_FALSE(m.matched);
  CHECK(m.allow == "GET, PUT");
  CHECK_FALSE(gateway::match_route("GET", "/v1/cases/").matched);
  CHECK(gateway::match_route("GET", "/v1/cases/").allow.empty());
  CHECK_FALSE(gateway::match_route("GET", "/v1//cases").matched);
  CHECK_FALSE(gateway::match_route("GET", "/nope").matched);
}
