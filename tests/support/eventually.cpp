#include "tests/support/eventually.h"

#include <thread>

namespace caseline::test {

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    // A re-check interval, not a wait for the condition: it leaves the cores to the threads
    // that make the condition true.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace caseline::test
