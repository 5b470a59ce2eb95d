#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/case_state.h"
#include "core/events.h"

namespace caseline::core {

// Calls `f(field, value)` for every personal or free-text field of the event: the caller's name,
// phone and channel account, the content, answers, explanations, replies, notes. These are the fields that are
// encrypted before they enter the log and shredded when their retention ends. `field` is a stable
// name ("caller.phone", "content", "reply.facts", ...) used to bind each ciphertext to its place.
void for_each_personal_field(event& e,
                             const std::function<void(std::string_view, std::string&)>& f);
// The same for the personal fields a case_state carries (copied from case_received).
void for_each_personal_field(case_state& s,
                             const std::function<void(std::string_view, std::string&)>& f);

}  // namespace caseline::core
