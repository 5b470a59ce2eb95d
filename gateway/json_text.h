#pragma once

// The one JSON encoder of caseline: every JSON body the API answers (and every JSON file the
// tools write, the OpenAPI document included) is a boost::json::value serialized here.

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/json/fwd.hpp>

namespace caseline::gateway {

// The JSON text of `v`: object members in insertion order, no spaces. A double is printed
// rounded to 4 decimals in its shortest form ("0.25", "1", "0.6667"), as the reports' CSV and
// HTML show rates (projections::round4), never in Boost's exponent form ("2.5E-1"); every other
// value as Boost.JSON prints it.
std::string json_text(const boost::json::value& v);

// The form of a JSON file kept in the source tree and read by people (gateway/openapi.json):
// Python's json.dump(indent=1, ensure_ascii=False) and a newline. One space of indent per level,
// ": " after a key, "[]" and "{}" when empty, UTF-8 as it is (only '"', '\' and control
// characters escaped), a double as Python's repr ("0.25", "1.0").
std::string json_document_text(const boost::json::value& v);

// JSON text written straight into a string, in json_text's form (members in the order written,
// no spaces, strings escaped alike), for the bodies built on every request from typed rows (the
// list pages): no boost::json value in between. The caller writes a well-formed document (a
// `key` before each member's value). One per body; not thread-safe.
class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view name);  // the name of the member whose value comes next
  json_writer& str(std::string_view s);
  template <class I>
  json_writer& num(I n) {
    static_assert(std::is_integral_v<I> && !std::is_same_v<I, bool>, "an integer");
    if constexpr (std::is_signed_v<I>)
      return signed_num(n);
    else
      return unsigned_num(n);
  }
  json_writer& boolean(bool b);
  json_writer& null();
  std::string take() { return std::move(out_); }

 private:
  json_writer& signed_num(std::int64_t n);
  json_writer& unsigned_num(std::uint64_t n);
  void separate();  // a comma before an item that follows another in its object or array
  std::string out_;
  bool first_{true};  // nothing written yet in the current object or array, or a key just was
};

}  // namespace caseline::gateway
