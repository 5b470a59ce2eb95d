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
#include "events/storage/secondary.h"
#include "events/storage/status.h"

namespace caseline::projections {

namespace {

using storage::from_rocksdb;
constexpr std::size_t cache_limit = 100'000;

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
    : owned_(std::move(db)), db_(owned_.get()), master_(master) {
  committer_ = std::thread([this] { commit_loop(); });
}

// A secondary has a committer too: its writes fail (read-only), each through its handler.
key_store::key_store(std::unique_ptr<storage::secondary_db> secondary,
                     const events::secret_key& master)
    : secondary_(std::move(secondary)), db_(&secondary_->db()), master_(master) {
  committer_ = std::thread([this] { commit_loop(); });
}

result<std::unique_ptr<key_store>> key_store::open_secondary(const std::string& dir,
                                                             const events::secret_key& master) {
  auto db = storage::open_secondary(dir, {rocksdb::kDefaultColumnFamilyName});
  if (!db) return db.error();
  return std::unique_ptr<key_store>(new key_store(std::move(db).value(), master));
}

key_store::~key_store() {
  {
    std::lock_guard lk(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  committer_.join();
}

result<std::unique_ptr<key_store>> key_store::open(const std::string& dir,
                                                   const events::secret_key& master) {
  rocksdb::Options options;
  options.create_if_missing = true;
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

void key_store::store(const case_id& id, const events::secret_key& key, stored_handler done) {
  queued_key q{id(), events::aes_gcm_seal(master_, key.view(), wrap_aad(id)), key, std::move(done)};
  {
    std::lock_guard lk(queue_mu_);
    if (!stopping_) {
      queue_.push_back(std::move(q));
      queue_cv_.notify_one();
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
  for (;;) {
    {
      std::unique_lock lk(queue_mu_);
      queue_cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued key is written
      group.swap(queue_);
    }
    commit(group);
    group.clear();
  }
}

// One WriteBatch and one synced write for the whole group; the handlers run after it. A key is
// cached only once it is durable, so a reader never sees a key that a crash could lose.
void key_store::commit(std::vector<queued_key>& group) {
  rocksdb::WriteBatch batch;
  for (const auto& q : group) batch.Put(q.id, q.wrapped);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const auto s = db_->Write(wo, &batch);
  if (!s.ok()) {
    // A failed synced write may still have reached the WAL: such a key belongs to no event (none
    // is appended without its handler's success) and is overwritten if its case id is used again.
    const error e = from_rocksdb(s, "store case keys");
    for (auto& q : group) q.done(e);
    return;
  }
  {
    std::lock_guard lk(mu_);
    for (const auto& q : group) {
      if (cache_.size() >= cache_limit) cache_.clear();
      cache_.insert_or_assign(q.id, q.key);
    }
  }
  for (auto& q : group) q.done(success());
}

result<std::optional<events::secret_key>> key_store::get(const case_id& id) {
  {
    std::lock_guard lk(mu_);
    if (auto it = cache_.find(id()); it != cache_.end())
      return std::optional<events::secret_key>{it->second};
  }
  std::string wrapped;
  const auto s = db_->Get(rocksdb::ReadOptions(), id(), &wrapped);
  if (s.IsNotFound()) return std::optional<events::secret_key>{};
  if (!s.ok()) return from_rocksdb(s, "read a case key");
  auto raw = events::aes_gcm_open(master_, wrapped, wrap_aad(id));
  if (!raw)
    return make_error(events::errc::corrupt_record,
                      "the key of case " + id() + " does not unwrap (wrong master key?)");
  const events::secret_key key(raw.value());
  std::lock_guard lk(mu_);
  if (cache_.size() >= cache_limit) cache_.clear();
  cache_.insert_or_assign(id(), key);
  return std::optional<events::secret_key>{key};
}

result<void> key_store::shred(const std::vector<case_id>& ids) {
  rocksdb::WriteBatch batch;
  {
    std::lock_guard lk(mu_);
    for (const auto& id : ids) {
      cache_.erase(id());
      batch.Delete(id());
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto s = db_->Write(wo, &batch);
  if (!s.ok()) return from_rocksdb(s, "delete case keys");
  // Push the deletion through the memtable and every level, so that the wrapped key is in no
  // file any more (the WAL that held it becomes obsolete and is removed at the flush).
  s = db_->Flush(rocksdb::FlushOptions());
  if (!s.ok()) return from_rocksdb(s, "flush the key store");
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = db_->CompactRange(co, nullptr, nullptr);
  if (!s.ok()) return from_rocksdb(s, "compact the key store");
  return success();
}

}  // namespace caseline::projections
