#pragma once

#include <boost/json/object.hpp>

#include "core/case_state.h"
#include "events/record.h"

namespace caseline::gateway {

// The case as the API shows it. `now` decides which deadlines are pending or missed. With
// mask_phone, the caller's number is shown as "138****0000" (roles that do not need it).
boost::json::object case_to_json(const core::case_state& s, timestamp now, bool mask_phone = false);
// One event of a case's history: envelope and body.
boost::json::object event_to_json(const events::envelope& env, const core::event& e,
                                  bool mask_phone = false);

}  // namespace caseline::gateway
