#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "events/event_log.h"

namespace caseline::events {

struct embedded_log_options {
  std::string dir;                 // the RocksDB folder of the log (created if missing)
  std::int32_t partitions{8};      // fixed at creation; reopening with another count is refused
  std::size_t max_batch_records{4096};  // group commit: at most this many appends per WAL sync
  // Read-only, beside a running server that holds the log's lock (a RocksDB secondary
  // instance): every record acknowledged before the open (acknowledged means synced to the WAL,
  // which the secondary reads too), and nothing after; appends fail with errc::closed. The
  // partition count is the log's own (`partitions` is not checked). For the tools that only
  // read (replay, audit verify, backup).
  bool read_only{false};
};

// The single-machine log: records in a RocksDB column family keyed by (partition, offset).
// Appends are queued and group-committed by one writer thread: one WriteBatch and one WAL sync
// per batch, then the handlers run. A record is acknowledged only once it would survive a
// process crash or power loss.
result<std::unique_ptr<event_log>> open_embedded_log(const embedded_log_options& options);

}  // namespace caseline::events
