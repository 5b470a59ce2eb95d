#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace caseline::gateway {

// The OpenAPI document with its paths produced from the route table (routes.h): for every route,
// its method and path, its name as the operationId, `security` (a bearer token exactly where the
// route names an operation) and `x-roles`, the roles the policy (core/authorization.h) permits
// that operation ("any" when it permits every role; none without a token). Everything else is
// kept as written: summaries, descriptions, parameters, bodies, responses, schemas, and the order
// of paths, operations and keys. A documented `x-roles` that names the permitted roles is kept
// too, with its order and its scope notes ("supervisor (own center)"); a wrong one is rewritten
// in the policy's role order. A route the document lacks is added at the end (with only what
// the table gives: its description, parameters and responses are then to be written), an
// operation no route serves is removed. Written as gateway/openapi.json is formatted: Python's
// json.dump(indent=1, ensure_ascii=False) and a newline.
//
// `caseline openapi --write gateway/openapi.json` applies it; tests/gateway/openapi_test.cpp
// requires the embedded document to be its own output. An input that is not a JSON object with
// an object `paths` is core::errc::invalid_argument.
result<std::string> generate_openapi(std::string_view document);

// A JSON text as gateway/openapi.json is formatted (see above). The input must be valid JSON.
result<std::string> format_openapi(std::string_view document);

}  // namespace caseline::gateway
