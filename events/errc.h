#pragma once

#include <system_error>

namespace caseline::events {

enum class errc {
  ok = 0,
  unavailable = 1,    // retriable: the log cannot be reached or did not acknowledge in time
  fatal,              // the producer or store is broken; it is recreated, the write is not done
  bad_config,         // a setting that is invalid or would lose acknowledged events
  corrupt_record,     // a record that cannot be decoded: consumers stop, nothing is skipped
  invalid_partition,  // a partition the log does not have
  closed,             // the log is shutting down
  timed_out,          // flush or read did not finish in time
  not_found,          // a stored object (a recording blob) that is not there
  // retriable: an append was handed to the log but its outcome is not known (Kafka: a record
  // that may have reached the broker; embedded: a failed WAL sync). It may be in the log. Every
  // other error of an append means the record is certainly not written.
  outcome_unknown,
  // retriable: this server does not write the partition (a Kafka group gave it to another
  // member, or is moving it). Nothing was appended; the partition's owner takes the request.
  not_owner,
  // retriable: a newer owner of the partition fenced this server's writer (Kafka transactions):
  // the append was not committed and never will be.
  fenced,
  // retriable: the disk under the data folder is full, or its free space is below the reserve
  // the server keeps (storage::disk_guard). Nothing was written; it succeeds again once an
  // operator frees space.
  disk_full,
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// Whether retrying the same operation later may succeed.
bool is_retriable(std::error_code ec) noexcept;

}  // namespace caseline::events

template <>
struct std::is_error_code_enum<caseline::events::errc> : std::true_type {};
