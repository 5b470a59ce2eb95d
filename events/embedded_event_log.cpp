#include "events/embedded_event_log.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/sst_partitioner.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/acknowledgements.h"
#include "events/burst_source.h"
#include "events/errc.h"
#include "events/kafka_event_log.h"
#include "events/key_journal.h"
#include "events/storage/big_endian.h"
#include "events/storage/info_log.h"
#include "events/storage/key.h"
#include "events/storage/memory_budget.h"
#include "events/storage/secondary.h"
#include "events/storage/status.h"
#include "events/thread_name.h"

namespace caseline::events {

namespace {

using storage::from_rocksdb;

using embedded_layout::journal_family;
using embedded_layout::partitions_key;
using embedded_layout::records_family;

std::string record_key(std::int32_t p, std::int64_t offset) {
  return embedded_layout::record_key{p, offset}.encode();
}

// The database and the published end offsets. Shared by the log and its subscriptions, so that
// a subscription never outlives what it reads.
class log_store {
 public:
  log_store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
            std::vector<std::int64_t> end)
      : db_(std::move(db)), handles_(std::move(handles)), end_(std::move(end)) {}
  log_store(std::unique_ptr<storage::secondary_db> secondary, std::vector<std::int64_t> end)
      : secondary_(std::move(secondary)), handles_(secondary_->handles()), end_(std::move(end)) {}

  ~log_store() {
    if (secondary_) return;  // it closes its own database
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }

  bool read_only() const { return secondary_ != nullptr; }

  std::int32_t partitions() const { return static_cast<std::int32_t>(end_.size()); }
  rocksdb::DB& db() { return secondary_ ? secondary_->db() : *db_; }
  rocksdb::ColumnFamilyHandle* records() { return handles_[1]; }
  // The key journal's family; none when opened read-only.
  rocksdb::ColumnFamilyHandle* journal() { return handles_.size() > 2 ? handles_[2] : nullptr; }
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles() const { return handles_; }

  std::int64_t end_of(std::int32_t p) {
    std::lock_guard lk(mu_);
    return end_[p];
  }

  // The records of one group commit, as written, for the subscriptions that take bursts.
  using burst = std::shared_ptr<const std::vector<log_record>>;
  // What a burst subscription has not taken yet. Bounded: a subscription that lags (catching up
  // at start) drops what it holds and reads the records back instead (`dropped`).
  struct inbox {
    std::vector<burst> bursts;
    bool dropped{false};
  };
  static constexpr std::size_t inbox_limit = 256;

  void add_inbox(inbox* in) {
    std::lock_guard lk(mu_);
    inboxes_.push_back(in);
  }
  void remove_inbox(inbox* in) {
    std::lock_guard lk(mu_);
    std::erase(inboxes_, in);
  }
  // Whether a burst is worth building: some subscription takes them.
  bool takes_bursts() {
    std::lock_guard lk(mu_);
    return !inboxes_.empty();
  }
  // Takes what `in` holds, oldest first, with the end offsets as they were then (`end`); false
  // when the inbox dropped bursts since the last take (those records are read back). Every
  // record past `end` reaches the inbox: publish moves the end and fills the inboxes at once.
  bool take(inbox& in, std::vector<burst>& out, std::vector<std::int64_t>& end) {
    std::lock_guard lk(mu_);
    out.swap(in.bursts);
    end = end_;
    return !std::exchange(in.dropped, false);
  }

  // Records delivered by reading them back from the database rather than from a burst.
  void count_read_back(std::size_t n) { read_back_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t read_back() const { return read_back_.load(std::memory_order_relaxed); }

  // The new end offsets, and the records that moved them (null when no subscription takes
  // bursts): both at once, so that a subscription never sees records past the end it knows.
  void publish(const std::vector<std::int64_t>& end, const burst& records = nullptr) {
    {
      std::lock_guard lk(mu_);
      end_ = end;
      if (records) {
        for (auto* in : inboxes_) {
          if (in->bursts.size() >= inbox_limit) {
            in->bursts.clear();
            in->dropped = true;
          }
          if (!in->dropped) in->bursts.push_back(records);
        }
      }
    }
    appended_.notify_all();
  }

  // Waits until some partition in `positions` has records past its position, the deadline
  // passes, or `stop` is set. Returns immediately when records are there.
  template <class Pred>
  void wait_until(std::chrono::steady_clock::time_point deadline, Pred ready) {
    std::unique_lock lk(mu_);
    appended_.wait_until(lk, deadline, [&] { return ready(end_); });
  }

  void wake_all() {
    { std::lock_guard lk(mu_); }
    appended_.notify_all();
  }

  result<std::vector<log_record>> read_range(std::int32_t p, std::int64_t from, std::size_t max) {
    std::vector<log_record> out;
    const std::int64_t end = end_of(p);
    if (from >= end || max == 0) return out;
    const std::string upper = record_key(p, end);
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper_slice(upper);
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db().NewIterator(ro, records()));
    std::int64_t expected = from;
    for (it->Seek(record_key(p, from)); it->Valid() && out.size() < max; it->Next()) {
      const auto k = embedded_layout::record_key::decode(it->key().ToStringView());
      if (!k || k->partition != p)
        return make_error(errc::corrupt_record, "embedded log: a record key of another layout");
      const std::int64_t offset = k->offset;
      if (offset != expected)
        return make_error(errc::corrupt_record, "embedded log: partition " + std::to_string(p) +
                                                    " has a gap at offset " +
                                                    std::to_string(expected));
      const auto v = embedded_layout::record_value::decode(it->value().ToStringView());
      if (!v) return v.error();
      out.push_back(log_record{{partition_id{p}, log_offset{offset}},
                               std::string(v.value().key),
                               std::string(v.value().bytes)});
      ++expected;
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "embedded log read");
    if (out.empty() && from < end)
      return make_error(errc::corrupt_record, "embedded log: partition " + std::to_string(p) +
                                                  " is missing offset " + std::to_string(from));
    return out;
  }

 private:
  std::unique_ptr<storage::secondary_db> secondary_;  // read-only: owns the database and handles
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [default, records, key journal]
  std::mutex mu_;
  std::condition_variable appended_;
  std::vector<std::int64_t> end_;  // next offset per partition, guarded by mu_
  std::vector<inbox*> inboxes_;    // the burst subscriptions', guarded by mu_
  std::atomic<std::uint64_t> read_back_{0};
};

// Delivers records to a handler on its own thread; see event_log::subscribe. With `bursts`
// (burst_source.h), a group commit's records reach it in memory, all partitions in one batch,
// when they follow on what it delivered; what does not (a start behind the log's end, an inbox
// that overflowed) is read back from the database, one partition per batch, as without.
class embedded_subscription final : public subscription {
 public:
  embedded_subscription(std::shared_ptr<log_store> store, const start_offsets& from,
                        event_log::batch_handler handler, std::size_t max_batch, bool bursts)
      : store_(std::move(store)),
        handler_(std::move(handler)),
        max_batch_(max_batch),
        bursts_(bursts) {
    pos_.assign(static_cast<std::size_t>(store_->partitions()), 0);
    for (auto [p, off] : from) pos_[static_cast<std::size_t>(p)] = off;
    if (bursts_) store_->add_inbox(&inbox_);
    thread_ = std::thread([this] {
      name_this_thread("log-subscr");
      run();
    });
  }

  ~embedded_subscription() override {
    stop_.store(true);
    store_->wake_all();
    thread_.join();
    if (bursts_) store_->remove_inbox(&inbox_);
  }

  std::optional<error> failure() const override {
    std::lock_guard lk(failure_mu_);
    return failure_;
  }

 private:
  void fail(error e) {
    std::lock_guard lk(failure_mu_);
    failure_ = std::move(e);
  }

  // Whether every record of `b` is the next of its partition: then it is delivered as it is.
  // (Records already delivered, or past a gap, leave it to the read-back below.)
  bool follows(const std::vector<log_record>& b) {
    expected_ = pos_;
    for (const auto& r : b) {
      auto& next = expected_[static_cast<std::size_t>(r.position.partition())];
      if (r.position.offset() != next) return false;
      ++next;
    }
    return true;
  }

  void run() {
    std::vector<log_store::burst> taken;
    std::vector<std::int64_t> end_at_take;
    while (!stop_.load()) {
      bool delivered = false;
      if (bursts_) {
        const bool whole = store_->take(inbox_, taken, end_at_take);
        for (const auto& b : taken) {
          if (stop_.load() || !follows(*b)) continue;
          if (auto r = handler_(*b); !r) return fail(r.error());
          pos_.swap(expected_);
          delivered = true;
        }
        taken.clear();
        // Delivered up to the end as it was at the take, and nothing dropped since: whatever
        // was written after is in the inbox, so nothing is read back (what was written while
        // the handler ran would otherwise be read here and its burst skipped).
        if (whole && pos_ == end_at_take) {
          if (!delivered) wait_for_records();
          continue;
        }
      }
      for (std::int32_t p = 0; p < store_->partitions() && !stop_.load(); ++p) {
        auto& pos = pos_[static_cast<std::size_t>(p)];
        auto batch = store_->read_range(p, pos, max_batch_);
        if (!batch) return fail(batch.error());
        if (batch.value().empty()) continue;
        if (auto r = handler_(batch.value()); !r) return fail(r.error());
        pos += static_cast<std::int64_t>(batch.value().size());
        if (bursts_) store_->count_read_back(batch.value().size());
        delivered = true;
      }
      if (delivered) continue;
      wait_for_records();
    }
  }

  // Until some partition has records past what was delivered (or stop, or half a second).
  void wait_for_records() {
    store_->wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(500),
                       [this](const std::vector<std::int64_t>& end) {
                         if (stop_.load()) return true;
                         for (std::size_t i = 0; i < end.size(); ++i)
                           if (end[i] > pos_[i]) return true;
                         return false;
                       });
  }

  std::shared_ptr<log_store> store_;
  event_log::batch_handler handler_;
  std::size_t max_batch_;
  const bool bursts_;
  log_store::inbox inbox_;              // guarded by the store's mutex
  std::vector<std::int64_t> pos_;       // owned by the thread
  std::vector<std::int64_t> expected_;  // owned by the thread: pos_ after a burst
  std::atomic<bool> stop_{false};
  mutable std::mutex failure_mu_;
  std::optional<error> failure_;
  std::thread thread_;
};

// Counts RocksDB's recoveries from a background error (a full disk freed: its own recovery, or a
// resume the log asked for), so that the log's writer resumes at the first batch after one
// instead of waiting for its next try.
class recovery_counter final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) recovered_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t recovered() const { return recovered_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::uint64_t> recovered_{0};
};

// Lifecycle: opened by open_embedded_log; the destructor writes every queued append, then
// stops the writer. Subscriptions keep the store alive but must be destroyed by their owner.
class embedded_event_log final : public event_log, public key_journal, public burst_source {
 public:
  // `recoveries`: the listener of the store's database (null for a read-only log).
  embedded_event_log(std::shared_ptr<log_store> store, std::size_t max_batch,
                     std::shared_ptr<const recovery_counter> recoveries = nullptr,
                     group_linger linger = {})
      : store_(std::move(store)),
        max_batch_(max_batch),
        recoveries_(std::move(recoveries)),
        linger_(linger) {
    linger_.items = std::min(linger_.items, max_batch_);
    next_.resize(static_cast<std::size_t>(store_->partitions()));
    for (std::int32_t p = 0; p < store_->partitions(); ++p)
      next_[static_cast<std::size_t>(p)] = store_->end_of(p);
    writer_ = std::thread([this] {
      name_this_thread("log-commit");
      write_loop();
    });
  }

  ~embedded_event_log() override {
    {
      std::lock_guard lk(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
  }

  std::int32_t partition_count() const override { return store_->partitions(); }

  void append(std::string key, std::string value, append_handler handler) override {
    const partition_id p = partition_for(key, store_->partitions());
    enqueue(p, std::move(key), std::move(value), std::move(handler));
  }

  void append_to(partition_id p, std::string key, std::string value,
                 append_handler handler) override {
    if (p() < 0 || p() >= store_->partitions())
      return handler(make_error(errc::invalid_partition, "partition " + std::to_string(p())));
    enqueue(p, std::move(key), std::move(value), std::move(handler));
  }

  result<std::vector<log_record>> read(partition_id p, log_offset from, std::size_t max_records,
                                       std::chrono::milliseconds wait) override {
    if (p() < 0 || p() >= store_->partitions())
      return make_error(errc::invalid_partition, "partition " + std::to_string(p()));
    if (from() < 0) return make_error(errc::invalid_partition, "negative offset");
    if (wait.count() > 0) {
      store_->wait_until(std::chrono::steady_clock::now() + wait,
                         [&](const std::vector<std::int64_t>& end) {
                           return end[static_cast<std::size_t>(p())] > from();
                         });
    }
    return store_->read_range(p(), from(), max_records);
  }

  result<log_offset> end_offset(partition_id p) override {
    if (p() < 0 || p() >= store_->partitions())
      return make_error(errc::invalid_partition, "partition " + std::to_string(p()));
    return log_offset{store_->end_of(p())};
  }

  result<std::unique_ptr<subscription>> subscribe(start_offsets from,
                                                  batch_handler handler) override {
    return subscribe_with(from, std::move(handler), false);
  }

  result<std::unique_ptr<subscription>> subscribe_bursts(start_offsets from,
                                                         batch_handler handler) override {
    return subscribe_with(from, std::move(handler), true);
  }

  std::uint64_t records_read_back() const { return store_->read_back(); }
  group_commit_counts group_commits() const {
    return {groups_.load(std::memory_order_relaxed), lingers_.load(std::memory_order_relaxed)};
  }

  result<void> flush(std::chrono::milliseconds timeout) override {
    std::unique_lock lk(queue_mu_);
    const std::uint64_t target = issued_;
    if (!flushed_cv_.wait_for(lk, timeout, [&] { return completed_ >= target; }))
      return make_error(errc::timed_out, "embedded log flush");
    return success();
  }

  result<void> check() override { return success(); }

  key_journal* journal() { return store_->read_only() ? nullptr : this; }
  std::uint64_t resume_attempts() const { return resume_attempts_.load(std::memory_order_relaxed); }
  std::uint64_t error_recoveries() const { return recoveries_ ? recoveries_->recovered() : 0; }

  void append_with_key(std::string key, std::string value, journaled_key k,
                       append_handler handler) override {
    const partition_id p = partition_for(key, store_->partitions());
    enqueue(p, std::move(key), std::move(value), std::move(handler), std::move(k));
  }

  void on_durable(durable_handler handler) override {
    std::lock_guard lk(durable_mu_);
    durable_ = std::move(handler);
  }

  result<std::vector<journaled_key>> pending() override {
    std::vector<journaled_key> out;
    if (!store_->journal()) return out;
    std::unique_ptr<rocksdb::Iterator> it(
        store_->db().NewIterator(rocksdb::ReadOptions(), store_->journal()));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out.push_back({it->key().ToString(), it->value().ToString()});
    if (!it->status().ok()) return from_rocksdb(it->status(), "read the key journal");
    return out;
  }

  result<void> erase(std::span<const std::string> ids) override {
    return delete_journaled(ids, false);
  }

  result<void> purge(std::span<const std::string> ids) override {
    if (auto r = delete_journaled(ids, true); !r) return r;
    // Every family, so that the WAL files that held the keys become obsolete and are deleted;
    // then the journal's SST files are rewritten without them.
    auto s = store_->db().Flush(rocksdb::FlushOptions(), store_->handles());
    if (!s.ok()) return from_rocksdb(s, "flush the embedded log");
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    s = store_->db().CompactRange(co, store_->journal(), nullptr, nullptr);
    if (!s.ok()) return from_rocksdb(s, "compact the key journal");
    return success();
  }

 private:
  result<void> delete_journaled(std::span<const std::string> ids, bool sync) {
    if (!store_->journal()) return make_error(errc::closed, "the embedded log is open read-only");
    rocksdb::WriteBatch wb;
    for (const auto& id : ids) wb.Delete(store_->journal(), id);
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    const auto s = store_->db().Write(wo, &wb);
    if (!s.ok()) return from_rocksdb(s, "erase from the key journal");
    return success();
  }

  result<std::unique_ptr<subscription>> subscribe_with(const start_offsets& from,
                                                       batch_handler handler, bool bursts) {
    for (auto [p, off] : from) {
      if (p < 0 || p >= store_->partitions())
        return make_error(errc::invalid_partition, "partition " + std::to_string(p));
      if (off < 0) return make_error(errc::invalid_partition, "negative offset");
    }
    return std::unique_ptr<subscription>(
        std::make_unique<embedded_subscription>(store_, from, std::move(handler), 1024, bursts));
  }

  void enqueue(partition_id p, std::string key, std::string value, append_handler handler,
               std::optional<journaled_key> journaled = std::nullopt) {
    if (store_->read_only())
      return handler(make_error(errc::closed, "the embedded log is open read-only"));
    {
      std::lock_guard lk(queue_mu_);
      if (!stopping_) {
        queue_.push_back(queued_append{p, std::move(key), std::move(value), std::move(handler),
                                       std::move(journaled)});
        ++issued_;
        if (linger_.wakes(queue_.size())) queue_cv_.notify_one();
        return;
      }
    }
    handler(make_error(errc::closed, "append after shutdown began"));
  }

  struct queued_append {
    partition_id partition;
    std::string key;
    std::string value;
    append_handler handler;
    std::optional<journaled_key> journaled;  // written in the same WriteBatch
  };

  void write_loop() {
    std::vector<queued_append> batch;
    std::vector<log_position> positions;
    for (;;) {
      {
        std::unique_lock lk(queue_mu_);
        queue_cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued is written
        // Under load, more appends for this group's sync (group_linger.h); a stop ends the wait.
        if (!stopping_ && linger_.applies(last_group_, queue_.size())) {
          lingers_.fetch_add(1, std::memory_order_relaxed);
          queue_cv_.wait_until(lk, linger_.until(),
                               [&] { return stopping_ || queue_.size() >= linger_.items; });
        }
        while (!queue_.empty() && batch.size() < max_batch_) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      groups_.fetch_add(1, std::memory_order_relaxed);  // before its handlers run
      write_batch(batch, positions);
      last_group_ = batch.size();
      {
        std::lock_guard lk(queue_mu_);
        completed_ += batch.size();
      }
      flushed_cv_.notify_all();
      batch.clear();
    }
  }

  // One WriteBatch and one WAL sync for the whole group; the handlers run after it.
  void write_batch(std::vector<queued_append>& batch, std::vector<log_position>& positions) {
    const auto before = next_;
    positions.clear();
    // After a failed write RocksDB refuses every write until it is resumed (a full disk: once
    // there is room again; RocksDB also recovers by itself, and a resume meanwhile is "busy").
    // Until it resumes, nothing of this batch is written. A resume is tried at once, then at
    // most once per resume_interval — or at the first batch after RocksDB recovered — the
    // batches in between refused at once with the last try's answer: a full disk is said as
    // such (disk_full) while the try finds it full or still recovering, and what the try found
    // otherwise (a database that cannot recover: freeing space would not help).
    if (resume_needed_) {
      const auto now = std::chrono::steady_clock::now();
      if (now < next_resume_ && error_recoveries() == recoveries_at_failure_)
        return fail_batch(batch, *refusal_);
      resume_attempts_.fetch_add(1, std::memory_order_relaxed);
      if (const auto s = store_->db().Resume(); !s.ok()) {
        const bool first = !refusal_;
        const error tried = from_rocksdb(s, "resume");
        const bool still_full =
            write_failure_.code == errc::disk_full && (s.IsBusy() || tried.code == errc::disk_full);
        recoveries_at_failure_ = error_recoveries();  // a recovery that did not last
        refusal_ = make_error(
            still_full ? errc::disk_full : tried.code,
            fmt::format("nothing written: the embedded log writes again once it resumes after "
                        "a failed write ({}); last try to resume: {}",
                        write_failure_.detail, s.ToString()));
        next_resume_ = now + resume_interval;
        if (first)
          spdlog::warn(
              "{}", log_line("log_resume_failed",
                             {{"error", s.ToString()},
                              {"retry_ms", static_cast<std::int64_t>(resume_interval.count())}}));
        return fail_batch(batch, *refusal_);
      }
      if (refusal_) spdlog::info("{}", log_line("log_resumed", {}));
      resume_needed_ = false;
      refusal_.reset();
      next_resume_ = {};
    }
    rocksdb::WriteBatch wb;
    journaled_.clear();
    for (auto& item : batch) {
      const partition_id p = item.partition;
      const std::int64_t offset = next_[static_cast<std::size_t>(p())]++;
      // The stored value (embedded_layout::record_value) in parts: no copy of the record but
      // the batch's own.
      const std::string length =
          storage::key_builder().be32(static_cast<std::uint32_t>(item.key.size())).str();
      const std::array<rocksdb::Slice, 3> value{rocksdb::Slice(length), rocksdb::Slice(item.key),
                                                rocksdb::Slice(item.value)};
      const std::string k = record_key(p(), offset);
      const rocksdb::Slice key_slice(k);
      wb.Put(store_->records(), rocksdb::SliceParts(&key_slice, 1),
             rocksdb::SliceParts(value.data(), static_cast<int>(value.size())));
      positions.push_back({p, log_offset{offset}});
      if (item.journaled) {
        wb.Put(store_->journal(), item.journaled->id, item.journaled->wrapped);
        journaled_.push_back(std::move(*item.journaled));
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    const rocksdb::Status s = store_->db().Write(wo, &wb);
    if (!s.ok()) {
      next_ = before;
      resume_needed_ = true;
      recoveries_at_failure_ = error_recoveries();
      write_failure_ = from_rocksdb(s, "embedded log append");
      // A failed synced write may still have reached the WAL (and be replayed at the next
      // open): the records are not known to be written, nor known not to be.
      return fail_batch(batch, make_error(errc::outcome_unknown, write_failure_.detail));
    }
    // The records as written, for the subscriptions that take them in memory: the WriteBatch
    // holds copies, so the appends' own strings move.
    log_store::burst records;
    if (store_->takes_bursts()) {
      auto written = std::make_shared<std::vector<log_record>>();
      written->reserve(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i)
        written->push_back(
            log_record{positions[i], std::move(batch[i].key), std::move(batch[i].value)});
      records = std::move(written);
    }
    store_->publish(next_, records);
    if (!journaled_.empty()) {
      std::lock_guard lk(durable_mu_);
      if (durable_) durable_(journaled_);
    }
    acknowledgement_scope burst;  // the handlers' work for the whole group, after them
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].handler(positions[i]);
    burst.run();
  }

  // Every handler of the batch with `e`, nothing written.
  static void fail_batch(std::vector<queued_append>& batch, const error& e) {
    acknowledgement_scope burst;  // the handlers' work for the whole group, after them
    for (auto& item : batch) item.handler(e);
    burst.run();
  }

  static constexpr std::chrono::milliseconds resume_interval{1000};

  std::shared_ptr<log_store> store_;
  std::size_t max_batch_;
  std::vector<std::int64_t> next_;  // owned by the writer thread
  std::vector<journaled_key> journaled_;  // the keys of the batch being written (writer thread)
  bool resume_needed_{false};  // a write failed: resume the database first (writer thread)
  // Writer thread: the failed write that needs the resume; the answer to the batches while a
  // resume fails, and when the next may be tried.
  error write_failure_;
  std::optional<error> refusal_;
  std::chrono::steady_clock::time_point next_resume_{};
  std::atomic<std::uint64_t> resume_attempts_{0};
  std::shared_ptr<const recovery_counter> recoveries_;
  std::uint64_t recoveries_at_failure_{0};  // writer thread: error_recoveries() then
  std::mutex durable_mu_;
  durable_handler durable_;  // guarded by durable_mu_

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable flushed_cv_;
  std::deque<queued_append> queue_;
  std::uint64_t issued_{0};
  std::uint64_t completed_{0};
  bool stopping_{false};
  group_linger linger_;        // its items at most max_batch_
  std::size_t last_group_{0};  // writer thread: appends of the last group written
  std::atomic<std::uint64_t> groups_{0};
  std::atomic<std::uint64_t> lingers_{0};
  std::thread writer_;
};

}  // namespace

namespace {

// The next offset of every partition: one past the last record's.
result<std::vector<std::int64_t>> end_offsets(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* records,
                                              std::int32_t partitions) {
  std::vector<std::int64_t> end(static_cast<std::size_t>(partitions), 0);
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), records));
  for (std::int32_t p = 0; p < partitions; ++p) {
    it->SeekForPrev(record_key(p, std::numeric_limits<std::int64_t>::max()));
    if (!it->Valid()) continue;
    const auto k = embedded_layout::record_key::decode(it->key().ToStringView());
    if (k && k->partition == p) end[static_cast<std::size_t>(p)] = k->offset + 1;
  }
  if (!it->status().ok())
    return from_rocksdb(it->status(), "embedded log: cannot find the end offsets");
  return end;
}

// The key journal's entries live for milliseconds (erased once the key store synced them), so a
// small memtable: flushed often (mostly tombstones), it never keeps the log's older WAL files,
// which hold journaled keys, alive for long.
rocksdb::ColumnFamilyOptions journal_options() {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 1 << 20;
  return o;
}

result<std::unique_ptr<event_log>> open_read_only(const embedded_log_options& options) {
  auto db = storage::open_secondary(
      options.dir, {rocksdb::kDefaultColumnFamilyName, std::string(records_family)});
  if (!db) return db.error();
  std::string stored;
  const auto s = db.value()->db().Get(rocksdb::ReadOptions(), db.value()->handles()[0],
                                      partitions_key, &stored);
  if (!s.ok() || stored.size() != 4)
    return make_error(errc::bad_config,
                      "the embedded log at " + options.dir + " has no partition count");
  const auto partitions = static_cast<std::int32_t>(storage::get_be32(stored));
  auto end = end_offsets(db.value()->db(), db.value()->handles()[1], partitions);
  if (!end) return end.error();
  auto store = std::make_shared<log_store>(std::move(db).value(), std::move(end).value());
  return std::unique_ptr<event_log>(
      std::make_unique<embedded_event_log>(std::move(store), options.max_batch_records));
}

}  // namespace

key_journal* journal_of(event_log& log) {
  auto* embedded = dynamic_cast<embedded_event_log*>(&log);
  return embedded ? embedded->journal() : kafka_journal_of(log);
}

std::optional<std::uint64_t> resume_attempts_of(const event_log& log) {
  const auto* embedded = dynamic_cast<const embedded_event_log*>(&log);
  if (!embedded) return std::nullopt;
  return embedded->resume_attempts();
}

std::optional<std::uint64_t> records_read_back_of(const event_log& log) {
  const auto* embedded = dynamic_cast<const embedded_event_log*>(&log);
  if (!embedded) return std::nullopt;
  return embedded->records_read_back();
}

std::optional<group_commit_counts> group_commits_of(const event_log& log) {
  const auto* embedded = dynamic_cast<const embedded_event_log*>(&log);
  if (!embedded) return std::nullopt;
  return embedded->group_commits();
}

std::optional<std::uint64_t> error_recoveries_of(const event_log& log) {
  const auto* embedded = dynamic_cast<const embedded_event_log*>(&log);
  if (!embedded) return std::nullopt;
  return embedded->error_recoveries();
}

result<std::unique_ptr<event_log>> open_embedded_log(const embedded_log_options& options) {
  if (options.read_only) return open_read_only(options);
  if (options.partitions < 1 || options.partitions > 4096)
    return make_error(errc::bad_config, "partitions must be between 1 and 4096");
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {std::string(records_family), rocksdb::ColumnFamilyOptions()},
      {std::string(journal_family), journal_options()}};
  if (options.memory) {
    // Records are appended in offset order and read back mostly while recent (the runner's
    // tail): a modest memtable is enough. The default family holds the partition count only;
    // the journal keeps its small one (journal_options).
    constexpr auto none = storage::memory_budget::filter::none;
    options.memory->apply(db_options);
    options.memory->apply(cfs[0].options, std::size_t{1} << 20, none);
    options.memory->apply(cfs[1].options, std::size_t{16} << 20, none);
    options.memory->apply(cfs[2].options, cfs[2].options.write_buffer_size, none);
  }
  embedded_layout::tune_records_family(cfs[1].options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto recoveries = std::make_shared<recovery_counter>();
  db_options.listeners.push_back(recoveries);
  storage::use_info_log(db_options, options.dir);
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.dir, cfs, &handles, &raw);
  if (!s.ok()) return from_rocksdb(s, "cannot open the embedded log at " + options.dir);
  std::unique_ptr<rocksdb::DB> db(raw);

  auto close_handles = [&] {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  };
  std::string stored;
  s = db->Get(rocksdb::ReadOptions(), handles[0], partitions_key, &stored);
  if (s.IsNotFound()) {
    std::string v;
    storage::put_be32(v, static_cast<std::uint32_t>(options.partitions));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, handles[0], partitions_key, v);
    if (!s.ok()) {
      close_handles();
      return from_rocksdb(s, "embedded log: cannot store the partition count");
    }
  } else if (!s.ok()) {
    close_handles();
    return from_rocksdb(s, "embedded log: cannot read the partition count");
  } else if (stored.size() != 4 ||
             static_cast<std::int32_t>(storage::get_be32(stored)) != options.partitions) {
    close_handles();
    return make_error(errc::bad_config,
                      "the embedded log at " + options.dir + " has " +
                          std::to_string(stored.size() == 4 ? storage::get_be32(stored) : 0) +
                          " partitions, not " + std::to_string(options.partitions) +
                          " (records would move between partitions)");
  }

  auto end = end_offsets(*db, handles[1], options.partitions);
  if (!end) {
    close_handles();
    return end.error();
  }
  auto store =
      std::make_shared<log_store>(std::move(db), std::move(handles), std::move(end).value());
  return std::unique_ptr<event_log>(std::make_unique<embedded_event_log>(
      std::move(store), options.max_batch_records, std::move(recoveries), options.commit_linger));
}

}  // namespace caseline::events

namespace caseline::events::embedded_layout {

// The records are appended at the tail of every partition at once, so each flushed file spans
// all of them, and leveled compaction, which merges a file with every file its key range
// overlaps, rewrote level 1 whole at each compaction of level 0. Compaction output is cut at
// partition boundaries instead (the record key's first 4 bytes), and level 1 kept small: a file
// of one partition's offsets overlaps nothing below it (that partition's older offsets sit in
// other files), so it moves down without a rewrite, and a compaction of level 0 rewrites only
// what level 0 and the little left in level 1 hold. Files written before are cut as they
// are compacted again; nothing is stored differently.
void tune_records_family(rocksdb::ColumnFamilyOptions& o) {
  o.sst_partitioner_factory = rocksdb::NewSstPartitionerFixedPrefixFactory(sizeof(std::uint32_t));
  o.max_bytes_for_level_base = std::uint64_t{8} << 20;
  o.target_file_size_base = std::uint64_t{8} << 20;
}

std::string record_key::encode() const {
  return storage::key_builder()
      .be32(static_cast<std::uint32_t>(partition))
      .be64(static_cast<std::uint64_t>(offset))
      .str();
}

std::optional<record_key> record_key::decode(std::string_view key) {
  storage::key_parser in(key);
  const auto p = in.be32();
  const auto o = in.be64();
  if (!p || !o || !in.done()) return std::nullopt;
  return record_key{static_cast<std::int32_t>(*p), static_cast<std::int64_t>(*o)};
}

std::string record_value::encode() const {
  std::string out = storage::key_builder().be32(static_cast<std::uint32_t>(key.size())).str();
  out.reserve(out.size() + key.size() + bytes.size());
  out += key;
  out += bytes;
  return out;
}

result<record_value> record_value::decode(std::string_view value) {
  storage::key_parser in(value);
  const auto len = in.be32();
  if (!len) return make_error(errc::corrupt_record, "embedded log: short record");
  const std::string_view rest = in.rest();
  if (rest.size() < *len)
    return make_error(errc::corrupt_record, "embedded log: truncated record key");
  return record_value{rest.substr(0, *len), rest.substr(*len)};
}

}  // namespace caseline::events::embedded_layout
