#pragma once

#include <boost/json/object.hpp>

#include "core/case_state.h"
#include "events/record.h"

namespace caseline::gateway {

// How personal fields are shown. They must have been opened (projections::personal_data) before
// rendering: these functions never decrypt.
struct personal_view {
  // The caller's number is shown as "138****0000" (roles that do not need it).
  bool mask_phone{false};
  // The case's text was crypto-shredded (Art. 38): every personal field is null, and the case
  // carries "personal_data": "shredded". The non-personal facts stay.
  bool shredded{false};
};

// The case as the API shows it. `now` decides which deadlines are pending or missed.
boost::json::object case_to_json(const core::case_state& s, timestamp now,
                                 personal_view view = {});
// One event of a case's history: envelope and body.
boost::json::object event_to_json(const events::envelope& env, const core::event& e,
                                  personal_view view = {});

}  // namespace caseline::gateway
