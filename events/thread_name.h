#pragma once

#include <string_view>

namespace caseline::events {

// Names the calling thread as `top -H`, `ps -L`, `perf` and /proc/<pid>/task/*/comm show it, so
// that the server's CPU can be read per thread: "http-io-0", "log-commit", "key-commit", ...
// Linux keeps at most 15 bytes: a longer name is cut there. Best effort: a name the system
// refuses leaves the thread as it was.
void name_this_thread(std::string_view name);

}  // namespace caseline::events
