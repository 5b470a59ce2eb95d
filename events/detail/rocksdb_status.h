#pragma once

#include <string>

#include <rocksdb/status.h>

#include "core/result.h"
#include "events/errc.h"

namespace caseline::events::detail {

// RocksDB statuses are translated once, here. Busy/TryAgain/Incomplete are retriable; the rest
// (corruption, I/O errors) are fatal for the store.
inline error from_rocksdb(const rocksdb::Status& s, const std::string& what) {
  const bool retriable = s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete();
  return make_error(retriable ? errc::unavailable : errc::fatal, what + ": " + s.ToString());
}

}  // namespace caseline::events::detail
