#include "gateway/json_text.h"

#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <boost/json/value.hpp>

#include "projections/report_render.h"

namespace caseline::gateway {

namespace {

namespace json = boost::json;

// True when one of the eight bytes of `w` must be escaped: below 0x20, '"' or '\\'. Exact for
// the word as a whole (a borrow only starts at a byte that matched; bytes of 0x80 and above
// never match), so that a word it passes is copied as it is.
constexpr bool needs_escape(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high = 0x8080808080808080ULL;
  const auto below = [](std::uint64_t x, std::uint64_t n) { return (x - ones * n) & ~x & high; };
  return (below(w, 0x20) | below(w ^ (ones * '"'), 1) | below(w ^ (ones * '\\'), 1)) != 0;
}

// A JSON string as boost::json::serialize writes it, and Python's json.dump with
// ensure_ascii=False, byte for byte, without an allocation of its own (this runs for every key
// and value of every answer): '"' and '\\' escaped, the control characters as \b \t \n \f \r
// or \u00xx, every other byte (UTF-8 included) as it is. Runs of plain bytes are found eight at
// a time and copied whole.
void write_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  const std::size_t n = s.size();
  std::size_t plain = 0;  // start of the run not yet copied
  for (std::size_t i = 0; i < n; ++i) {
    for (std::uint64_t w; i + 8 <= n; i += 8) {
      std::memcpy(&w, s.data() + i, 8);
      if (needs_escape(w)) break;
    }
    if (i == n) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    out += '\\';
    switch (c) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '\b':
        out += 'b';
        break;
      case '\t':
        out += 't';
        break;
      case '\n':
        out += 'n';
        break;
      case '\f':
        out += 'f';
        break;
      case '\r':
        out += 'r';
        break;
      default:
        out += "u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + plain, n - plain);
  out += '"';
}

// A string, an integer, a boolean or null, the same in both forms; false for the others.
bool write_plain(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      write_string(out, v.get_string());
      return true;
    case json::kind::int64:
      fmt::format_to(std::back_inserter(out), "{}", v.get_int64());
      return true;
    case json::kind::uint64:
      fmt::format_to(std::back_inserter(out), "{}", v.get_uint64());
      return true;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return true;
    case json::kind::null:
      out += "null";
      return true;
    default:
      return false;
  }
}

void write(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out += ',';
        first = false;
        write_string(out, member.key());
        out += ':';
        write(out, member.value());
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write(out, item);
      }
      out += ']';
      return;
    }
    case json::kind::double_:
      fmt::format_to(std::back_inserter(out), "{}", projections::round4(v.get_double()));
      return;
    default:
      write_plain(out, v);
  }
}

}  // namespace

void json_writer::separate() {
  if (!first_) out_ += ',';
  first_ = false;
}

json_writer& json_writer::begin_object() {
  separate();
  out_ += '{';
  first_ = true;
  return *this;
}

json_writer& json_writer::end_object() {
  out_ += '}';
  first_ = false;
  return *this;
}

json_writer& json_writer::begin_array() {
  separate();
  out_ += '[';
  first_ = true;
  return *this;
}

json_writer& json_writer::end_array() {
  out_ += ']';
  first_ = false;
  return *this;
}

json_writer& json_writer::key(std::string_view name) {
  separate();
  write_string(out_, name);
  out_ += ':';
  first_ = true;  // the value that follows takes no comma
  return *this;
}

json_writer& json_writer::str(std::string_view s) {
  separate();
  write_string(out_, s);
  return *this;
}

json_writer& json_writer::signed_num(std::int64_t n) {
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", n);
  return *this;
}

json_writer& json_writer::unsigned_num(std::uint64_t n) {
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", n);
  return *this;
}

json_writer& json_writer::boolean(bool b) {
  separate();
  out_ += b ? "true" : "false";
  return *this;
}

json_writer& json_writer::null() {
  separate();
  out_ += "null";
  return *this;
}

namespace {

// --- the document form: Python's json.dump(indent=1, ensure_ascii=False) ------------------------

// Python's repr of a float: the shortest text that reads back, with a ".0" on a whole number.
std::string python_float(double d) {
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

void write_value(std::string& out, const json::value& v, int depth) {
  const auto newline = [&](int d) {
    out += '\n';
    out.append(static_cast<std::size_t>(d), ' ');
  };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& [k, item] : o) {
        if (!first) out += ',';
        first = false;
        newline(depth + 1);
        write_string(out, k);
        out += ": ";
        write_value(out, item, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& item : a) {
        if (!first) out += ',';
        first = false;
        newline(depth + 1);
        write_value(out, item, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case json::kind::double_:
      out += python_float(v.get_double());
      return;
    default:
      write_plain(out, v);
  }
}

}  // namespace

std::string json_document_text(const json::value& v) {
  std::string out;
  write_value(out, v, 0);
  out += '\n';
  return out;
}

std::string json_text(const json::value& v) {
  std::string out;
  out.reserve(256);
  write(out, v);
  return out;
}

}  // namespace caseline::gateway
