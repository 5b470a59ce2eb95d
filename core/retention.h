#pragma once

#include <optional>

#include "core/case_state.h"
#include "core/result.h"
#include "core/time.h"

namespace caseline::core {

// How long things are kept (Art. 38): call audio at least 1 year, text at least 5 years, both
// counted from archiving (the matter's record is complete only then). A deployment may keep them
// longer, never shorter.
struct retention_policy {
  int recording_years{1};
  int text_years{5};

  // errc::retention_too_short below the regulation's minimum.
  result<void> check() const;
};

// The same month and day `years` later (29 February becomes 28 February in a common year).
civil_date add_years(civil_date d, int years);

// The last day the call audio must be kept: none when the case has no recording or is not
// archived yet (an open or reopened case keeps everything).
std::optional<civil_date> recording_retain_until(const case_state& s, const retention_policy& p);
// The last day the text must be kept: none until the case is archived.
std::optional<civil_date> text_retain_until(const case_state& s, const retention_policy& p);

}  // namespace caseline::core
