#pragma once

// The server's own small state in the store (family server_state): not a function of the log,
// so a rebuild keeps it and rebuild --verify does not compare it.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "projections/store.h"

namespace caseline::projections {

namespace server_state_key {
inline constexpr std::string_view manual_clock = "manual_clock";          // be64 ms
inline constexpr std::string_view calendar_revised = "calendar_revised";  // calendar version
inline constexpr std::string_view bootstrap_token = "bootstrap_token";    // token id, once issued
// + the token's hash: a token an older store kept without a log event, until it is published
// (token_writer::publish_unlogged); the value is its old row.
inline constexpr std::string_view unlogged_token_prefix = "unlogged_token/";
// + a retention purge job's id: the job's last saved status (gateway/purge_jobs.h).
inline constexpr std::string_view purge_job_prefix = "purge_job/";
}  // namespace server_state_key

result<std::optional<std::string>> read_server_state(store& s, std::string_view key);
// Written with a synced WAL: it survives a crash once this returns.
result<void> write_server_state(store& s, std::string_view key, std::string_view value);
// Deleted with a synced WAL.
result<void> erase_server_state(store& s, std::string_view key);
// Every (key, value) whose key starts with `prefix`, in key order.
result<std::vector<std::pair<std::string, std::string>>> read_server_states(
    store& s, std::string_view prefix);

}  // namespace caseline::projections
