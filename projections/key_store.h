#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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
// New keys are group-committed: `store` queues a key and returns; the store's committer thread
// writes every key queued at that moment in one WriteBatch with one synced write, then runs the
// handlers of that group, each with the group's outcome. A handler never runs before its key is
// durable, and a failed write fails every handler of its group (none of those keys is cached).
//
// Lifecycle: open(), then any thread; the destructor writes what is queued, runs its handlers,
// then joins the committer. Thread-safe; unwrapped keys are cached in memory.
class key_store {
 public:
  static result<std::unique_ptr<key_store>> open(const std::string& dir,
                                                 const events::secret_key& master);
  // Read-only, beside a running server that holds the lock (a RocksDB secondary instance): the
  // keys as they were at the open; create and shred fail. errc::not_found when there is none.
  static result<std::unique_ptr<key_store>> open_secondary(const std::string& dir,
                                                           const events::secret_key& master);
  ~key_store();

  // Runs on the committer thread, once, after the key's group was written (synced) or failed.
  // It must not block: the next group waits for it.
  using stored_handler = std::function<void(result<void>)>;
  // Stores a new case's key (made by the caller with secret_key::random()), group-committed with
  // the other keys queued meanwhile. Nothing of the case may be appended before `done` reports
  // success: a case's key precedes its events.
  void store(const case_id& id, const events::secret_key& key, stored_handler done);
  // A new random key for a new case, stored as `store` does; returns once it is durable.
  result<events::secret_key> create(const case_id& id);
  // The case's key; none when it was shredded (or never created).
  result<std::optional<events::secret_key>> get(const case_id& id);
  // Deletes the cases' keys for ever, then flushes and compacts once. Idempotent.
  result<void> shred(const std::vector<case_id>& ids);

 private:
  key_store(std::unique_ptr<rocksdb::DB> db, const events::secret_key& master);
  key_store(std::unique_ptr<storage::secondary_db> secondary, const events::secret_key& master);
  std::string wrap_aad(const case_id& id) const;
  struct queued_key {
    std::string id;
    std::string wrapped;
    events::secret_key key;
    stored_handler done;
  };
  void commit_loop();
  void commit(std::vector<queued_key>& group);

  std::unique_ptr<storage::secondary_db> secondary_;  // owns *db_ when set
  std::unique_ptr<rocksdb::DB> owned_;
  rocksdb::DB* db_{nullptr};
  events::secret_key master_;
  std::mutex mu_;
  std::unordered_map<std::string, events::secret_key> cache_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<queued_key> queue_;  // guarded by queue_mu_
  bool stopping_{false};           // guarded by queue_mu_
  std::thread committer_;          // last: started once everything above is constructed
};

}  // namespace caseline::projections
