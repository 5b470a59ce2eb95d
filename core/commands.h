#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/events.h"

namespace caseline::core {

// receive: record a matter (Art. 26). A non-empty major_urgent_reason flags it at intake
// (Art. 40(4), 43). The id is assigned by the caller of decide: in the command, or as the id of
// the empty state it decides against. The agent may name the matter's category and domain at
// intake (both or neither), so that a matter answered at once is counted by them (Art. 39).
struct receive {
  channel via{channel::phone};
  center_code center;
  caller_info caller;
  std::string content;
  std::optional<recording_ref> recording;
  case_id id;
  std::string major_urgent_reason;
  std::optional<core::category> cat{};
  std::optional<core::domain> dom{};
  // When the matter was received, if before it was recorded (a message read on Monday that came
  // on Friday): its deadlines count from that day (Art. 27). At most 7 days back, never ahead.
  std::optional<timestamp> occurred_at{};
};

// 即时答复 (Art. 26).
struct answer_immediately {
  std::string answer;
};

// 不予受理 (Art. 28): the reason is told to the caller.
struct not_accept {
  not_accepted_reason reason{not_accepted_reason::outside_remit};
  std::string explanation;
};

// Art. 29.
struct redirect {
  redirect_target target{redirect_target::rail};
  std::string number_given;
  bool call_transferred{false};
};

// Art. 27; `expressway` only for highway matters, which then belong to the provincial center
// (Art. 5). A non-empty major_urgent_reason flags the matter at classification. A matter answered
// at once may still be classified (it stays answered), so it is counted by domain and category
// (Art. 39).
struct classify {
  core::category cat{core::category::inquiry};
  core::domain dom{core::domain::highway};
  std::vector<std::string> topics;
  bool expressway{false};
  std::string major_urgent_reason;
};

// Art. 27, 30: to a unit registered with the center the case belongs to.
struct transfer {
  unit_id unit;
};

// Art. 27.
struct escalate {
  escalation_target target{escalation_target::upper_center};
  escalation_reason reason{escalation_reason::cross_region};
  std::string note;
};

// Art. 32: by the handling unit, with reasons, within 2 wd of the transfer.
struct return_case {
  std::string reasons;
};

// Art. 32: a shift lead accepts a return the unit could no longer make itself (after the 2-wd
// window), with the reason for accepting it; unit_reasons are the unit's, as it gave them.
struct accept_late_return {
  std::string reason;
  std::string unit_reasons;
};

// Art. 34: approved by the unit's head; at most 30 wd in total; before the reply deadline. Made
// by the unit's head, it extends at once, the head being the approver; made by the unit's staff,
// it is a request that the head approves (approve_extension). The approver is who acts, never a
// field of the command.
struct extend {
  extension_reason reason{extension_reason::complex};
  working_days days{0};
  std::string explanation;
};

// Art. 34: the unit's head approves the unit's pending extension request.
struct approve_extension {};

// Art. 35: names the deadline it is about, so sending it twice does nothing the second time.
struct remind {
  deadline_kind kind{deadline_kind::reply};
  civil_date due;
};

// Art. 37.
struct reply {
  std::string facts;
  std::string process;
  std::string basis;
  bool caller_reached{false};
};

// Art. 23. satisfaction is required when the caller was reached.
struct revisit {
  bool reached{false};
  std::optional<core::satisfaction> result_view;
  std::optional<core::timeliness> time_view;
  bool further_handling{false};
  std::string notes;
};

// Art. 38.
struct archive {};

// Art. 40(4), 43.
struct flag_major_urgent {
  std::string reason;
};

// Art. 38: delete the call audio at least 1 year after the case was archived.
struct purge_recording {};
// Art. 38: crypto-shred the case's text after at least 5 years from archiving.
struct shred_text {};
// A legal hold stops every purge until it is lifted.
struct place_legal_hold {
  std::string reason;
};
struct lift_legal_hold {
  std::string reason;
};
// Records a purge that was refused (the attempt itself is part of the audit trail).
struct record_refused_purge {
  retained_item item{retained_item::text};
  std::string rule;
};

// A newer calendar was published: recompute the case's pending deadlines on it (the context's
// calendar). Issued by the server after a publication, never by a client.
struct revise_deadlines {};

using command = std::variant<receive, answer_immediately, not_accept, redirect, classify, transfer,
                             escalate, return_case, extend, remind, reply, revisit, archive,
                             flag_major_urgent, purge_recording, shred_text, place_legal_hold,
                             lift_legal_hold, record_refused_purge, revise_deadlines,
                             accept_late_return, approve_extension>;

std::string_view command_name(const command& c);

}  // namespace caseline::core
