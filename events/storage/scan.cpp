#include "events/storage/scan.h"

#include <memory>
#include <string>
#include <string_view>

#include <rocksdb/db.h>

#include "events/storage/key_order.h"
#include "events/storage/status.h"

namespace caseline::storage {

namespace {

// The least key above every key that starts with `prefix`, or empty when there is none (an
// empty prefix, or one of 0xff bytes only).
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace

result<void> scan(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const key_range& range,
                  const std::string& what, const row_visitor& visit, const rocksdb::Snapshot* at) {
  std::string upper = prefix_end(range.prefix);
  if (!range.until.empty() && (upper.empty() || range.until < upper)) upper = range.until;
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options = in_key_order();
  options.snapshot = at;
  if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
  // A scan of one extracted prefix may use the family's prefix filters.
  if (range.extracted_prefix) {
    options.total_order_seek = false;
    options.prefix_same_as_start = true;
  }
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options, cf));
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
                                       std::string_view key, const std::string& what,
                                       const rocksdb::Snapshot* at) {
  std::string value;
  rocksdb::ReadOptions ro;
  ro.snapshot = at;
  const auto s = db.Get(ro, cf, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>{};
  if (!s.ok()) return from_rocksdb(s, what);
  return std::optional<std::string>{std::move(value)};
}

}  // namespace caseline::storage
