#pragma once

// The one JSON encoder of caseline: every JSON body the API answers (and every JSON file the
// tools write) is a boost::json::value serialized here.

#include <string>

#include <boost/json/fwd.hpp>

namespace caseline::gateway {

// The JSON text of `v`: object members in insertion order, no spaces. A double is printed
// rounded to 4 decimals in its shortest form ("0.25", "1", "0.6667"), as the reports' CSV and
// HTML show rates (projections::round4), never in Boost's exponent form ("2.5E-1"); every other
// value as Boost.JSON prints it.
std::string json_text(const boost::json::value& v);

}  // namespace caseline::gateway
