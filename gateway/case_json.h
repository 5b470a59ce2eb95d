#pragma once

#include <string>

#include "core/case_state.h"
#include "events/record.h"
#include "gateway/json_text.h"

namespace caseline::gateway {

// How personal fields are shown. They must have been opened (projections::personal_data) before
// rendering: these functions never decrypt.
struct personal_view {
  // The caller's number is shown as "138****0000" (roles that do not need it).
  bool mask_phone{false};
  // The case's text was crypto-shredded (Art. 38): every personal field is null, and the case
  // carries "personal_data": "shredded". The non-personal facts stay.
  bool shredded{false};
  // A command's answer whose personal fields could not be shown (their read could not be
  // recorded in the access log, e.g. on a full disk): they are null and the case carries
  // "personal_data": "withheld"; the command was written, and a later read shows them.
  bool withheld{false};
};

// The case and its events are written straight as JSON text (json_writer), as the list pages
// are: GET /v1/cases/{id}, its history and every command's answer render them on each request,
// and building a boost::json value of some forty members first cost more than the store's read.
// The members and their order are the API's (gateway/openapi.json); tests/gateway/case_json_test
// holds them against the boost::json rendering they replaced.

// The case as the API shows it. `now` decides which deadlines are pending or missed.
void write_case(json_writer& w, const core::case_state& s, timestamp now, personal_view view = {});
std::string case_json(const core::case_state& s, timestamp now, personal_view view = {});

// One event of a case's history: envelope and body.
void write_event(json_writer& w, const events::envelope& env, const core::event& e,
                 personal_view view = {});

}  // namespace caseline::gateway
