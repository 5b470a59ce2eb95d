#pragma once

#include <string_view>

namespace caseline::gateway {

// gateway/openapi.json as embedded at build time: the OpenAPI 3.1 contract of every route,
// body and error. tests/gateway/openapi_test.cpp holds it equal to route_table().
std::string_view openapi_document();

}  // namespace caseline::gateway
