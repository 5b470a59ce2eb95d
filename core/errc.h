#pragma once

#include <system_error>

namespace caseline::core {

// Rule violations and domain failures. Each message names the rule and, where the regulation
// sets it, the article.
enum class errc {
  ok = 0,
  invalid_argument = 1,      // a field is missing or malformed (detail names it)
  no_calendar_for_year,      // the calendar has no data for that year
  undecodable_event,         // an event body that cannot be decoded
  case_already_exists,       // receive on a case that has events
  case_not_found,            // a command for a case that was never received
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace caseline::core

template <>
struct std::is_error_code_enum<caseline::core::errc> : std::true_type {};
