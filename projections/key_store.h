#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ids.h"
#include "core/result.h"
#include "events/field_crypto.h"
#include "events/storage/fwd.h"

namespace caseline::projections {

// Where the master key comes from: a file holding 64 hex digits, or the hex itself (from the
// environment). With neither, a development key is created at `dev_default_file` (mode 0600)
// and a warning says so.
struct master_key_source {
  std::string file;
  std::string hex;
  std::string dev_default_file;
};
result<events::secret_key> load_master_key(const master_key_source& source);

// The per-case data keys, wrapped (AES-256-GCM) by the master key, in their own RocksDB database
// (<data>/keys): not a projection, so a rebuild never touches it, and deleting a key there is
// what shreds a case. A deleted key is flushed and compacted away at once, so no copy of it is
// left in the database's files.
//
// Lifecycle: open(), then any thread. Thread-safe; unwrapped keys are cached in memory.
class key_store {
 public:
  static result<std::unique_ptr<key_store>> open(const std::string& dir,
                                                 const events::secret_key& master);
  // Read-only, beside a running server that holds the lock (a RocksDB secondary instance): the
  // keys as they were at the open; create and shred fail. errc::not_found when there is none.
  static result<std::unique_ptr<key_store>> open_secondary(const std::string& dir,
                                                           const events::secret_key& master);
  ~key_store();

  // A new random key for a new case, written (synced) before any event of the case is appended.
  result<events::secret_key> create(const case_id& id);
  // The case's key; none when it was shredded (or never created).
  result<std::optional<events::secret_key>> get(const case_id& id);
  // Deletes the cases' keys for ever, then flushes and compacts once. Idempotent.
  result<void> shred(const std::vector<case_id>& ids);

 private:
  key_store(std::unique_ptr<rocksdb::DB> db, const events::secret_key& master);
  key_store(std::unique_ptr<storage::secondary_db> secondary, const events::secret_key& master);
  std::string wrap_aad(const case_id& id) const;

  std::unique_ptr<storage::secondary_db> secondary_;  // owns *db_ when set
  std::unique_ptr<rocksdb::DB> owned_;
  rocksdb::DB* db_{nullptr};
  events::secret_key master_;
  std::mutex mu_;
  std::unordered_map<std::string, events::secret_key> cache_;
};

}  // namespace caseline::projections
