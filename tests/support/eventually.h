#pragma once

#include <chrono>
#include <functional>

namespace caseline::test {

// Re-evaluates `condition` until it holds or `deadline` passes, for states that have no
// notification of their own: the tests' one way to wait (never a sleep to wait). True when it
// held.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace caseline::test
