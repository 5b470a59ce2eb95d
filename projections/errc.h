#pragma once

#include <system_error>

namespace caseline::projections {

enum class errc {
  ok = 0,
  case_not_found = 1,  // no such case (or, to the gateway, not in the caller's scope)
  stale_version,       // If-Match named a version that is no longer current
  shutting_down,       // the writer no longer takes commands
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace caseline::projections

template <>
struct std::is_error_code_enum<caseline::projections::errc> : std::true_type {};
