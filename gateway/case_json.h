#pragma once

#include <boost/json/object.hpp>

#include "core/case_state.h"
#include "events/record.h"

namespace caseline::gateway {

// The case as the API shows it. `now` decides which deadlines are pending or missed.
boost::json::object case_to_json(const core::case_state& s, timestamp now);
// One event of a case's history: envelope and body.
boost::json::object event_to_json(const events::envelope& env, const core::event& e);

}  // namespace caseline::gateway
