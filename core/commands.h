#pragma once

#include <optional>
#include <string>
#include <variant>

#include "core/events.h"

namespace caseline::core {

// receive: record a matter (Art. 26).
struct receive {
  channel via{channel::phone};
  center_code center;
  caller_info caller;
  std::string content;
  std::optional<recording_ref> recording;
};

using command = std::variant<receive>;

}  // namespace caseline::core
