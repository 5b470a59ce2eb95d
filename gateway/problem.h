#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/result.h"
#include "gateway/http.h"

namespace caseline::gateway {

// The gateway's own failures.
enum class errc {
  ok = 0,
  malformed_json = 1,  // the body is not JSON
  invalid_field,       // a field is missing, of the wrong type, unknown or out of range
  not_found,           // no such route or resource
  method_not_allowed,
  unsupported_media_type,
  payload_too_large,
  headers_too_large,
  bad_request,  // malformed HTTP, request smuggling vectors
  request_timeout,
  too_many_requests,
  not_ready,               // the log or the store cannot be reached
  internal,                // a bug; the detail is logged, not shown
  unauthorized,            // no bearer token, or one that is not known
  forbidden,               // the token's role may never use this route
  idempotency_key_reused,  // the same Idempotency-Key with another request
  bad_precondition,        // an If-Match that is not "<version>"
  gone,                    // a case's resource that is not (or no longer) there: a purged recording
  // A forwarded write whose owner gave no complete answer in time: it may have been made.
  owner_unreachable,
};

const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// A field (of a body, or a query parameter) that is missing, of the wrong type, unknown or out
// of range: errc::invalid_field, answered 422 naming the field ("caller.phone: required").
error field_error(std::string_view path, std::string_view reason);

// An RFC 9457 problem. `type` is a URI reference relative to the API ("/problems/<slug>").
struct problem {
  int status{500};
  std::string slug;
  std::string title;
  std::string detail;
  std::string article;  // "Art. 34" when the error enforces an article of the measures
  std::string field;    // the offending field, for validation errors
};

// The one table from error codes (of every module) to HTTP status and problem type.
problem to_problem(const error& e);
http_response problem_response(const problem& p, std::string_view instance = {});
http_response error_response(const error& e, std::string_view instance = {});

}  // namespace caseline::gateway

template <>
struct std::is_error_code_enum<caseline::gateway::errc> : std::true_type {};
