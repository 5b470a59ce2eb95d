#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gateway/auth.h"
#include "gateway/http.h"

namespace caseline::gateway {

struct request_scope;  // gateway/detail/api_impl.h
class api_handlers;    // the api's insides as the route table sees them (gateway/detail/api_impl.h)

// Answers a matched request through `done`, exactly once, from any thread.
using route_handler = void (*)(api_handlers& api, const std::shared_ptr<request_scope>& sc,
                               responder done);

// One route of the API. The table is the router and the dispatch table in one: each route
// names its handler (the table is defined in gateway/routes.cpp, next to the handlers it points
// to, and does not compile with a route whose handler is missing). The OpenAPI document
// (gateway/openapi.json) lists exactly these routes, each with its name as its operationId and
// a bearer token required exactly where `op` is set: its paths are produced from this table
// (openapi_generator.h, `caseline openapi --write`), and tests/gateway/openapi_test.cpp holds
// the file equal to what the generator writes.
struct route {
  // Whether a route exists in every server or only in one serving a manual clock.
  enum class availability : std::uint8_t { always, manual_clock };

  // The handler is required: a route without one does not compile.
  constexpr route(std::string_view m, std::string_view p, std::string_view n,
                  std::optional<operation> o, route_handler h, std::size_t limit = 0,
                  availability a = availability::always)
      : method(m), path(p), name(n), op(o), handler(h), body_limit(limit), available(a) {}

  std::string_view method;
  std::string_view path;        // template: "/v1/cases/{id}/answer"
  std::string_view name;        // the OpenAPI operationId
  std::optional<operation> op;  // what the token's role must be permitted; none: no token needed
  route_handler handler;
  std::size_t body_limit{0};  // bytes; 0: the server's default (server_options::body_limit)
  // manual_clock: without `serve --clock manual` the route does not exist (404, like any path).
  availability available{availability::always};
};

// Every route, in the order the router tries them (the order of an Allow header).
std::span<const route> route_table();

struct route_match {
  const route* matched{nullptr};             // the route for this method and path
  std::map<std::string, std::string> params;  // {id} -> value
  std::string allow;                          // methods of the path when the method is wrong
};

// The route for a method and a decoded path. No match and an empty `allow`: no such path (404);
// no match and a non-empty `allow`: the path exists with other methods (405).
route_match match_route(std::string_view method, std::string_view path);

// The body limit of the route a request target (path and query, as sent) goes to, if that route
// has its own (call audio); 0 otherwise. The server asks this after reading the header.
std::size_t route_body_limit(std::string_view method, std::string_view target);
// The largest body limit of any route.
std::size_t max_route_body_limit();

// PUT /v1/recordings: a call's audio (about 1 MB a minute of 8 kHz WAV; two hours fit).
inline constexpr std::size_t recording_body_limit = 32 * 1024 * 1024;

}  // namespace caseline::gateway
