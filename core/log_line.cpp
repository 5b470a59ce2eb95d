#include "core/log_line.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace caseline {

namespace {

// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t i = 2; i < len; ++i)
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  return len;
}

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    const std::size_t n = utf8_sequence(s);
    if (n == 0) {
      out += replacement;
      s.remove_prefix(1);
    } else {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
    }
  }
  return out;
}

namespace {

// Appends `raw` to `out` as a JSON string literal, in one pass: what json_quoted(raw) returns.
// Bytes below 0x80 are escaped as JSON needs (and DEL, as a control character); a valid UTF-8
// sequence is copied; a byte that starts no valid sequence becomes U+FFFD (valid_utf8).
void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  while (!s.empty()) {
    // A run of printable ASCII that needs no escape is copied whole.
    std::size_t plain = 0;
    while (plain < s.size()) {
      const auto b = static_cast<unsigned char>(s[plain]);
      if (b < 0x20 || b >= 0x7F || b == '"' || b == '\\') break;
      ++plain;
    }
    if (plain > 0) {
      out.append(s.data(), plain);
      s.remove_prefix(plain);
      continue;
    }
    const auto c = static_cast<unsigned char>(s[0]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence(s);
      out += n == 0 ? replacement : s.substr(0, n);
      s.remove_prefix(n == 0 ? 1 : n);
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        // The other control characters and DEL (a printable byte was copied above).
        static constexpr char hex[] = "0123456789abcdef";
        const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        out.append(esc, sizeof esc);
      }
    }
    s.remove_prefix(1);
  }
  out += '"';
}

template <class I>
void append_integer(std::string& out, I v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

std::string json_quoted(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + 2);
  append_quoted(out, raw);
  return out;
}

// Built in one string, each value escaped straight into it: a request's line is written for
// every answer the server gives.
std::string log_line(std::string_view event, std::initializer_list<log_field> fields) {
  std::size_t size = event.size() + 16;
  for (const auto& f : fields) {
    size += f.name.size() + 8;
    if (const auto* v = std::get_if<std::string_view>(&f.value))
      size += v->size();
    else
      size += 24;
  }
  std::string out;
  out.reserve(size);
  out += "{\"event\":";
  append_quoted(out, event);
  for (const auto& f : fields) {
    out += ',';
    append_quoted(out, f.name);
    out += ':';
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            append_quoted(out, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<T, double>) {
            if (std::isfinite(v)) {
              char buf[32];
              std::snprintf(buf, sizeof buf, "%.17g", v);
              out += buf;
            } else {
              out += "null";  // JSON has no NaN or infinity
            }
          } else {
            append_integer(out, v);
          }
        },
        f.value);
  }
  out += '}';
  return out;
}

}  // namespace caseline
