#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/events.h"

namespace caseline::core {

enum class case_status : std::uint8_t {
  none,      // no event yet
  received,  // recorded, awaiting an answer, classification or transfer
};
std::string_view to_string(case_status s);

// The state of one case: the left fold of its events with evolve(). A plain value.
struct case_state {
  case_id id;
  std::uint64_t version{0};  // the number of events applied (= last sequence number)
  case_status status{case_status::none};
  channel via{channel::phone};
  center_code center;
  caller_info caller;
  std::string content;
  std::optional<recording_ref> recording;
  timestamp received_at;
  civil_date received_on;
  civil_date transfer_due;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(id, version, status, via, center, caller, content, recording, received_at, received_on,
       transfer_due);
  }
};

}  // namespace caseline::core

CEREAL_CLASS_VERSION(caseline::core::case_state, 1);
