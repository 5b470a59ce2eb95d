#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "tools/serve.h"

namespace caseline::tools {

// A backup is a folder: the projection store (with the log offsets its projections stand on),
// the embedded log (none on Kafka: the topic is the log), the case-key store, the blob store
// (call recordings), the development master key when the data folder holds one, and
// manifest.json listing every file with its size and SHA-256.
//
// Taken while the server runs: each RocksDB database is opened as a secondary instance (read-only
// beside the server that holds its lock) and copied key by key into a fresh database, in an
// order that keeps the copy consistent:
//   1. the store: its offsets say where its projections stand in the log;
//   2. the log, after the store: every offset the store names is in the copied log, and every
//      record acknowledged before the backup started is too (an acknowledged record is synced to
//      the log's WAL, which a secondary instance reads);
//   3. the keys, after the log: a case's key is written before its first event, so every case in
//      the copied log has its key;
//   4. the blobs, after the log: a recording is stored before the event that names it; in the
//      blob folder, a group's audio replica's seen time and offsets before the blobs
//      (blob_copy_order).
// The restored server catches its projections up from the stored offsets over the copied log
// (or, on Kafka, over the topic), exactly as after a restart.
constexpr int backup_format_version = 1;

struct backup_file {
  std::string path;  // relative to the backup folder, '/'-separated
  std::uint64_t size{0};
  std::string sha256;  // lower-case hex
};

struct backup_manifest {
  int format_version{backup_format_version};
  std::string log_kind;      // "embedded" or "kafka"
  std::string topic;         // kafka: the topic the offsets refer to
  std::int32_t partitions{0};
  std::string created_at;    // RFC 3339, Asia/Shanghai
  std::map<std::int32_t, std::int64_t> offsets;  // partition -> next offset the store applies
  std::vector<backup_file> files;                // sorted by path
};

// The files of a blob store folder (paths relative to it, '/'-separated) in the order a backup
// copies them: a side topic replica's seen time (`*-seen`), then its offsets (`*-offsets`, e.g.
// audio-offsets), then the blobs and everything else. Each file a replica writes after the data
// it covers, so a restored replica resumes from an offset no later than its data and re-applies
// the rest (harmless), and never counts itself up to date later than its offsets say.
result<std::vector<std::string>> blob_copy_order(const std::string& blobs_dir);

// Writes a backup of options.data_dir into `out` (which must not exist), through a temporary
// sibling folder renamed at the end: `out` exists only once it is complete.
result<backup_manifest> create_backup(const store_options& options, const std::string& out,
                                      timestamp now);
// Checks a backup against its manifest: format, every file's presence, size and SHA-256, and no
// file the manifest does not list. The error names the first bad file.
result<backup_manifest> verify_backup(const std::string& backup);
// Verifies the backup, then copies it into `data_dir` (which must not exist) through a temporary
// sibling folder renamed at the end: a failed restore leaves no `data_dir` behind.
result<backup_manifest> restore_backup(const std::string& backup, const std::string& data_dir);

// `caseline backup --data DIR --out BACKUP`, `caseline backup --verify BACKUP`,
// `caseline restore BACKUP --data NEW`. Exit code 0 done, 1 failed (a bad backup, a copy that
// failed), 2 bad arguments (an existing target).
int run_backup(const store_options& options, const std::string& out, std::ostream& o,
               std::ostream& err);
int run_backup_verify(const std::string& backup, std::ostream& o, std::ostream& err);
int run_restore(const std::string& backup, const std::string& data_dir, std::ostream& o,
                std::ostream& err);

}  // namespace caseline::tools
