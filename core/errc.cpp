#include "core/errc.h"

#include <string>

namespace caseline::core {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "caseline.core"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::invalid_argument: return "invalid argument";
      case errc::no_calendar_for_year: return "no calendar for that year";
      case errc::undecodable_event: return "event cannot be decoded";
      case errc::case_already_exists: return "a case is received once (Art. 26)";
      case errc::case_not_found: return "case not found";
      case errc::calendar_unreadable: return "calendar data file cannot be read";
      case errc::case_archived: return "an archived case takes no further command (Art. 38)";
      case errc::not_at_intake:
        return "only a received matter not yet classified can be answered at once, not accepted "
               "or redirected (Art. 26-29)";
      case errc::not_classified:
        return "a matter is classified before it is transferred or escalated (Art. 27)";
      case errc::unknown_center: return "the center is not in the registry (Art. 5)";
      case errc::unit_not_registered:
        return "a matter is transferred only to a handling unit registered with the center "
               "(Art. 30-31)";
      case errc::no_upper_center:
        return "the provincial center has no upper center; escalate to the department (Art. 27)";
      case errc::expressway_not_highway:
        return "only a highway matter can be an expressway matter (Art. 5)";
      case errc::not_transferred:
        return "only a matter transferred to a unit can be returned, extended or replied "
               "(Art. 32-37)";
      case errc::not_the_handling_unit:
        return "only the unit the matter is transferred to may act on it (Art. 30)";
      case errc::not_the_owning_center:
        return "only the center the matter belongs to may act on it (Art. 5, 27)";
      case errc::extension_after_deadline:
        return "extension must be requested before the reply deadline (Art. 34)";
      case errc::extension_too_long:
        return "extensions add at most 30 working days in total (Art. 34)";
      case errc::nothing_overdue:
        return "a reminder is sent only when a deadline has passed unmet (Art. 35)";
      case errc::reply_incomplete:
        return "a reply states the facts, the handling process and the legal basis (Art. 37)";
      case errc::not_replied:
        return "a matter is revisited after its reply or its immediate answer (Art. 23)";
      case errc::revisit_required:
        return "a complaint or sampled matter is archived only after its revisit (Art. 23, 38)";
      case errc::not_closable:
        return "a matter is archived once answered, not accepted, redirected or replied (Art. 38)";
      case errc::already_flagged: return "a matter is flagged major-urgent once (Art. 40, 43)";
      case errc::flag_too_late:
        return "a matter is flagged major-urgent while it is open (Art. 40, 43)";
      case errc::sample_rate_too_low:
        return "at least 30% of replied matters are revisited (Art. 23)";
      case errc::not_permitted: return "the actor's role may not issue this command (Art. 16-23)";
      case errc::retention_not_over:
        return "nothing may be purged before its retain-until date: call audio is kept at least "
               "1 year, text at least 5 years after archiving (Art. 38)";
      case errc::legal_hold: return "a legal hold stops every purge until it is lifted (Art. 38)";
      case errc::nothing_to_purge:
        return "there is nothing left to purge: no recording, or already purged (Art. 38)";
      case errc::hold_state: return "a legal hold is placed once and lifted once (Art. 38)";
      case errc::retention_too_short:
        return "retention may only be made longer than the regulation's minimum (Art. 38)";
      case errc::received_out_of_range:
        return "a matter's deadlines count from when it was received: occurred_at may not be in "
               "the future nor more than 7 days before it is recorded (Art. 27)";
      case errc::return_window_passed:
        return "a unit returns a matter within 2 working days of its transfer; a later return "
               "is accepted only by a shift lead, with a reason (Art. 32)";
      case errc::no_extension_request:
        return "an extension is approved by the unit's head on the unit's request; there is no "
               "pending request (Art. 34)";
      case errc::return_window_open:
        return "a late return is accepted only once the unit's 2-working-day window has passed; "
               "until then the unit returns the matter itself (Art. 32)";
    }
    return "unknown core error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace caseline::core
