#include "projections/store.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>

#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "events/storage/counter_merge.h"
#include "events/storage/info_log.h"
#include "events/storage/key.h"
#include "events/storage/key_order.h"
#include "events/storage/scan.h"
#include "events/storage/secondary.h"
#include "events/storage/status.h"
#include "projections/rebuild.h"
#include "projections/row_keys.h"
#include "projections/store_memory.h"
#include "projections/token_store.h"

namespace caseline::projections {

namespace {
constexpr const char* family_names[] = {"offsets",     "cases",      "case_events",
                                        "counters",    "tokens",     "idempotency",
                                        "case_index",  "registry",   "access_log",
                                        "queue_cases", "queues", "sla_deadlines", "sla_remind",
                                        "report_cases", "report_counters", "retention",
                                        "server_state", "idempotency_index"};
static_assert(std::size(family_names) == static_cast<std::size_t>(family::count_));

// The families whose rows are read a key at a time on the write path (the runner's projections
// read each touched row before they fold a batch into it): a Bloom filter makes the read of a
// row that is not there, a new case's, cheap.
bool read_by_key(family f) {
  switch (f) {
    case family::cases:
    case family::counters:
    case family::tokens:
    case family::idempotency:
    case family::report_cases:
    case family::report_counters:
    case family::idempotency_index:
      return true;
    default:
      return false;
  }
}

// A case_events key's prefix for the family's prefix filters: the case's rows
// (keys::case_history::prefix_of). The name is kept in every table written with it, and a table
// whose name differs is read without its prefix filter: a change of what it extracts takes a
// new name.
class case_history_prefixes final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "caseline.case_history_prefix.1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const auto p = keys::case_history::prefix_of(key.ToStringView());
    return p ? rocksdb::Slice(p->data(), p->size()) : key;
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return keys::case_history::prefix_of(key.ToStringView()).has_value();
  }
};

// The layout of the log-derived rows (the key layouts of row_keys.h and the values of store.h),
// kept in the default column family, which no projection writes. 1: the stores from before it
// was kept (case_events held an event's location only); 2: case_events hold each event's stored
// bytes too (the case's history is read from them, not from the log); 3: the case-id counters
// are kept per partition of the log (keys::case_counter), and the owners view (partition claims);
// 4: the tokens family is log-derived too (token events, projections/token_store.h); 5: the
// queues fold no state of their own (queue_cases is no longer written, queues.h), so the
// rows a store of 4 kept there are emptied with the rest; 6: a report figure's counts by metric
// are one key of cells (row_keys.h, report_counters), no longer one key per metric; 7: a case's
// history rows begin with its day of receipt (keys::case_history), no longer with its id; 8: so
// do the case rows (keys::case_row), which were keyed by the id alone.
constexpr std::string_view layout_key = "layout";
constexpr std::uint64_t layout_version = 8;

// The stored layout: none in a new store (no offsets applied yet), 1 when it predates the row.
result<std::optional<std::uint64_t>> stored_layout(rocksdb::DB& db,
                                                   rocksdb::ColumnFamilyHandle* default_cf,
                                                   rocksdb::ColumnFamilyHandle* offsets) {
  auto stored = storage::get(db, default_cf, layout_key, "read the store layout");
  if (!stored) return stored.error();
  if (stored.value()) {
    const auto v = storage::parse_be64_value(*stored.value());
    if (!v) return make_error(events::errc::corrupt_record, "stored store layout");
    return std::optional<std::uint64_t>{*v};
  }
  bool applied = false;
  auto scanned = storage::scan(db, offsets, {}, "read offsets", [&](auto, auto) {
    applied = true;
    return storage::scan_step::stop;
  });
  if (!scanned) return scanned.error();
  return applied ? std::optional<std::uint64_t>{1} : std::nullopt;
}

// A store of another layout is rebuilt: every log-derived family (rebuild.h), the offsets
// included, is emptied in one synced WriteBatch with the new layout row, so the runner replays
// the log into them from offset 0 (the server does at start: catch_up); the gateway's own
// families (idempotency, access log, server state) are kept. A crash before the write
// leaves the old store as it was, to be rebuilt at the next open.
result<void> upgrade_layout(rocksdb::DB& db,
                            const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                            const std::string& dir) {
  auto* offsets = handles[static_cast<std::size_t>(family::offsets) + 1];
  auto stored = stored_layout(db, handles[0], offsets);
  if (!stored) return stored.error();
  if (stored.value() == layout_version) return success();
  rocksdb::WriteBatch batch;
  if (stored.value()) {
    for (const auto& name : log_derived_families()) {
      const auto* f = std::find(std::begin(family_names), std::end(family_names), name);
      auto* cf = handles[static_cast<std::size_t>(f - std::begin(family_names)) + 1];
      std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(storage::in_key_order(), cf));
      it->SeekToLast();
      if (!it->status().ok()) return storage::from_rocksdb(it->status(), "read " + name);
      if (!it->Valid()) continue;
      const std::string last = it->key().ToString();
      batch.DeleteRange(cf, "", last);
      batch.Delete(cf, last);
    }
    spdlog::warn("{}",
                 log_line("store_layout_rebuilt",
                          {{"store", dir}, {"from", *stored.value()}, {"to", layout_version}}));
  }
  batch.Put(handles[0], layout_key, storage::be64_value(layout_version));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  const rocksdb::Status s = db.Write(sync, &batch);
  if (!s.ok()) return storage::from_rocksdb(s, "write the store layout");
  return success();
}
}  // namespace

store::store(std::string dir, rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : dir_(std::move(dir)), db_(db), handles_(std::move(handles)) {}

store::store(std::string dir, std::unique_ptr<storage::secondary_db> secondary)
    : dir_(std::move(dir)),
      secondary_(std::move(secondary)),
      db_(&secondary_->db()),
      handles_(secondary_->handles()) {}

store::~store() {
  if (secondary_) return;  // it closes its own database
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  delete db_;
}

result<std::unique_ptr<store>> store::open_secondary(const std::string& dir) {
  std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName};
  names.insert(names.end(), std::begin(family_names), std::end(family_names));
  auto db = storage::open_secondary(dir, std::move(names));
  if (!db) return db.error();
  return std::unique_ptr<store>(new store(dir, std::move(db).value()));
}

result<std::unique_ptr<store>> store::open(const std::string& dir, open_mode mode,
                                           const storage::memory_budget* budget) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  rocksdb::ColumnFamilyOptions family_options;
  rocksdb::ColumnFamilyOptions point_read_options;
  // A case's history is read as one prefix (case_reader::history).
  rocksdb::ColumnFamilyOptions history_options;
  history_options.prefix_extractor = std::make_shared<case_history_prefixes>();
  const family_options_by_reads by_reads{family_options, point_read_options, history_options};
  if (budget && mode == open_mode::normal)
    apply_store_memory(*budget, normal_store_memory.family_write_buffer, options, by_reads);
  else
    apply_store_memory(mode == open_mode::bulk ? bulk_store_memory : normal_store_memory, options,
                       by_reads);
  if (mode == open_mode::bulk) {
    // Writes without the WAL are consistent across families only if they are flushed together.
    options.atomic_flush = true;
    // The close after a replay's last flush has nothing left to write; after a crash or a
    // failed replay, what was not flushed is replayed again from the stored offsets.
    options.avoid_flush_during_shutdown = true;
    for (auto* f : {&family_options, &point_read_options, &history_options})
      f->max_write_buffer_number = 4;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs{
      {rocksdb::kDefaultColumnFamilyName, family_options}};
  // The report counters are added to by merges (reports.h): no read before the write.
  rocksdb::ColumnFamilyOptions counter_options = point_read_options;
  counter_options.merge_operator = storage::counter_add_operator();
  for (std::size_t i = 0; i < std::size(family_names); ++i) {
    const auto f = static_cast<family>(i);
    cfs.emplace_back(family_names[i], f == family::report_counters ? counter_options
                                      : f == family::case_events   ? history_options
                                      : read_by_key(f)             ? point_read_options
                                                                   : family_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  storage::use_info_log(options, dir);
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, cfs, &handles, &db);
  if (!s.ok()) return storage::from_rocksdb(s, "cannot open the projection store at " + dir);
  auto opened = std::unique_ptr<store>(new store(dir, db, std::move(handles)));
  opened->bulk_ = mode == open_mode::bulk;
  // Before the tokens family is treated as log-derived (a layout change empties it): the tokens
  // an older store kept without a log event wait aside to be published.
  if (auto r = set_aside_unlogged_tokens(*db, opened->cf(family::tokens),
                                         opened->cf(family::server_state));
      !r)
    return r.error();
  if (auto r = upgrade_layout(*db, opened->handles_, dir); !r) return r.error();
  return opened;
}

std::shared_ptr<const rocksdb::Snapshot> store::snapshot() {
  if (read_only()) return nullptr;
  rocksdb::DB* db = db_;
  return {db->GetSnapshot(), [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); }};
}

result<void> store::flush() {
  rocksdb::FlushOptions wait;
  wait.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  const rocksdb::Status s = db_->Flush(wait, all);
  if (!s.ok()) return storage::from_rocksdb(s, "flush the projection store");
  return success();
}

}  // namespace caseline::projections
