#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gateway/auth.h"

namespace caseline::gateway {

// One route of the API. The table is the router: the api dispatches on `name`, and the
// OpenAPI document (gateway/openapi.json) must list exactly these (method, path) pairs — a
// test holds the two together.
struct route {
  std::string_view method;
  std::string_view path;  // template: "/v1/cases/{id}/answer"
  std::string_view name;  // the OpenAPI operationId
  std::optional<operation> op;  // none: no token needed
  std::size_t body_limit{0};    // bytes; 0: the server's default (server_options::body_limit)
};

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
