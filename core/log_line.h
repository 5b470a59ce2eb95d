#pragma once

// Log lines as JSON objects, built in one place so that no value can break out of its string:
// every string is escaped, and invalid UTF-8 becomes U+FFFD. The caller logs the line
// (`spdlog::warn("{}", log_line(...))`); the process's log pattern wraps it as "msg". Pure: no
// I/O, so every module (core included) may build lines.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace caseline {

// `s` with every byte sequence that is not valid UTF-8 (overlong forms, surrogates, code points
// above U+10FFFF, truncated sequences) replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

// `s` as a JSON string literal, quotes included: escaped, control characters as \u00XX,
// invalid UTF-8 replaced (valid_utf8).
std::string json_quoted(std::string_view s);

struct log_field {
  using value_type = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
  std::string_view name;
  value_type value;

  log_field(std::string_view n, std::string_view v) : name(n), value(v) {}
  log_field(std::string_view n, const std::string& v) : name(n), value(std::string_view(v)) {}
  log_field(std::string_view n, const char* v) : name(n), value(std::string_view(v)) {}
  log_field(std::string_view n, bool v) : name(n), value(v) {}
  log_field(std::string_view n, double v) : name(n), value(v) {}
  template <class I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
  log_field(std::string_view n, I v) : name(n) {
    if constexpr (std::is_signed_v<I>) {
      value = static_cast<std::int64_t>(v);
    } else {
      value = static_cast<std::uint64_t>(v);
    }
  }
};

// {"event":<event>,<name>:<value>,...}: one JSON object, every string escaped.
std::string log_line(std::string_view event, std::initializer_list<log_field> fields = {});

}  // namespace caseline
