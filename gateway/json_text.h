#pragma once

// The one JSON encoder of caseline: every JSON body the API answers (and every JSON file the
// tools write, the OpenAPI document included) is a boost::json::value serialized here.

#include <string>

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

}  // namespace caseline::gateway
