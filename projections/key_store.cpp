#include "projections/key_store.h"

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "events/storage/big_endian.h"
#include "events/storage/info_log.h"
#include "events/storage/memory_budget.h"
#include "events/storage/secondary.h"
#include "events/storage/status.h"
#include "events/thread_name.h"

namespace caseline::projections {

namespace {

using storage::from_rocksdb;
// The unwrapped keys kept in memory (key_cache: the least recently used go first).
constexpr std::size_t cache_limit = 100'000;
// In a group: how long a missing key waits for the keys topic, and a shred for its tombstones.
constexpr std::chrono::seconds replicated_get_wait{5};
constexpr std::chrono::seconds tombstone_wait{30};

// Where apply() keeps the next offset of keys partition p: a name no key id has (they never
// start with a NUL byte).
std::string applied_offset_key(events::partition_id p) {
  return std::string("\0keys.offset.", 13) + std::to_string(p());
}

// Beside the offsets (a leading NUL: never a key id, skipped by each_stored).
const std::string unpublished_prefix("\0keys.unpublished/", 18);
std::string unpublished_key(std::string_view id) { return unpublished_prefix + std::string(id); }
const std::string seen_key("\0keys.seen", 10);
// The marks of keys stored ahead of their case's first record (store_ahead_of_record).
const std::string ahead_prefix("\0keys.ahead/", 12);
std::string ahead_key(std::string_view id) { return ahead_prefix + std::string(id); }

// Calls `fn(name)` for every key of `db` under `prefix`, the prefix taken off, in key order,
// until it returns false; `what` names the read in an error.
result<void> each_under(rocksdb::DB& db, const std::string& prefix,
                        const std::function<bool(std::string_view name)>& fn, const char* what) {
  std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions())};
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto k = it->key();
    k.remove_prefix(prefix.size());
    if (!fn(std::string_view(k.data(), k.size()))) return success();
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), what);
  return success();
}

result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(events::errc::bad_config, "cannot read the master key file " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

result<events::secret_key> load_master_key(const master_key_source& source) {
  if (!source.hex.empty()) return events::secret_key::from_hex(source.hex);
  if (!source.file.empty()) {
    auto text = read_file(source.file);
    if (!text) return text.error();
    return events::secret_key::from_hex(text.value());
  }
  if (source.dev_default_file.empty())
    return make_error(events::errc::bad_config, "no master key configured");
  if (std::filesystem::exists(source.dev_default_file)) {
    auto text = read_file(source.dev_default_file);
    if (!text) return text.error();
    return events::secret_key::from_hex(text.value());
  }
  const auto key = events::secret_key::random();
  const std::string hex = [&] {
    static constexpr char d[] = "0123456789abcdef";
    std::string h;
    for (unsigned char c : key.view()) {
      h += d[c >> 4];
      h += d[c & 15];
    }
    return h + "\n";
  }();
  std::filesystem::create_directories(std::filesystem::path(source.dev_default_file).parent_path());
  const int fd = ::open(source.dev_default_file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ::write(fd, hex.data(), hex.size()) != static_cast<ssize_t>(hex.size()) ||
      ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return make_error(events::errc::bad_config,
                      "cannot write a development master key to " + source.dev_default_file);
  }
  ::close(fd);
  spdlog::warn("{}", log_line("dev_master_key",
                              {{"path", source.dev_default_file},
                               {"hint", "set --master-key-file or CASELINE_MASTER_KEY in production"}}));
  return key;
}

key_store::key_store(std::unique_ptr<rocksdb::DB> db, const events::secret_key& master)
    : owned_(std::move(db)), db_(owned_.get()), master_(master), cache_(cache_limit) {
  committer_ = std::thread([this] {
    events::name_this_thread("key-commit");
    commit_loop();
  });
}

// A secondary has a committer too: its writes fail (read-only), each through its handler.
key_store::key_store(std::unique_ptr<storage::secondary_db> secondary,
                     const events::secret_key& master)
    : secondary_(std::move(secondary)),
      db_(&secondary_->db()),
      master_(master),
      cache_(cache_limit) {
  committer_ = std::thread([this] {
    events::name_this_thread("key-commit");
    commit_loop();
  });
}

result<std::unique_ptr<key_store>> key_store::open_secondary(const std::string& dir,
                                                             const events::secret_key& master) {
  auto db = storage::open_secondary(dir, {rocksdb::kDefaultColumnFamilyName});
  if (!db) return db.error();
  return std::unique_ptr<key_store>(new key_store(std::move(db).value(), master));
}

key_store::~key_store() {
  if (journal_) journal_->on_durable({});  // waits for a running call
  {
    std::lock_guard lk(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  committer_.join();
}

result<std::unique_ptr<key_store>> key_store::open(const std::string& dir,
                                                   const events::secret_key& master,
                                                   const storage::memory_budget* budget) {
  rocksdb::Options options;
  options.create_if_missing = true;
  if (budget) {
    // A key is read by case id: a Bloom filter spares the files for a case without a key.
    budget->apply(static_cast<rocksdb::DBOptions&>(options));
    budget->apply(static_cast<rocksdb::ColumnFamilyOptions&>(options), std::size_t{8} << 20,
                  storage::memory_budget::filter::whole_keys);
  }
  storage::use_info_log(options, dir);
  rocksdb::DB* db = nullptr;
  const auto s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return from_rocksdb(s, "cannot open the key store at " + dir);
  return std::unique_ptr<key_store>(new key_store(std::unique_ptr<rocksdb::DB>(db), master));
}

std::string key_store::wrap_aad(const case_id& id) const {
  std::string aad = "caseline.key.v1";
  aad += '\0';
  aad += id();
  return aad;
}

std::string key_store::wrap(const case_id& id, const events::secret_key& key) const {
  return events::aes_gcm_seal(master_, key.view(), wrap_aad(id));
}

void key_store::store(const case_id& id, const events::secret_key& key, stored_handler done) {
  queued_key q{id(), wrap(id, key), key, std::move(done)};
  if (replication_) {
    // In the keys topic first (through the partition's fenced writer), then here: a key that
    // only this server held would be lost with it, and a fenced writer's key is never committed.
    auto shared = std::make_shared<queued_key>(std::move(q));
    std::function<void(result<void>)> committed = [this, shared](result<void> r) {
      if (!r) return shared->done(std::move(r).error());
      enqueue(std::move(*shared));
    };
    if (replication_->commit(id, shared->wrapped, committed)) return;
    q = std::move(*shared);  // a key this server keeps alone
  }
  enqueue(std::move(q));
}

void key_store::store_ahead_of_record(const case_id& id, const events::secret_key& key,
                                      stored_handler done) {
  queued_key q{id(), wrap(id, key), key, std::move(done)};
  q.ahead_of_record = true;
  enqueue(std::move(q));
}

void key_store::confirm(std::vector<std::string> ids) {
  std::lock_guard lk(queue_mu_);
  if (confirmed_.empty()) {
    confirmed_ = std::move(ids);
  } else {
    for (auto& id : ids) confirmed_.push_back(std::move(id));
  }
}

result<void> key_store::each_ahead_of_record(const std::function<void(std::string_view id)>& fn) {
  return each_under(
      *db_, ahead_prefix,
      [&](std::string_view id) {
        fn(id);
        return true;
      },
      "read the keys ahead of their record");
}

result<void> key_store::settle(std::span<const std::string> ids) {
  if (ids.empty()) return success();
  rocksdb::WriteBatch batch;
  for (const auto& id : ids) batch.Delete(ahead_key(id));
  const auto s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return from_rocksdb(s, "settle the keys ahead of their record");
  return success();
}

void key_store::set_commit_linger(const events::group_linger& l) {
  std::lock_guard lk(queue_mu_);
  linger_ = l;
  queue_cv_.notify_one();
}

void key_store::enqueue(queued_key q) {
  {
    std::lock_guard lk(queue_mu_);
    if (!stopping_) {
      queue_.push_back(std::move(q));
      if (linger_.wakes(queue_.size())) queue_cv_.notify_one();
      return;
    }
  }
  q.done(make_error(events::errc::closed, "the key store is closing"));
}

result<events::secret_key> key_store::create(const case_id& id) {
  const auto key = events::secret_key::random();
  std::promise<result<void>> stored;
  store(id, key, [&stored](result<void> r) { stored.set_value(std::move(r)); });
  if (auto r = stored.get_future().get(); !r) return r.error();
  return key;
}

void key_store::commit_loop() {
  std::vector<queued_key> group;
  std::vector<std::string> journaled;
  std::vector<std::string> confirmed;
  for (;;) {
    {
      std::unique_lock lk(queue_mu_);
      queue_cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !unsynced_.empty(); });
      // Stopping, and every queued key is written (journaled ones left unsynced stay in the
      // journal: the next start copies them again). The marks confirmed since the last group
      // go now, so that a clean stop leaves none to check at the next start.
      if (queue_.empty() && unsynced_.empty()) {
        confirmed.swap(confirmed_);
        lk.unlock();
        if (auto r = settle(confirmed); !r)
          spdlog::warn("{}", log_line("key_marks_unsettled", {{"error", r.error().message()}}));
        return;
      }
      // Journaled keys are durable in the journal already: their sync here waits for the keys
      // of the next group commits (one sync for them all), unless keys are queued to commit, the
      // store stops, or enough of them wait.
      const auto sync_at = last_journal_sync_ + journal_sync_interval;
      queue_cv_.wait_until(lk, sync_at, [&] {
        return stopping_ || !queue_.empty() || unsynced_.size() >= journal_sync_batch;
      });
      // Under load, more keys before the sync (key_store.h): the first key waits `linger` at
      // most; a store that stops ends the wait.
      if (!queue_.empty() && !stopping_ && linger_.applies(last_group_, queue_.size())) {
        commit_lingers_.fetch_add(1, std::memory_order_relaxed);
        queue_cv_.wait_until(lk, linger_.until(),
                             [&] { return stopping_ || queue_.size() >= linger_.items; });
      }
      group.swap(queue_);
      if (!group.empty()) confirmed.swap(confirmed_);
      if (stopping_ || std::chrono::steady_clock::now() >= sync_at ||
          unsynced_.size() >= journal_sync_batch)
        journaled.swap(unsynced_);
    }
    if (!group.empty()) {
      commit(group, confirmed);
      last_group_ = group.size();
    }
    if (!journaled.empty()) {
      sync_journaled(journaled);
      last_journal_sync_ = std::chrono::steady_clock::now();
      journal_syncs_.fetch_add(1, std::memory_order_relaxed);
    }
    group.clear();
    journaled.clear();
    confirmed.clear();
  }
}

result<void> key_store::use_journal(events::key_journal& j) {
  auto left = j.pending();
  if (!left) return left.error();
  if (!left.value().empty()) {
    rocksdb::WriteBatch batch;
    std::vector<std::string> ids;
    for (const auto& k : left.value()) {
      batch.Put(k.id, k.wrapped);
      ids.push_back(k.id);
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    const auto s = db_->Write(wo, &batch);
    if (!s.ok()) return from_rocksdb(s, "copy the key journal");
    if (auto r = j.erase(ids); !r) return r;
    spdlog::info("{}", log_line("key_journal_copied", {{"keys", ids.size()}}));
  }
  journal_ = &j;
  j.on_durable([this](std::span<const events::journaled_key> keys) { journaled(keys); });
  return success();
}

void key_store::remember(const case_id& id, const events::secret_key& key) {
  cache_.put(id(), key);
}

// On the log's writer thread, before the appends' handlers: a key is readable here (and by a
// secondary opened later: the WAL is written, not synced) before its case is answered.
void key_store::journaled(std::span<const events::journaled_key> keys) {
  rocksdb::WriteBatch batch;
  for (const auto& k : keys) batch.Put(k.id, k.wrapped);
  if (const auto s = db_->Write(rocksdb::WriteOptions(), &batch); !s.ok()) {
    // The keys stay in the journal, which is durable: the next start copies them.
    spdlog::error("{}", log_line("key_journal_copy_failed", {{"error", s.ToString()}}));
    return;
  }
  std::lock_guard lk(queue_mu_);
  for (const auto& k : keys) unsynced_.push_back(k.id);
  queue_cv_.notify_one();
}

void key_store::sync_journaled(std::vector<std::string>& ids) {
  // Written here before they were queued: this sync makes them durable.
  if (const auto s = db_->SyncWAL(); !s.ok()) {
    spdlog::error("{}", log_line("key_store_sync_failed", {{"error", s.ToString()}}));
    return;  // they stay in the journal
  }
  if (auto r = journal_->erase(ids); !r)
    spdlog::warn("{}", log_line("key_journal_erase_failed", {{"error", r.error().message()}}));
}

// One WriteBatch and one synced write for the whole group; the handlers run after it. A key is
// cached only once it is durable, so a reader never sees a key that a crash could lose. The
// marks of confirmed keys go in the same write; when it fails they stay, to be checked.
void key_store::commit(std::vector<queued_key>& group, const std::vector<std::string>& confirmed) {
  rocksdb::WriteBatch batch;
  for (const auto& id : confirmed) batch.Delete(ahead_key(id));
  for (const auto& q : group) {
    batch.Put(q.id, q.wrapped);
    if (q.ahead_of_record) batch.Put(ahead_key(q.id), rocksdb::Slice());
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const auto s = db_->Write(wo, &batch);
  commit_syncs_.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) {
    // A failed synced write may still have reached the WAL: such a key belongs to no event (none
    // is appended without its handler's success) and is overwritten if its case id is used again.
    const error e = from_rocksdb(s, "store case keys");
    for (auto& q : group) q.done(e);
    return;
  }
  for (const auto& q : group) cache_.put(q.id, q.key);
  for (auto& q : group) q.done(success());
}

result<std::optional<events::secret_key>> key_store::get(const case_id& id) {
  auto cached = cache_.find(id());
  if (cached.key) return std::move(cached.key);
  std::uint64_t generation = cached.generation;
  std::string wrapped;
  auto s = db_->Get(rocksdb::ReadOptions(), id(), &wrapped);
  if (s.IsNotFound() && replication_) {
    // Another server may have committed it a moment ago: missing only once this server has
    // applied the keys topic's partition up to its end.
    if (auto r = replication_->await(id, std::chrono::steady_clock::now() + replicated_get_wait);
        !r)
      return make_error(
          events::errc::unavailable,
          "the key of case " + id() + " is not known here yet: " + r.error().message());
    generation = cache_.generation();
    s = db_->Get(rocksdb::ReadOptions(), id(), &wrapped);
  }
  if (s.IsNotFound()) return std::optional<events::secret_key>{};
  if (!s.ok()) return from_rocksdb(s, "read a case key");
  auto raw = events::aes_gcm_open(master_, wrapped, wrap_aad(id));
  if (!raw)
    return make_error(events::errc::corrupt_record,
                      "the key of case " + id() + " does not unwrap (wrong master key?)");
  const events::secret_key key(raw.value());
  // Not cached when a shred or the keys topic changed the store meanwhile: what was
  // read may be a key deleted since.
  cache_.put_unless_changed(id(), key, generation);
  return std::optional<events::secret_key>{key};
}

result<std::vector<case_id>> key_store::held(const std::vector<case_id>& ids) {
  std::vector<case_id> out;
  std::string wrapped;
  for (const auto& id : ids) {
    const auto s = db_->Get(rocksdb::ReadOptions(), id(), &wrapped);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return from_rocksdb(s, "read a case key");
    out.push_back(id);
  }
  return out;
}

result<void> key_store::shred(const std::vector<case_id>& ids) {
  // In a group, the tombstones first, each through the owner of its key's partition, and only
  // the keys whose tombstone is committed are deleted here: a crash in between leaves the
  // tombstone, which every server (this one too, on restart) applies. A key whose tombstone
  // failed stays here and on the others, and the next purge run, which finds it, shreds again.
  std::vector<case_id> local = ids;
  std::optional<error> failed;
  if (replication_) local = commit_tombstones(ids, failed);
  if (auto d = delete_here(local); !d) return d;
  if (failed) return *failed;
  return success();
}

std::vector<case_id> key_store::commit_tombstones(const std::vector<case_id>& ids,
                                                  std::optional<error>& failed) {
  struct outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t left{0};
    std::vector<char> committed;
    std::optional<error> first_error;
  };
  auto o = std::make_shared<outcome>();  // the handlers may answer after a timeout here
  o->committed.assign(ids.size(), 0);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::function<void(result<void>)> done = [o, i](result<void> r) {
      std::lock_guard lk(o->mu);
      if (r) {
        o->committed[i] = 1;
      } else if (!o->first_error) {
        o->first_error = std::move(r).error();
      }
      if (--o->left == 0) o->cv.notify_all();
    };
    {
      std::lock_guard lk(o->mu);
      ++o->left;
    }
    if (!replication_->commit(ids[i], std::string{}, done)) {
      std::lock_guard lk(o->mu);
      --o->left;
      o->committed[i] = 1;  // not replicated (a staging key): this server's alone
    }
  }
  std::unique_lock lk(o->mu);
  if (!o->cv.wait_for(lk, tombstone_wait, [&] { return o->left == 0; }))
    failed = make_error(events::errc::timed_out, "the keys' tombstones were not committed in time");
  if (o->first_error) failed = o->first_error;
  std::vector<case_id> out;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (o->committed[i]) out.push_back(ids[i]);
  return out;
}

result<void> key_store::delete_here(const std::vector<case_id>& ids) {
  if (ids.empty()) return success();
  rocksdb::WriteBatch batch;
  std::vector<std::string_view> deleted;
  deleted.reserve(ids.size());
  for (const auto& id : ids) {
    batch.Delete(id());
    batch.Delete(ahead_key(id()));
    deleted.push_back(id());
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const auto s = db_->Write(wo, &batch);
  if (!s.ok()) return from_rocksdb(s, "delete case keys");
  // Forgotten once the delete is written, never before: a get() that missed the cache meanwhile
  // may have read the old key from the database, and caches it only if the cache's generation has
  // not moved since its miss; one that reads the database after this reads the delete. (Forgotten
  // before the write, a key read during the synced write stayed cached after the shred.)
  cache_.forget(deleted);
  if (auto r = compact_deleted(); !r) return r;
  if (journal_) {
    // Only a new case's key is journaled (the case writer's); the store's other keys are named
    // `<kind>:...` (the registry's, a recording's staging key) and never are, so their shred
    // (one per claimed recording) costs no flush of the log.
    std::vector<std::string> names;
    for (const auto& id : ids)
      if (id().find(':') == std::string::npos) names.push_back(id());
    if (!names.empty())
      if (auto r = journal_->purge(names); !r) return r;
  }
  return success();
}

// Pushes deletions through the memtable and every level, so that a deleted wrapped key is in no
// file any more (the WAL that held it becomes obsolete and is removed at the flush).
result<void> key_store::compact_deleted() {
  auto s = db_->Flush(rocksdb::FlushOptions());
  if (!s.ok()) return from_rocksdb(s, "flush the key store");
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = db_->CompactRange(co, nullptr, nullptr);
  if (!s.ok()) return from_rocksdb(s, "compact the key store");
  return success();
}

result<void> key_store::apply(events::partition_id p, std::span<const events::log_record> records) {
  if (records.empty()) return success();
  rocksdb::WriteBatch batch;
  bool deleted = false;
  std::vector<std::string_view> changed;
  for (const auto& r : records) {
    if (r.key.empty()) continue;  // a gap: an offset without a committed record
    changed.push_back(r.key);
    if (r.value.empty()) {
      batch.Delete(r.key);
      deleted = true;
    } else {
      batch.Put(r.key, r.value);
    }
  }
  std::string next;
  storage::put_be64(next, static_cast<std::uint64_t>(records.back().position.offset() + 1));
  batch.Put(applied_offset_key(p), next);
  const auto s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return from_rocksdb(s, "apply the keys topic");
  cache_.forget(changed);  // after the write, as a shred's (delete_here)
  if (deleted) return compact_deleted();
  return success();
}

result<events::start_offsets> key_store::applied_offsets(std::int32_t partitions) {
  events::start_offsets out;
  for (std::int32_t p = 0; p < partitions; ++p) {
    std::string v;
    const auto s =
        db_->Get(rocksdb::ReadOptions(), applied_offset_key(events::partition_id{p}), &v);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return from_rocksdb(s, "read the keys topic's offsets");
    if (v.size() != 8)
      return make_error(events::errc::corrupt_record, "a keys topic offset is not 8 bytes");
    out[p] = static_cast<std::int64_t>(storage::get_be64(v));
  }
  return out;
}

result<std::optional<std::string>> key_store::stored_record(std::string_view name) {
  std::string v;
  const auto s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(name.data(), name.size()), &v);
  if (s.IsNotFound()) return std::optional<std::string>{};
  if (!s.ok()) return from_rocksdb(s, "read the key store");
  return std::optional<std::string>{std::move(v)};
}

result<void> key_store::mark_unpublished(const std::vector<std::string>& ids, bool unpublished) {
  if (ids.empty()) return success();
  rocksdb::WriteBatch batch;
  for (const auto& id : ids) {
    if (unpublished) {
      batch.Put(unpublished_key(id), "");
    } else {
      batch.Delete(unpublished_key(id));
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const auto s = db_->Write(wo, &batch);
  if (!s.ok()) return from_rocksdb(s, "mark the keys not yet published");
  return success();
}

result<bool> key_store::is_unpublished(std::string_view id) {
  std::string v;
  const auto s = db_->Get(rocksdb::ReadOptions(), unpublished_key(id), &v);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return from_rocksdb(s, "read the keys not yet published");
  return true;
}

result<void> key_store::each_unpublished(const std::function<bool(std::string_view id)>& fn) {
  return each_under(*db_, unpublished_prefix, fn, "read the keys not yet published");
}

result<void> key_store::note_seen(timestamp t) {
  std::string v;
  storage::put_be64(v, static_cast<std::uint64_t>(t.ms));
  const auto s = db_->Put(rocksdb::WriteOptions(), seen_key, v);
  if (!s.ok()) return from_rocksdb(s, "record when the keys topic was last applied");
  return success();
}

result<std::optional<timestamp>> key_store::seen() {
  std::string v;
  const auto s = db_->Get(rocksdb::ReadOptions(), seen_key, &v);
  if (s.IsNotFound()) return std::optional<timestamp>{};
  if (!s.ok()) return from_rocksdb(s, "read when the keys topic was last applied");
  if (v.size() != 8)
    return make_error(events::errc::corrupt_record, "the keys topic's seen time is not 8 bytes");
  return std::optional<timestamp>{timestamp{static_cast<std::int64_t>(storage::get_be64(v))}};
}

result<void> key_store::each_stored(const stored_visitor& fn) {
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions())};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto k = it->key();
    if (k.empty() || k[0] == '\0') continue;  // apply()'s offsets
    if (auto r = fn(std::string_view(k.data(), k.size()), it->value().ToString()); !r) return r;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read the key store");
  return success();
}

}  // namespace caseline::projections
