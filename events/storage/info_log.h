#pragma once

// RocksDB's own diagnostic log (its LOG file), written so that a full disk cannot stop the
// process. RocksDB's file logger, once one of its writes failed, treats the next as a broken
// invariant, and the RocksDB Debian ships is built with its assertions on: the process aborts in
// the middle of whatever it was doing. This logger writes the same lines to the same file
// (`<dir>/LOG`, the previous one kept as `LOG.old`, each at most 64 MiB) with plain write(2)
// calls, drops a line it cannot write and goes on. Lines at error level and above are also
// logged by the process itself (spdlog, event "rocksdb"), where an operator looks first.

#include <string>

namespace rocksdb {
struct DBOptions;
}  // namespace rocksdb

namespace caseline::storage {

// Sets options.info_log to such a logger for the database in `dir` (created when missing).
void use_info_log(rocksdb::DBOptions& options, const std::string& dir);

}  // namespace caseline::storage
