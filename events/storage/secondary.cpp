#include "events/storage/secondary.h"

#include <cstdlib>
#include <filesystem>

#include "events/errc.h"
#include "events/storage/counter_merge.h"
#include "events/storage/info_log.h"
#include "events/storage/status.h"

namespace caseline::storage {

namespace fs = std::filesystem;

secondary_db::~secondary_db() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_.reset();
  }
  std::error_code ec;
  // Best effort: a leftover folder under the temporary directory harms nothing.
  if (!private_dir_.empty()) fs::remove_all(private_dir_, ec);
}

result<void> secondary_db::catch_up() {
  const rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return from_rocksdb(s, "catch up with the primary");
  return success();
}

result<std::unique_ptr<secondary_db>> open_secondary(const std::string& primary_dir,
                                                     std::vector<std::string> families) {
  std::error_code ec;
  if (!fs::exists(fs::path(primary_dir) / "CURRENT", ec))
    return make_error(events::errc::not_found, "there is no database at " + primary_dir);
  rocksdb::Options options;
  // A secondary keeps every file it reads open: the primary may delete them once compacted.
  options.max_open_files = -1;
  if (families.empty()) {
    const auto s = rocksdb::DB::ListColumnFamilies(options, primary_dir, &families);
    if (!s.ok()) return from_rocksdb(s, "list the families of " + primary_dir);
  }
  auto out = std::unique_ptr<secondary_db>(new secondary_db);
  std::string templ = (fs::temp_directory_path(ec) / "caseline-secondary-XXXXXX").string();
  if (ec || ::mkdtemp(templ.data()) == nullptr)
    return make_error(events::errc::bad_config,
                      "cannot create a temporary folder for a secondary instance");
  out->private_dir_ = templ;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.reserve(families.size());
  // Counters kept as merges (counter_merge.h) are read through their operator; a family without
  // merges never calls it.
  rocksdb::ColumnFamilyOptions family_options;
  family_options.merge_operator = counter_add_operator();
  for (const auto& n : families) cfs.emplace_back(n, family_options);
  rocksdb::DB* db = nullptr;
  rocksdb::DBOptions db_options(options);
  use_info_log(db_options, out->private_dir_);
  const auto s = rocksdb::DB::OpenAsSecondary(db_options, primary_dir, out->private_dir_, cfs,
                                              &out->handles_, &db);
  if (!s.ok()) return from_rocksdb(s, "open " + primary_dir + " as a secondary instance");
  out->db_.reset(db);
  out->names_ = std::move(families);
  if (auto r = out->catch_up(); !r) return r.error();
  return out;
}

}  // namespace caseline::storage
