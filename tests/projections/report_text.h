#pragma once

// Reports as the API answers them: the gateway parses the route's text and is the one JSON
// encoder, so the tests of a report's JSON go through it too.

#include <string>
#include <string_view>

#include "gateway/json_text.h"
#include "gateway/query.h"
#include "gateway/read_model_json.h"
#include "projections/reports.h"

namespace caseline::projections::testing {

inline std::string report_text(const report& r) {
  return gateway::json_text(gateway::report_json(r));
}

// The body of GET /v1/reports/monthly/{month}?center=, or its error.
inline result<std::string> monthly_text(store& s, const core::registry& reg, std::string_view month,
                                        std::string_view center, const assessment_weights& w = {}) {
  auto req = gateway::parse_monthly(month, center);
  if (!req) return req.error();
  req.value().weights = w;
  auto r = build_report(report_reader(s), reg, req.value());
  if (!r) return r.error();
  return report_text(r.value());
}

}  // namespace caseline::projections::testing
