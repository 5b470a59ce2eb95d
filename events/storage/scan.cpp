#include "events/storage/scan.h"

#include <memory>

#include <rocksdb/db.h>

#include "events/storage/status.h"

namespace caseline::storage {

result<void> scan(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const key_range& range,
                  const std::string& what, const row_visitor& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), cf));
  const rocksdb::Slice prefix(range.prefix);
  for (it->Seek(range.from.empty() ? range.prefix : range.from);
       it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (!range.until.empty() && key >= range.until) break;
    auto step = visit(key, it->value().ToStringView());
    if (!step) return step.error();
    if (step.value() == scan_step::stop) break;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), what);
  return success();
}

result<std::optional<std::string>> get(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                       std::string_view key, const std::string& what) {
  std::string value;
  const auto s = db.Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>{};
  if (!s.ok()) return from_rocksdb(s, what);
  return std::optional<std::string>{std::move(value)};
}

}  // namespace caseline::storage
