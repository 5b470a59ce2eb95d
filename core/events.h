#pragma once

// The domain events of a case. Each type has a stable numeric id (never reused) and a version
// (CEREAL_CLASS_VERSION); the body is encoded with cereal's portable binary archive by
// core/codec.h. Golden samples of every type and version live under tests/core/golden/.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include <cereal/cereal.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include "core/ids.h"
#include "core/time.h"

namespace caseline::core {

enum class channel : std::uint8_t { phone, website, sms, wechat, app, email, fax, other_hotline };

struct caller_info {
  std::string phone;
  std::string name;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(phone, name);
  }
};

// A reference to the call audio in the blob store (content-addressed).
struct recording_ref {
  std::string uri;
  std::string sha256;
  std::uint32_t duration_s{0};

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(uri, sha256, duration_s);
  }
};

// id 1: a matter was recorded at a center (Art. 26). Deadline: transfer within 3 wd (Art. 27).
struct case_received {
  static constexpr std::uint16_t type_id = 1;
  channel via{channel::phone};
  center_code center;
  caller_info caller;
  std::string content;
  std::optional<recording_ref> recording;
  civil_date received_on;   // Asia/Shanghai date of receipt
  civil_date transfer_due;  // 3 wd after received_on (Art. 27), fixed when decided

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(via, center, caller, content, recording, received_on, transfer_due);
  }
};

// Every event type, in type-id order. Appending a type is fine; removing or reordering is not
// (the id, not the index, is what is stored).
using event = std::variant<case_received>;

}  // namespace caseline::core

CEREAL_CLASS_VERSION(caseline::core::caller_info, 1);
CEREAL_CLASS_VERSION(caseline::core::recording_ref, 1);
CEREAL_CLASS_VERSION(caseline::core::case_received, 1);
