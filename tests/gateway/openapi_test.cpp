// The OpenAPI document (gateway/openapi.json, embedded) against the route table: the document is
// what the generator (gateway/openapi_generator.h) makes of it, so its paths (method, path,
// operationId, token or none, the roles) are the table's and the policy's, both ways; an
// operation without its bodies and errors fails too.
#include "gateway/openapi.h"

#include <set>
#include <string>
#include <tuple>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/command_json.h"
#include "gateway/openapi_generator.h"
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

// What the document says of an operation, and what the route table says of a route: method,
// path template, operationId (the route's name), whether a bearer token is required.
using documented_route = std::tuple<std::string, std::string, std::string, bool>;

std::set<documented_route> from_table() {
  std::set<documented_route> out;
  for (const auto& r : gateway::route_table())
    out.emplace(lower(r.method), std::string(r.path), std::string(r.name), r.op.has_value());
  return out;
}

std::set<documented_route> from_document(const json::object& doc) {
  std::set<documented_route> out;
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object()) {
      const auto& o = op.as_object();
      out.emplace(std::string(method), std::string(path),
                  std::string(o.at("operationId").as_string()),
                  !o.at("security").as_array().empty());
    }
  return out;
}

std::string describe(const documented_route& r) {
  return std::get<0>(r) + " " + std::get<1>(r) + " " + std::get<2>(r) +
         (std::get<3>(r) ? " (token)" : " (no token)");
}

}  // namespace

TEST_CASE("the document is what the generator writes from the route table and the policy") {
  const auto generated = gateway::generate_openapi(gateway::openapi_document());
  REQUIRE(generated);
  // A route added, removed or renamed, or a role's permissions changed, without the document.
  CHECK_MESSAGE(generated.value() == gateway::openapi_document(),
                "gateway/openapi.json is not what the route table gives: run "
                "`build/tools/caseline openapi --write gateway/openapi.json`, then write the new "
                "operation's summary, parameters and responses");
}

TEST_CASE("the generator writes each route's facts and keeps what is written by hand") {
  const auto doc = [](std::string_view text) {
    auto g = gateway::generate_openapi(text);
    REQUIRE(g);
    return json::parse(g.value()).as_object();
  };
  const auto& table = gateway::route_table();
  SUBCASE("a route the document lacks is added; an operation no route serves goes") {
    const auto out = doc(R"({"openapi":"3.1.0","paths":{"/v1/gone":{"get":{"operationId":"x"}},)"
                         R"("/healthz":{"summary":"kept","post":{"operationId":"y"}}}})");
    const auto& paths = out.at("paths").as_object();
    CHECK_FALSE(paths.contains("/v1/gone"));
    const auto& health = paths.at("/healthz").as_object();
    CHECK(health.at("summary").as_string() == "kept");
    CHECK_FALSE(health.contains("post"));
    CHECK(health.at("get").at("operationId").as_string() == "healthz");
    CHECK(health.at("get").at("security").as_array().empty());
    CHECK(health.at("get").at("x-roles").as_array().empty());
    std::size_t operations = 0;
    for (const auto& [path, item] : paths)
      for (const auto& [key, op] : item.as_object()) operations += key != "summary" ? 1 : 0;
    CHECK(operations == table.size());
    const auto& receive = paths.at("/v1/cases").as_object().at("post").as_object();
    CHECK(receive.at("operationId").as_string() == "receive");
    CHECK(receive.at("security").as_array().size() == 1);
  }
  SUBCASE("x-roles: kept with its order and notes when it names the permitted roles") {
    const auto out =
        doc(R"({"paths":{"/v1/units/{id}":{"put":{"operationId":"old","description":"by hand",)"
            R"j("x-roles":["supervisor (own center)","admin"],"security":[]}},)j"
            R"("/v1/cases/{id}/escalate":{"post":{"x-roles":["supervisor","agent"]}}}})");
    const auto& paths = out.at("paths").as_object();
    const auto& unit = paths.at("/v1/units/{id}").at("put").as_object();
    CHECK(unit.at("operationId").as_string() == "put_unit");
    CHECK(unit.at("description").as_string() == "by hand");
    CHECK(json::serialize(unit.at("x-roles")) == R"j(["supervisor (own center)","admin"])j");
    CHECK(unit.at("security").as_array().size() == 1);
    // Wrong (an agent may not escalate): rewritten in the policy's order.
    CHECK(json::serialize(paths.at("/v1/cases/{id}/escalate").at("post").at("x-roles")) ==
          R"(["supervisor"])");
    // Every role permitted: "any".
    CHECK(json::serialize(paths.at("/v1/centers").at("get").at("x-roles")) == R"(["any"])");
  }
  SUBCASE("the format is Python's json.dump(indent=1, ensure_ascii=False) and a newline") {
    const auto f = gateway::format_openapi(
        R"({"a": [], "b": {}, "c": "\u00e9\"\\\n\t\u0001\u007f/", "d": [1, {"e": null, "f": true}], "g": -3})");
    REQUIRE(f);
    CHECK(f.value() ==
          "{\n \"a\": [],\n \"b\": {},\n \"c\": \"\u00e9\\\"\\\\\\n\\t\\u0001\x7f/\",\n \"d\": "
          "[\n  1,\n  {\n   \"e\": null,\n   \"f\": true\n  }\n ],\n \"g\": -3\n}\n");
    CHECK_FALSE(gateway::format_openapi("{"));
    CHECK_FALSE(gateway::generate_openapi(R"({"paths":[]})"));
  }
}

TEST_CASE(
    "the route table gives the document's paths exactly: no route undocumented, none documented "
    "that does not exist") {
  const auto doc = json::parse(gateway::openapi_document()).as_object();
  CHECK(doc.at("openapi").as_string() == "3.1.0");
  const auto routed = from_table();
  const auto documented = from_document(doc);
  // No two routes share a method and path, or a name.
  CHECK(routed.size() == gateway::route_table().size());
  std::set<std::string_view> names;
  for (const auto& r : gateway::route_table()) names.insert(r.name);
  CHECK(names.size() == gateway::route_table().size());
  for (const auto& r : routed) {
    INFO("routed, not documented: ", describe(r));
    CHECK(documented.contains(r));
  }
  for (const auto& d : documented) {
    INFO("documented, not routed: ", describe(d));
    CHECK(routed.contains(d));
  }
  CHECK(routed == documented);
}

TEST_CASE("the roles the document names for a route are exactly those permitted its operation") {
  const auto doc = json::parse(gateway::openapi_document()).as_object();
  for (const auto& r : gateway::route_table()) {
    CAPTURE(r.name);
    // A route the document lacks fails the test above.
    const auto* item = doc.at("paths").as_object().if_contains(r.path);
    const auto* op = item ? item->as_object().if_contains(lower(r.method)) : nullptr;
    if (!op) continue;
    const auto& roles = op->as_object().at("x-roles").as_array();
    // A route without a token names no role.
    CHECK(roles.empty() == !r.op.has_value());
    if (!r.op) continue;
    std::set<std::string> documented;
    for (const auto& v : roles) {
      // "supervisor (own center)": the role; the scope is the handler's. "any": every role.
      std::string name(v.as_string());
      name = name.substr(0, name.find(' '));
      if (name == "any") {
        for (const auto& each : gateway::role_names()) documented.emplace(each);
        continue;
      }
      CAPTURE(name);
      REQUIRE(gateway::parse_role(name).has_value());
      documented.insert(name);
    }
    std::set<std::string> permitted;
    for (const auto& each : gateway::role_names())
      if (gateway::permitted(*gateway::parse_role(each), *r.op)) permitted.emplace(each);
    std::string missing, extra;
    for (const auto& p : permitted)
      if (!documented.contains(p)) missing += p + " ";
    for (const auto& d : documented)
      if (!permitted.contains(d)) extra += d + " ";
    CAPTURE(missing);
    CAPTURE(extra);
    CHECK(documented == permitted);
  }
}

TEST_CASE("every documented operation names its errors as problem+json, and every POST its body") {
  const auto doc = json::parse(gateway::openapi_document()).as_object();
  const auto& responses = doc.at("components").as_object().at("responses").as_object();
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object()) {
      // A copy: clang 14 cannot capture a structured binding in a lambda, and CAPTURE is one.
      const std::string where(path);
      CAPTURE(where);
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
  const auto& reasons = doc.at("components")
                            .as_object()
                            .at("schemas")
                            .as_object()
                            .at("NotAcceptBody")
                            .as_object()
                            .at("properties")
                            .as_object()
                            .at("reason")
                            .as_object()
                            .at("enum")
                            .as_array();
  for (const auto& r : reasons) {
    const std::string body =
        std::string(R"({"reason":")") + r.as_string().c_str() + R"(","explanation":"e"})";
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
  // A literal path beside templates of the same length: "/v1/reports/period" is not a month.
  m = gateway::match_route("GET", "/v1/reports/period");
  REQUIRE(m.matched);
  CHECK(m.matched->path == "/v1/reports/period");
  CHECK(m.params.empty());
  m = gateway::match_route("GET", "/v1/reports/monthly/2026-11");
  REQUIRE(m.matched);
  CHECK(m.params.at("month") == "2026-11");
  CHECK(m.allow.empty());
  // A body limit of its own for the route of a raw target, query and all; none for the others.
  CHECK(gateway::route_body_limit("PUT", "/v1/recordings?case=1") == gateway::recording_body_limit);
  CHECK(gateway::route_body_limit("PUT", "/v1/recordings/") == 0);
  CHECK(gateway::route_body_limit("GET", "/v1/recordings") == 0);
  CHECK(gateway::route_body_limit("GET", "/v1/cases/x") == 0);
}
