#include "gateway/openapi.h"

namespace caseline::gateway {

namespace {
// Generated from gateway/openapi.json by gateway/embed.cmake.
constexpr unsigned char document[] = {
#include "openapi_json.inc"
};
}  // namespace

std::string_view openapi_document() {
  return {reinterpret_cast<const char*>(document), sizeof document};
}

}  // namespace caseline::gateway
