#pragma once

// The domain events of a case. Each type has a stable numeric id (never reused) and a version
// (CEREAL_CLASS_VERSION); the body is encoded with cereal's portable binary archive by
// core/codec.h. Golden samples of every type and version live under tests/core/golden/.
// Deadlines are computed when an event is decided and stored in it, so a replay years later
// gives the same deadlines even if the calendar file changed since.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include "core/ids.h"
#include "core/time.h"

namespace caseline::core {

enum class channel : std::uint8_t { phone, website, sms, wechat, app, email, fax, other_hotline };
// Art. 28 (1)-(5).
enum class not_accepted_reason : std::uint8_t {
  outside_remit,           // (1) outside the remit of transport authorities
  no_clear_subject,        // (2) a complaint without a clear subject, facts and grounds
  handled_by_other_body,   // (3) accepted by a court, arbitration or reconsideration body
  secrets_or_privacy,      // (4) state secrets, trade secrets or personal privacy
  excluded_by_law,         // (5) other cases excluded by law
};
// Art. 29: lines that are not 12328's.
enum class redirect_target : std::uint8_t { rail, aviation, postal, expressway_rescue, water_distress };
// Art. 3.
enum class category : std::uint8_t { complaint, inquiry, suggestion };
enum class domain : std::uint8_t {
  highway, waterway, road_transport, maritime, rescue_salvage, work_safety
};
// Art. 27.
enum class escalation_target : std::uint8_t { upper_center, department };
enum class escalation_reason : std::uint8_t { cross_region, no_unit };
// Art. 34.
enum class extension_reason : std::uint8_t { complex, evidence, appraisal, other };
// The deadlines a center tracks (Art. 27, 33-35) and the unit's return window (Art. 32).
enum class deadline_kind : std::uint8_t { transfer, reply, return_window };
// Art. 23.
enum class satisfaction : std::uint8_t { satisfied, basically_satisfied, dissatisfied };
enum class timeliness : std::uint8_t { timely, acceptable, too_slow };

std::string_view to_string(channel v);
std::string_view to_string(not_accepted_reason v);
std::string_view to_string(redirect_target v);
std::string_view to_string(category v);
std::string_view to_string(domain v);
std::string_view to_string(escalation_target v);
std::string_view to_string(escalation_reason v);
std::string_view to_string(extension_reason v);
std::string_view to_string(deadline_kind v);
std::string_view to_string(satisfaction v);
std::string_view to_string(timeliness v);

// The caller and how to answer them. Phone is required only for the phone channel; a matter that
// came by another channel is answered by phone or through the channel's account (v2: the WeChat,
// app or web account id), a personal field sealed like the phone (Art. 23).
struct caller_info {
  std::string phone;
  std::string name;
  std::string account{};  // v2

  friend bool operator==(const caller_info&, const caller_info&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(phone, name);
    if (version >= 2) ar(account);
  }
};

// What a stored deadline stands on: whether a working day it counted lies in a year without its
// State Council notice (a provisional year, or beyond the calendar data), and the version of the
// calendar it was computed with (calendar::version()). An event written before deadlines kept
// this decodes as official with an empty version: its calendar was the official one then.
struct deadline_basis {
  bool provisional{false};
  std::string calendar;

  friend bool operator==(const deadline_basis&, const deadline_basis&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(provisional, calendar);
  }
};

// A reference to the call audio in the blob store (content-addressed).
struct recording_ref {
  std::string uri;
  std::string sha256;
  std::uint32_t duration_s{0};

  friend bool operator==(const recording_ref&, const recording_ref&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(uri, sha256, duration_s);
  }
};

// id 1: a matter was recorded at a center (Art. 26). Deadline: transfer within 3 wd (Art. 27).
// v1: without id and received_by. v2 adds them; a v1 body decodes with both empty (upcast).
// v3 adds transfer_basis; older bodies decode as official with no calendar version.
// v4 adds the category and domain named at intake (Art. 39); older bodies decode without them.
// v5 adds received_at: when the matter was received, if the agent named it (Art. 27: received_on
// and transfer_due count from it); older bodies, and matters recorded as they come, have none
// and were received when recorded (the envelope's recorded_at).
// v6: the caller may carry the channel's account (caller_info v2); older bodies hold caller_info
// v1, which decodes without one.
struct case_received {
  static constexpr std::uint16_t type_id = 1;
  friend bool operator==(const case_received&, const case_received&) = default;
  channel via{channel::phone};
  center_code center;
  caller_info caller;
  std::string content;
  std::optional<recording_ref> recording;
  civil_date received_on;   // Asia/Shanghai date of receipt
  civil_date transfer_due;  // 3 wd after received_on (Art. 27), fixed when decided
  case_id id;               // v2
  user_id received_by;      // v2: the agent who recorded it
  deadline_basis transfer_basis;  // v3
  std::optional<core::category> cat{};  // v4
  std::optional<core::domain> dom{};    // v4
  std::optional<timestamp> received_at{};  // v5

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(via, center, caller, content, recording, received_on, transfer_due);
    if (version >= 2) ar(id, received_by);
    if (version >= 3) ar(transfer_basis);
    if (version >= 4) ar(cat, dom);
    if (version >= 5) ar(received_at);
  }
};

// id 2: answered at once (即时答复, Art. 26). v2 adds revisit_required: matters answered at once
// are revisited too (Art. 23(1)): complaints always, others when the center's monthly sample
// picks them (core/sla.h). A v1 body decodes as not picked: before v2 none was revisited.
struct answered_immediately {
  static constexpr std::uint16_t type_id = 2;
  friend bool operator==(const answered_immediately&, const answered_immediately&) = default;
  std::string answer;
  civil_date answered_on;
  user_id by;
  bool revisit_required{false};  // v2

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(answer, answered_on, by);
    if (version >= 2) ar(revisit_required);
  }
};

// id 3: not accepted (不予受理, Art. 28), the reason told to the caller.
struct not_accepted {
  static constexpr std::uint16_t type_id = 3;
  friend bool operator==(const not_accepted&, const not_accepted&) = default;
  not_accepted_reason reason{not_accepted_reason::outside_remit};
  std::string explanation;
  civil_date decided_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(reason, explanation, decided_on, by);
  }
};

// id 4: the caller was given another line's number, or the call was put through (Art. 29).
struct redirected {
  static constexpr std::uint16_t type_id = 4;
  friend bool operator==(const redirected&, const redirected&) = default;
  redirect_target target{redirect_target::rail};
  std::string number_given;  // e.g. "12306"
  bool call_transferred{false};
  civil_date redirected_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(target, number_given, call_transferred, redirected_on, by);
  }
};

// id 5: classified (Art. 27). An expressway matter belongs to the provincial center (Art. 5):
// owner_center says which center the case belongs to from now on.
struct classified {
  static constexpr std::uint16_t type_id = 5;
  friend bool operator==(const classified&, const classified&) = default;
  core::category cat{core::category::inquiry};
  core::domain dom{core::domain::highway};
  std::vector<std::string> topics;
  bool expressway{false};
  center_code owner_center;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(cat, dom, topics, expressway, owner_center, by);
  }
};

// id 6: transferred to a handling unit (Art. 27, 30). The return window (Art. 32) is counted from
// transferred_on, the reply deadline (Art. 33) from reply_from. v2 adds what each stands on.
// v3 adds reply_from: a matter transferred again to a unit that had it before (it returned it)
// counts that unit's reply deadline from the first transfer to it, so a return does not restart
// the unit's clock (Art. 32-33). Older bodies, and first transfers, have none: transferred_on.
struct transferred {
  static constexpr std::uint16_t type_id = 6;
  friend bool operator==(const transferred&, const transferred&) = default;
  unit_id unit;
  center_code center;
  civil_date transferred_on;
  civil_date return_by;     // 2 wd (Art. 32)
  working_days reply_days;  // 5 / 10 / 30 wd by category (Art. 33), as configured
  civil_date reply_due;
  bool late{false};         // after the case's transfer deadline (Art. 27)
  user_id by;
  deadline_basis return_basis;  // v2
  deadline_basis reply_basis;   // v2
  std::optional<civil_date> reply_from{};  // v3

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(unit, center, transferred_on, return_by, reply_days, reply_due, late, by);
    if (version >= 2) ar(return_basis, reply_basis);
    if (version >= 3) ar(reply_from);
  }
};

// id 7: escalated for coordinated transfer (Art. 27). to_center is the upper center, or empty
// when escalated to the department.
struct escalated {
  static constexpr std::uint16_t type_id = 7;
  friend bool operator==(const escalated&, const escalated&) = default;
  escalation_target target{escalation_target::upper_center};
  escalation_reason reason{escalation_reason::cross_region};
  center_code from_center;
  center_code to_center;
  std::string note;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(target, reason, from_center, to_center, note, by);
  }
};

// id 8: returned by the unit as outside its remit (Art. 32). The unit returns a matter within the
// 2-wd window itself; a later return is refused, and only a shift lead may accept it, with a
// reason: the event is then the shift lead's (by), late, with accepted_late_reason. v1 bodies
// (when a late return was accepted from the unit and only marked late) decode without a reason.
struct returned {
  static constexpr std::uint16_t type_id = 8;
  friend bool operator==(const returned&, const returned&) = default;
  unit_id unit;
  std::string reasons;  // the unit's
  civil_date returned_on;
  bool late{false};
  user_id by;
  std::string accepted_late_reason{};  // v2: the shift lead's, for a late return

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(unit, reasons, returned_on, late, by);
    if (version >= 2) ar(accepted_late_reason);
  }
};

// id 9: reply deadline extended with the unit head's approval (Art. 34). v2 adds reply_basis.
// v3: approved_by (who approved, as the unit gave it: may be a person's name) is a personal
// field, sealed like the explanation; in v1 and v2 bodies it is plain text (same bytes: a
// user_id is stored as its string), which the upcast says with approved_by_sealed = false.
// v4: the approver is the authenticated unit head, never a text field: approved_by is the head's
// user id (the event's actor, `by`), in the clear like every actor, and requested_by the unit
// member whose request the head approved (empty when the head extended directly). An approved
// request's explanation stays in its extension_requested event (sealed there, bound to it):
// the extended event then has none. Bodies before v4 decode with no requested_by.
struct extended {
  static constexpr std::uint16_t type_id = 9;
  friend bool operator==(const extended&, const extended&) = default;
  std::string approved_by;
  extension_reason reason{extension_reason::complex};
  working_days days;
  std::string explanation;
  civil_date previous_due;
  civil_date reply_due;  // the new deadline
  user_id by;
  deadline_basis reply_basis;  // v2
  user_id requested_by{};      // v4
  bool approved_by_sealed{false};  // not stored: only v3 sealed it

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(approved_by, reason, days, explanation, previous_due, reply_due, by);
    if (version >= 2) ar(reply_basis);
    if (version >= 4) ar(requested_by);
    if constexpr (Archive::is_loading::value) approved_by_sealed = version == 3;
  }
};

// id 10: the center reminded the unit (or itself) of a passed deadline (Art. 35). (kind, due)
// identifies the deadline, so a second reminder for it is a no-op.
struct reminded {
  static constexpr std::uint16_t type_id = 10;
  friend bool operator==(const reminded&, const reminded&) = default;
  deadline_kind kind{deadline_kind::reply};
  civil_date due;
  civil_date reminded_on;
  unit_id unit;  // empty for the transfer deadline
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(kind, due, reminded_on, unit, by);
  }
};

// id 11: the unit's reply (Art. 37). revisit_required is decided here (complaints always,
// others by the center's monthly sample, core/sla.h, Art. 23, 46) and stored, so the picks and
// the revisit queues are rebuilt exactly from the log.
struct replied {
  static constexpr std::uint16_t type_id = 11;
  friend bool operator==(const replied&, const replied&) = default;
  std::string facts;
  std::string process;
  std::string basis;
  bool caller_reached{false};
  civil_date replied_on;
  bool on_time{false};
  bool revisit_required{false};
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(facts, process, basis, caller_reached, replied_on, on_time, revisit_required, by);
  }
};

// id 12: the revisit (Art. 23). further_handling reopens the case for the unit with a new reply
// deadline. v2 adds the working days and the basis of that deadline.
struct revisited {
  static constexpr std::uint16_t type_id = 12;
  friend bool operator==(const revisited&, const revisited&) = default;
  bool reached{false};
  std::optional<core::satisfaction> result_view;
  std::optional<core::timeliness> time_view;
  bool further_handling{false};
  std::string notes;
  civil_date revisited_on;
  std::optional<civil_date> reopened_reply_due;
  user_id by;
  working_days reopened_reply_days;  // v2 (0 in v1 bodies: the category's limit then)
  deadline_basis reopened_basis;     // v2

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(reached, result_view, time_view, further_handling, notes, revisited_on, reopened_reply_due, by);
    if (version >= 2) ar(reopened_reply_days, reopened_basis);
  }
};

// id 13: closed and archived (Art. 38).
struct archived {
  static constexpr std::uint16_t type_id = 13;
  friend bool operator==(const archived&, const archived&) = default;
  civil_date archived_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(archived_on, by);
  }
};

// id 14: a major urgent matter (Art. 40(4), 43): reported at once, triggers the emergency plan.
struct flagged_major_urgent {
  static constexpr std::uint16_t type_id = 14;
  friend bool operator==(const flagged_major_urgent&, const flagged_major_urgent&) = default;
  std::string reason;
  civil_date flagged_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(reason, flagged_on, by);
  }
};

// What retention concerns: the call audio (kept at least 1 year) or the case's text (kept at least
// 5 years), both counted from archiving, Art. 38.
enum class retained_item : std::uint8_t { recording, text };
std::string_view to_string(retained_item v);

// id 15: the call audio was deleted from the blob store after its retention (Art. 38).
struct recording_purged {
  static constexpr std::uint16_t type_id = 15;
  friend bool operator==(const recording_purged&, const recording_purged&) = default;
  std::string sha256;
  civil_date retain_until;  // the last day it had to be kept, as the rule stood when purged
  civil_date purged_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(sha256, retain_until, purged_on, by);
  }
};

// id 16: the case's personal text was made unreadable for ever by deleting its data key
// (crypto-shredding) after its retention (Art. 38). Non-personal facts stay.
struct text_shredded {
  static constexpr std::uint16_t type_id = 16;
  friend bool operator==(const text_shredded&, const text_shredded&) = default;
  civil_date retain_until;
  civil_date shredded_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(retain_until, shredded_on, by);
  }
};

// id 18: a legal hold: nothing of the case is purged until it is lifted.
struct legal_hold_placed {
  static constexpr std::uint16_t type_id = 18;
  friend bool operator==(const legal_hold_placed&, const legal_hold_placed&) = default;
  std::string reason;
  civil_date placed_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(reason, placed_on, by);
  }
};

// id 19
struct legal_hold_lifted {
  static constexpr std::uint16_t type_id = 19;
  friend bool operator==(const legal_hold_lifted&, const legal_hold_lifted&) = default;
  std::string reason;
  civil_date lifted_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(reason, lifted_on, by);
  }
};

// id 20: a purge that was refused (before retain-until, or under a legal hold) is itself
// recorded, so that the audit shows every attempt.
struct purge_refused {
  static constexpr std::uint16_t type_id = 20;
  friend bool operator==(const purge_refused&, const purge_refused&) = default;
  retained_item item{retained_item::text};
  std::string rule;  // the rule that refused it, with its article
  std::optional<civil_date> retain_until;
  civil_date attempted_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(item, rule, retain_until, attempted_on, by);
  }
};

// id 21: a pending deadline recomputed on a newer calendar: a year's notice was published after
// the deadline had been counted on the provisional year (or the calendar was corrected). Only
// deadlines still pending are revised; a revision never moves one to a day already past (it is
// then due the day of the revision). Earlier events are never rewritten.
struct deadline_revised {
  static constexpr std::uint16_t type_id = 21;
  friend bool operator==(const deadline_revised&, const deadline_revised&) = default;
  deadline_kind kind{deadline_kind::reply};
  civil_date previous_due;
  civil_date due;
  deadline_basis basis;  // the new one
  civil_date revised_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(kind, previous_due, due, basis, revised_on, by);
  }
};

// id 24: the unit asks its head to extend the reply deadline (Art. 34). Nothing changes until
// the head approves it (an extended event); a later request replaces a pending one.
struct extension_requested {
  static constexpr std::uint16_t type_id = 24;
  friend bool operator==(const extension_requested&, const extension_requested&) = default;
  extension_reason reason{extension_reason::complex};
  working_days days;
  std::string explanation;  // told to the caller (Art. 34); personal, sealed
  civil_date requested_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(reason, days, explanation, requested_on, by);
  }
};

// id 25: the reply deadline passed with no reply, so the center reported the matter to its own
// level's transport department for coordination (Art. 35: 报请本级交通运输主管部门协调处理).
// Written with the reminder of the same deadline, in the same append, so there is exactly one
// per matter and overdue cycle (a cycle is one reply deadline: an extension or a new transfer
// that misses its deadline again is a new cycle). center is the reporting center: the
// department is the one at its level.
struct overdue_reported {
  static constexpr std::uint16_t type_id = 25;
  friend bool operator==(const overdue_reported&, const overdue_reported&) = default;
  civil_date due;  // the reply deadline that passed
  civil_date reported_on;
  unit_id unit;
  center_code center;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(due, reported_on, unit, center, by);
  }
};

// Ids taken by events that are not case events: never reuse them.
namespace reserved_type_id {
inline constexpr std::uint16_t recording_purged = 15;
inline constexpr std::uint16_t text_shredded = 16;
inline constexpr std::uint16_t unit_registered = 17;          // core/registry.h
inline constexpr std::uint16_t calendar_year_published = 22;  // core/registry.h
inline constexpr std::uint16_t token_issued = 26;             // core/registry.h
inline constexpr std::uint16_t token_revoked = 27;            // core/registry.h
}  // namespace reserved_type_id

// Every case event type, in type-id order. Appending a type is fine; removing or reordering is
// not (the id, not the index, is what is stored).
using event = std::variant<case_received, answered_immediately, not_accepted, redirected,
                           classified, transferred, escalated, returned, extended, reminded,
                           replied, revisited, archived, flagged_major_urgent, recording_purged,
                           text_shredded, legal_hold_placed, legal_hold_lifted, purge_refused,
                           deadline_revised, extension_requested, overdue_reported>;

}  // namespace caseline::core

CEREAL_CLASS_VERSION(caseline::core::caller_info, 2);
CEREAL_CLASS_VERSION(caseline::core::recording_ref, 1);
CEREAL_CLASS_VERSION(caseline::core::deadline_basis, 1);
CEREAL_CLASS_VERSION(caseline::core::case_received, 6);
CEREAL_CLASS_VERSION(caseline::core::answered_immediately, 2);
CEREAL_CLASS_VERSION(caseline::core::not_accepted, 1);
CEREAL_CLASS_VERSION(caseline::core::redirected, 1);
CEREAL_CLASS_VERSION(caseline::core::classified, 1);
CEREAL_CLASS_VERSION(caseline::core::transferred, 3);
CEREAL_CLASS_VERSION(caseline::core::escalated, 1);
CEREAL_CLASS_VERSION(caseline::core::returned, 2);
CEREAL_CLASS_VERSION(caseline::core::extended, 4);
CEREAL_CLASS_VERSION(caseline::core::reminded, 1);
CEREAL_CLASS_VERSION(caseline::core::replied, 1);
CEREAL_CLASS_VERSION(caseline::core::revisited, 2);
CEREAL_CLASS_VERSION(caseline::core::archived, 1);
CEREAL_CLASS_VERSION(caseline::core::flagged_major_urgent, 1);
CEREAL_CLASS_VERSION(caseline::core::recording_purged, 1);
CEREAL_CLASS_VERSION(caseline::core::text_shredded, 1);
CEREAL_CLASS_VERSION(caseline::core::legal_hold_placed, 1);
CEREAL_CLASS_VERSION(caseline::core::legal_hold_lifted, 1);
CEREAL_CLASS_VERSION(caseline::core::purge_refused, 1);
CEREAL_CLASS_VERSION(caseline::core::deadline_revised, 1);
CEREAL_CLASS_VERSION(caseline::core::extension_requested, 1);
CEREAL_CLASS_VERSION(caseline::core::overdue_reported, 1);
