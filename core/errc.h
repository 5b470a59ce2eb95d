#pragma once

#include <system_error>

namespace caseline::core {

// Rule violations and domain failures. Each message names the rule and, where the regulation
// sets it, the article. Values are stable (they may be logged and mapped by the gateway):
// append, never renumber.
enum class errc {
  ok = 0,
  invalid_argument = 1,      // a field is missing or malformed (detail names it)
  no_calendar_for_year,      // the calendar has no data for that year
  undecodable_event,         // an event body that cannot be decoded
  case_already_exists,       // receive on a case that has events
  case_not_found,            // a command for a case that was never received
  calendar_unreadable,       // the calendar data file cannot be read (detail: the path)
  case_archived,             // any command on an archived case (Art. 38)
  not_at_intake,             // answer / not accept / redirect after intake is over (Art. 26-29)
  not_classified,            // transfer or escalation before classification (Art. 27)
  unknown_center,            // a center code that the registry does not know (Art. 5)
  unit_not_registered,       // transfer to a unit not registered with the center (Art. 30-31)
  no_upper_center,           // escalation above the provincial center (Art. 27)
  expressway_not_highway,    // `expressway` on a matter that is not a highway one (Art. 5)
  not_transferred,           // return, extension or reply without a transfer (Art. 32-37)
  not_the_handling_unit,     // a unit acting on a case transferred to another unit (Art. 30)
  not_the_owning_center,     // a center acting on a case that belongs to another (Art. 5, 27)
  extension_after_deadline,  // extension requested after the reply deadline (Art. 34)
  extension_too_long,        // extensions beyond 30 working days in total (Art. 34)
  nothing_overdue,           // a reminder for a deadline that has not passed or was met (Art. 35)
  reply_incomplete,          // a reply without facts, process or legal basis (Art. 37)
  not_replied,               // a revisit before the reply (Art. 23)
  revisit_required,          // archiving a complaint or sampled case before its revisit (Art. 23, 38)
  not_closable,              // archiving a case that is still being handled (Art. 38)
  already_flagged,           // flagging a case major-urgent twice (Art. 40, 43)
  flag_too_late,             // flagging a matter already closed (Art. 40, 43)
  sample_rate_too_low,       // a revisit sample rate below 30% (Art. 23)
  not_permitted,             // the actor's role may not issue the command (Art. 16-23)
  retention_not_over,        // a purge before the retain-until date (Art. 38)
  legal_hold,                // a purge while a legal hold stands (Art. 38)
  nothing_to_purge,          // no recording, or text already shredded (Art. 38)
  hold_state,                // a hold placed twice, or lifted when there is none
  retention_too_short,       // a retention period below the regulation's minimum (Art. 38)
  received_out_of_range,     // a receipt time in the future or more than 7 days back (Art. 27)
  return_window_passed,      // a unit's return after its 2-wd window (Art. 32)
  return_window_open,        // accepting a late return while the unit may still return (Art. 32)
  no_extension_request,      // approving an extension the unit has not requested (Art. 34)
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace caseline::core

template <>
struct std::is_error_code_enum<caseline::core::errc> : std::true_type {};
