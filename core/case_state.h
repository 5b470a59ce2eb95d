#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/events.h"

namespace caseline::core {

enum class case_status : std::uint8_t {
  none,          // no event yet
  received,      // recorded, awaiting an answer, classification or transfer (Art. 26)
  answered,      // answered at once (Art. 26)
  not_accepted,  // Art. 28
  redirected,    // Art. 29
  classified,    // Art. 27
  escalated,     // awaiting coordinated transfer (Art. 27)
  transferred,   // with a handling unit (Art. 30, 33)
  returned,      // the unit returned it; to be transferred again (Art. 32)
  replied,       // Art. 37
  revisited,     // Art. 23
  reopened,      // the revisit found more handling needed; with the unit again (Art. 23)
  archived,      // Art. 38
};
std::string_view to_string(case_status s);

struct reminder_key {
  deadline_kind kind{deadline_kind::reply};
  civil_date due;

  friend bool operator==(const reminder_key&, const reminder_key&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(kind, due);
  }
};

// The first transfer of the case to a unit (Art. 32-33): a unit's reply deadline counts from it,
// also when the matter comes back to the unit after a return.
struct unit_first_transfer {
  unit_id unit;
  civil_date on;

  friend bool operator==(const unit_first_transfer&, const unit_first_transfer&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(unit, on);
  }
};

// A unit's pending request to extend its reply deadline (Art. 34), until its head approves it.
// The explanation stays in the request's event (a sealed personal field).
struct pending_extension {
  extension_reason reason{extension_reason::complex};
  working_days days;
  civil_date requested_on;
  user_id by;

  friend bool operator==(const pending_extension&, const pending_extension&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(reason, days, requested_on, by);
  }
};

// A reply deadline that passed unmet and was reported to the department (Art. 35).
struct overdue_report {
  civil_date due;
  civil_date reported_on;
  unit_id unit;

  friend bool operator==(const overdue_report&, const overdue_report&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(due, reported_on, unit);
  }
};

// The state of one case: the left fold of its events with evolve(). A plain value, stored by
// the projection (cereal).
struct case_state {
  case_id id;
  std::uint64_t version{0};  // the number of events applied (= last sequence number)
  case_status status{case_status::none};
  channel via{channel::phone};
  center_code center;        // where it was received
  center_code owner_center;  // where it belongs now (Art. 5, 27)
  caller_info caller;
  std::string content;
  std::optional<recording_ref> recording;
  timestamp received_at;  // when it was received (Art. 27): named at intake, or when recorded
  civil_date received_on;
  civil_date transfer_due;
  user_id received_by;

  std::optional<core::category> cat;
  std::optional<core::domain> dom;
  std::vector<std::string> topics;
  bool expressway{false};
  bool major_urgent{false};
  std::string major_urgent_reason;

  std::optional<not_accepted_reason> not_accepted_for;
  std::optional<redirect_target> redirected_to;
  std::uint32_t escalations{0};

  std::optional<unit_id> unit;                        // the unit handling it now
  std::optional<civil_date> first_transferred_on;     // meets the transfer deadline
  std::optional<civil_date> transferred_on;           // the current transfer
  std::optional<civil_date> return_by;
  std::optional<civil_date> reply_due;                // after extensions
  int extension_days{0};                              // used so far, of 30 (Art. 34)
  std::uint32_t returns{0};
  std::uint32_t late_returns{0};

  std::optional<civil_date> replied_on;  // of the current handling cycle
  bool replied_on_time{false};
  bool caller_reached{false};
  bool revisit_required{false};
  bool revisited{false};
  std::optional<core::satisfaction> result_view;
  std::optional<core::timeliness> time_view;
  std::optional<civil_date> closed_on;  // answered, not accepted, redirected or replied
  std::optional<civil_date> archived_on;
  std::vector<reminder_key> reminders;

  // Retention (Art. 38).
  bool legal_hold{false};
  std::string legal_hold_reason;
  std::optional<civil_date> recording_purged_on;
  std::optional<civil_date> text_shredded_on;
  std::uint32_t purge_refusals{0};

  // What each deadline stands on (v4), and how the current reply deadline is counted, so that a
  // newer calendar can recompute it: reply_from + reply_days (the limit plus extensions).
  deadline_basis transfer_basis;
  deadline_basis return_basis;
  deadline_basis reply_basis;
  std::optional<civil_date> reply_from;
  int reply_days{0};
  timestamp recorded_at;  // v5: when it was recorded (0 in older rows: received_at)
  // v6: the day the current transfer was returned (return_by is kept after the return, so that
  // the window shows whether it was met), and each unit's first transfer (Art. 32-33).
  std::optional<civil_date> returned_on;
  std::vector<unit_first_transfer> unit_transfers;
  // v7: the unit's extension request awaiting its head's approval (Art. 34).
  std::optional<pending_extension> extension_request;
  // v8: the overdue cycles reported to the center's department, oldest first (Art. 35).
  std::vector<overdue_report> overdue_reports;

  friend bool operator==(const case_state&, const case_state&) = default;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t class_version) {
    ar(id, version, status, via, center, owner_center, caller, content, recording, received_at,
       received_on, transfer_due, received_by);
    ar(cat, dom, topics, expressway, major_urgent, major_urgent_reason, not_accepted_for,
       redirected_to, escalations);
    ar(unit, first_transferred_on, transferred_on, return_by, reply_due, extension_days, returns,
       late_returns);
    ar(replied_on, replied_on_time, caller_reached, revisit_required, revisited, result_view,
       time_view, closed_on, archived_on, reminders);
    if (class_version >= 3)
      ar(legal_hold, legal_hold_reason, recording_purged_on, text_shredded_on, purge_refusals);
    if (class_version >= 4) ar(transfer_basis, return_basis, reply_basis, reply_from, reply_days);
    if (class_version >= 5) ar(recorded_at);
    if (class_version >= 6) ar(returned_on, unit_transfers);
    if (class_version >= 7) ar(extension_request);
    if (class_version >= 8) ar(overdue_reports);
  }
};

// closed: only for the return window (Art. 32), which passed without a return: the unit keeps
// the matter (nothing was missed).
enum class deadline_state : std::uint8_t { pending, met, missed, closed };
std::string_view to_string(deadline_state s);

// A deadline the center tracks: due at the end (24:00 Asia/Shanghai) of `due`.
struct deadline {
  deadline_kind kind{deadline_kind::transfer};
  civil_date due;
  deadline_state state{deadline_state::pending};
  std::optional<civil_date> met_on;  // the day it was met (or met late)
  deadline_basis basis;
};

// The transfer (Art. 27) and reply (Art. 33-34) deadlines of the case as of `now`. The transfer
// deadline is dropped once the matter is closed at intake (answered, not accepted, redirected).
std::vector<deadline> deadlines(const case_state& s, timestamp now);

// The return window of the current (or last) transfer (Art. 32), as of `now`: pending while open,
// met when the unit returned the matter within it, missed when a shift lead accepted a late
// return, closed when it passed without a return. None before the first transfer. Not a
// deadline the center reminds of, so it is not among deadlines().
std::optional<deadline> return_window(const case_state& s, timestamp now);

}  // namespace caseline::core

CEREAL_CLASS_VERSION(caseline::core::reminder_key, 1);
CEREAL_CLASS_VERSION(caseline::core::unit_first_transfer, 1);
CEREAL_CLASS_VERSION(caseline::core::pending_extension, 1);
CEREAL_CLASS_VERSION(caseline::core::overdue_report, 1);
CEREAL_CLASS_VERSION(caseline::core::case_state, 8);
