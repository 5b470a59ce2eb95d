#pragma once

#include <string>

#include <rocksdb/status.h>

#include "core/result.h"
#include "events/errc.h"

namespace caseline::storage {

// RocksDB statuses are translated once, here, into the events error category (events/errc.h).
// Busy/TryAgain/TimedOut/Incomplete are retriable (errc::unavailable); the rest (corruption, I/O
// errors) are fatal for the store (errc::fatal), but for a full disk (errc::disk_full: RocksDB
// resumes once there is space). `what` says what was being done.
inline error from_rocksdb(const rocksdb::Status& s, const std::string& what) {
  if (s.IsNoSpace()) return make_error(events::errc::disk_full, what + ": " + s.ToString());
  const bool retriable = s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete();
  return make_error(retriable ? events::errc::unavailable : events::errc::fatal,
                    what + ": " + s.ToString());
}

}  // namespace caseline::storage
