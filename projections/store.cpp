#include "projections/store.h"

#include <rocksdb/db.h>

#include "events/storage/secondary.h"
#include "events/storage/status.h"

namespace caseline::projections {

namespace {
constexpr const char* family_names[] = {"offsets",     "cases",      "case_events",
                                        "counters",    "tokens",     "idempotency",
                                        "case_index",  "registry",   "access_log",
                                        "queue_cases", "queues", "sla_deadlines", "sla_remind",
                                        "report_cases", "report_counters", "retention",
                                        "server_state", "idempotency_index"};
static_assert(std::size(family_names) == static_cast<std::size_t>(family::count_));
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

result<std::unique_ptr<store>> store::open(const std::string& dir) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}};
  for (const char* name : family_names) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, cfs, &handles, &db);
  if (!s.ok()) return storage::from_rocksdb(s, "cannot open the projection store at " + dir);
  return std::unique_ptr<store>(new store(dir, db, std::move(handles)));
}

}  // namespace caseline::projections
