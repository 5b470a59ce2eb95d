#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "core/result.h"
#include "core/time.h"
#include "events/event_log.h"
#include "events/field_crypto.h"
#include "events/group_linger.h"
#include "events/key_journal.h"
#include "events/storage/fwd.h"
#include "projections/key_cache.h"

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

// How a group shares its data keys (projections/key_replica.h), as the key store sees it.
class key_replication {
 public:
  virtual ~key_replication() = default;
  // Commits `id`'s wrapped key (empty: a tombstone) to the group's keys topic; `done` runs once
  // it is committed, or with the error. False (and `done` untouched): `id` is not replicated, its
  // key stays in this server's store only.
  virtual bool commit(const case_id& id, const std::string& wrapped,
                      std::function<void(result<void>)>& done) = 0;
  // Returns once this server has applied every committed record of `id`'s keys partition (now
  // or before the deadline): a key missing then is missing in the group. Success at once for an
  // id that is not replicated.
  virtual result<void> await(const case_id& id, std::chrono::steady_clock::time_point deadline) = 0;
};

// The per-case data keys, wrapped (AES-256-GCM) by the master key, in their own RocksDB database
// (<data>/keys): not a projection, so a rebuild never touches it, and deleting a key there is
// what shreds a case. A deleted key is flushed and compacted away at once, so no copy of it is
// left in the database's files.
//
// New keys are group-committed: `store` queues a key and returns; the store's committer thread
// writes every key queued at that moment in one WriteBatch with one synced write, then runs the
// handlers of that group, each with the group's outcome. A handler never runs before its key is
// durable, and a failed write fails every handler of its group (none of those keys is cached).
// Under load the committer lingers (set_commit_linger, events/group_linger.h): when the group it
// wrote last held two keys or more — keys come faster than a synced write completes — it waits up
// to `linger` after the first key of the next group, or until `items` are queued, so that one sync
// serves them all (without it a Kafka server without a group synced once per three new cases at 32
// connections, an fsync's CPU each time); a key that comes alone, one intake at a time, never
// waits.
//
// With a key journal (use_journal: the embedded log; a Kafka group's log), a new case's key is
// not written here before its record: the case writer appends it with the record (one synced
// write, or one transaction with the keys topic); the journal hands every such key here once
// durable (before its append's handler runs), where it is written without a sync, and the
// committer then syncs this database's WAL (off the answer's path) and erases those keys from the
// journal (nothing to erase on Kafka): once per journal_sync_interval for all the keys journaled
// meanwhile, not once per group commit of the log (one fsync of this database per command's
// group was half the fsyncs of an intake). A shred deletes the key here and purges the journal's
// copy.
//
// In a group (replicate()), a replicated key is committed to the group's keys topic before it is
// written here, a shred commits a tombstone for each key before deleting it here, a miss in `get`
// first waits until the keys topic is applied here, and `apply` writes what the keys topic holds
// (values, tombstones, and the offsets consumed, in one WriteBatch), so that every server of the
// group holds every key.
//
// Lifecycle: open(), then any thread; the destructor writes what is queued, runs its handlers,
// then joins the committer. Thread-safe; up to 10^5 keys are cached unwrapped (shared_key_cache:
// new keys when written, keys read from the store from their second read lately on).
class key_store {
 public:
  // `budget`: the memory budget a server shares among its databases (null: RocksDB's defaults).
  static result<std::unique_ptr<key_store>> open(const std::string& dir,
                                                 const events::secret_key& master,
                                                 const storage::memory_budget* budget = nullptr);
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
  // As store, for a new case's key written before the case's first record is appended (a log
  // without a key journal: a Kafka server without a group). The same synced write marks the key
  // as ahead of its record, and the mark stays until confirm() says the record is in the log. A
  // mark that stays (an append refused or failed, a crash before its outcome) names a key that
  // may not be the key of the case the log gives that id, if another writer gave the id out
  // meanwhile: the case writer checks each one (each_ahead_of_record) before it writes the
  // id's partition again, across restarts.
  void store_ahead_of_record(const case_id& id, const events::secret_key& key, stored_handler done);
  // The first records of these cases are in the log: their marks go, deleted in the next synced
  // write of new keys (no write of their own) or when the store closes; a mark a crash keeps is
  // checked again.
  void confirm(std::vector<std::string> ids);
  // Calls `fn(id)` for every key marked ahead of its record, in id order.
  result<void> each_ahead_of_record(const std::function<void(std::string_view id)>& fn);
  // Deletes the marks of `ids` now, the check done (not synced: a mark a crash brings back is
  // checked again). A shred deletes its keys' marks too.
  result<void> settle(std::span<const std::string> ids);
  // A new random key for a new case, stored as `store` does; returns once it is durable.
  result<events::secret_key> create(const case_id& id);
  // The case's key; none when it was shredded (or never created).
  result<std::optional<events::secret_key>> get(const case_id& id);
  // Deletes the cases' keys for ever, then flushes and compacts once. Idempotent. Once it
  // returns no copy is cached either, not even one a concurrent get() read during the shred. In a
  // group it first commits a tombstone for each replicated key (through the owner of its partition)
  // and deletes here only those whose tombstone is committed: an error names the others, which stay
  // (on every server) until a retried shred. Crash-safe: a tombstone committed is applied by
  // every server, this one included, whatever happens here after it.
  result<void> shred(const std::vector<case_id>& ids);
  // Those of `ids` whose key this store holds now, in their order: what a shred recorded in the
  // log but cut short by a crash left behind. Local only: never waits for the keys topic.
  result<std::vector<case_id>> held(const std::vector<case_id>& ids);

  // Takes the keys a crash left in `j` (synced here, then erased there), then copies here every
  // key `j` makes durable from now on. Call once, before the first append, with the journal of
  // the log the server appends to; `j` outlives the store.
  result<void> use_journal(events::key_journal& j);
  // The journal in use (use_journal), or null.
  events::key_journal* journal() const { return journal_; }
  // How often journaled keys were synced here (and erased from the journal) since the open: at
  // most about once per journal_sync_interval, however many group commits journaled them.
  std::uint64_t journal_syncs() const { return journal_syncs_.load(std::memory_order_relaxed); }
  // The longest a journaled key waits for that sync while keys keep coming (it is durable in
  // the journal meanwhile), and the count of waiting keys that syncs at once.
  static constexpr std::chrono::milliseconds journal_sync_interval{200};
  static constexpr std::size_t journal_sync_batch = 4096;
  // How the committer waits for more keys under load (see above; events/group_linger.h). Set
  // at any time; by default it never waits (serve sets 1 ms).
  void set_commit_linger(const events::group_linger& l);
  // Synced writes of new keys (store(), create()) since the open, and how many of them the
  // committer lingered for.
  std::uint64_t commit_syncs() const { return commit_syncs_.load(std::memory_order_relaxed); }
  std::uint64_t commit_lingers() const { return commit_lingers_.load(std::memory_order_relaxed); }
  // Caches a key the journal made durable (its writer has it unwrapped): no unwrap on its reads.
  void remember(const case_id& id, const events::secret_key& key);

  // Shares the keys through `r` from now on (a group); set before any other use, and `r`
  // outlives the store's use (null: local only again).
  void replicate(key_replication* r) { replication_ = r; }
  // Writes records of the keys topic's partition p (events/key_log.h: a value is a wrapped key,
  // an empty value a tombstone, an empty key a gap) and p's next offset in one WriteBatch; a
  // batch with tombstones is then flushed and compacted, as a shred is.
  result<void> apply(events::partition_id p, std::span<const events::log_record> records);
  // The next offset of each keys partition below `partitions` that apply() stored.
  result<events::start_offsets> applied_offsets(std::int32_t partitions);
  // A key derived from the master key for `purpose` (events::derive_key): the same on every
  // server with the same master key, stored nowhere.
  events::secret_key derive(std::string_view purpose) const {
    return events::derive_key(master_, purpose);
  }
  // `key` wrapped by the master key for `id`, as the store and the keys topic hold it.
  std::string wrap(const case_id& id, const events::secret_key& key) const;
  // A record apply() stored that is not a case key (the group's master-key check), as stored.
  result<std::optional<std::string>> stored_record(std::string_view name);
  // Calls `fn(id, wrapped)` for every key the store holds (cases', the registry's, staged
  // recordings', and the master-key check record), as stored, in id order; the offsets apply()
  // stored are skipped. A snapshot: keys stored meanwhile may be missed.
  using stored_visitor =
      std::function<result<void>(std::string_view id, const std::string& wrapped)>;
  result<void> each_stored(const stored_visitor& fn);
  // Keys this store held before it first applied a group's keys topic, not yet published there
  // (key_replica::publish_local): marked once, at that first start, and unmarked when published.
  result<void> mark_unpublished(const std::vector<std::string>& ids, bool unpublished);
  result<bool> is_unpublished(std::string_view id);
  // Calls `fn(id)` for every key marked unpublished, in id order, until it returns false.
  result<void> each_unpublished(const std::function<bool(std::string_view id)>& fn);
  // When the keys topic was last applied here up to its end (replica_progress::keep_seen), beside
  // the offsets; none before the first time.
  result<void> note_seen(timestamp t);
  result<std::optional<timestamp>> seen();

 private:
  key_store(std::unique_ptr<rocksdb::DB> db, const events::secret_key& master);
  key_store(std::unique_ptr<storage::secondary_db> secondary, const events::secret_key& master);
  std::string wrap_aad(const case_id& id) const;
  struct queued_key {
    std::string id;
    std::string wrapped;
    events::secret_key key;
    stored_handler done;
    bool ahead_of_record{false};  // store_ahead_of_record: marked in the same write
  };
  void commit_loop();
  // The journal's handler: writes its keys here (not synced) and queues them for sync_journaled.
  void journaled(std::span<const events::journaled_key> keys);
  // Syncs this database's WAL, then erases `ids` from the journal.
  void sync_journaled(std::vector<std::string>& ids);
  // Writes `group` and deletes the marks of `confirmed` in one synced WriteBatch.
  void commit(std::vector<queued_key>& group, const std::vector<std::string>& confirmed);
  void enqueue(queued_key q);
  result<void> compact_deleted();
  // The ids whose tombstone the keys topic committed (or that are not replicated), in order;
  // `failed` says why one was not.
  std::vector<case_id> commit_tombstones(const std::vector<case_id>& ids,
                                         std::optional<error>& failed);
  // Deletes here (synced), flushes and compacts, and purges the journal's copies.
  result<void> delete_here(const std::vector<case_id>& ids);

  std::unique_ptr<storage::secondary_db> secondary_;  // owns *db_ when set
  std::unique_ptr<rocksdb::DB> owned_;
  rocksdb::DB* db_{nullptr};
  events::secret_key master_;
  // The unwrapped keys; a key read from the database is cached only when no write deleted or
  // replaced keys (a shred, the keys topic) since the read missed the cache.
  shared_key_cache cache_;
  key_replication* replication_{nullptr};
  events::key_journal* journal_{nullptr};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<queued_key> queue_;  // guarded by queue_mu_
  std::vector<std::string> unsynced_;  // guarded by queue_mu_: journaled keys written, not synced
  std::vector<std::string> confirmed_;  // guarded by queue_mu_: marks to delete with the next group
  bool stopping_{false};           // guarded by queue_mu_
  events::group_linger linger_;    // guarded by queue_mu_
  std::size_t last_group_{0};      // the committer's: keys in the group it wrote last
  std::atomic<std::uint64_t> commit_syncs_{0};
  std::atomic<std::uint64_t> commit_lingers_{0};
  // The committer's: when it last synced journaled keys, and how many times.
  std::chrono::steady_clock::time_point last_journal_sync_{};
  std::atomic<std::uint64_t> journal_syncs_{0};
  std::thread committer_;          // last: started once everything above is constructed
};

}  // namespace caseline::projections
