#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>

namespace caseline {

// An expected failure: a code from one of the modules' categories (whose message names the rule
// and, for the regulation, the article) and a detail that says which field or value it concerns.
// The detail never holds personal data: it is shown to clients and written to logs.
struct error {
  std::error_code code;
  std::string detail;
  // The request field (a body field's path or a query parameter) a validation error concerns,
  // typed, so that the gateway's problem names it without reading the detail; empty otherwise.
  std::string field;

  // "<code message>: <detail>", or the code message alone.
  std::string message() const {
    std::string m = code.message();
    if (!detail.empty()) {
      m += ": ";
      m += detail;
    }
    return m;
  }
};

// Errors are values. Accessing the value of a failed result terminates: that is a bug, not an
// expected outcome.
template <class T>
using result = boost::outcome_v2::basic_result<T, error, boost::outcome_v2::policy::terminate>;

using boost::outcome_v2::success;

inline error make_error(std::error_code code, std::string detail = {}) {
  return error{code, std::move(detail), {}};
}

// A validation error naming its field: the detail reads "<field>: <reason>" (or the field alone).
inline error make_field_error(std::error_code code, std::string field,
                              std::string_view reason = {}) {
  std::string detail = field;
  if (!reason.empty()) {
    detail += ": ";
    detail += reason;
  }
  return error{code, std::move(detail), std::move(field)};
}

}  // namespace caseline
