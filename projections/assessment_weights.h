#pragma once

// The weights of the monthly assessment score (Art. 45). The measures name the indicators but
// give no formula and no weights (projections/README-reports.md), so the weights are deployment
// configuration: `serve --assessment-weights` and `caseline report ... --assessment-weights`.

#include <string>
#include <string_view>

#include "core/result.h"

namespace caseline::projections {

// score = Σ wᵢ·rᵢ / Σ wᵢ over the defined rates; every weight 1 by default (the plain mean).
struct assessment_weights {
  double immediate_answer{1};
  double on_time{1};
  double revisit{1};
  double satisfaction{1};
  friend bool operator==(const assessment_weights&, const assessment_weights&) = default;
};

// "immediate_answer=2,on_time=1,revisit=0.5,satisfaction=1": names not given keep weight 1; an
// empty text gives the defaults. errc::invalid_argument naming the bad entry: an unknown rate
// name, an entry without '=', a repeated name, a weight that is not a decimal number >= 0 with at most
// 4 decimals (reports show 4), or every weight 0.
result<assessment_weights> parse_assessment_weights(std::string_view text);

// The same form, every name in order: parse_assessment_weights(to_string(w)) == w.
std::string to_string(const assessment_weights& w);

}  // namespace caseline::projections
