#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "events/storage/fwd.h"

namespace caseline::storage {

// The rows a scan visits, in key order: the keys that start with `prefix`, from `from` on
// (inclusive; the prefix itself when empty, and then it must start with the prefix) and below
// `until` (exclusive; no bound when empty). An empty prefix is the whole family.
struct key_range {
  std::string prefix;
  std::string from;
  std::string until;
  // The prefix is one the family's prefix extractor gives (its keys' part that the family's
  // prefix filters hold: store.cpp): the scan skips the files whose filter rules it out. Only
  // for such a prefix: a shorter or longer one could miss rows.
  bool extracted_prefix = false;
};

enum class scan_step { next, stop };

// Gets each row's key and value (views valid during the call only); says whether to go on, or
// fails, which ends the scan with that error.
using row_visitor = std::function<result<scan_step>(std::string_view key, std::string_view value)>;

// Visits the rows of `range` in `cf` until the range ends, `visit` stops or fails. Then the
// iterator's own status is checked: a read error is returned (from_rocksdb(status, what)), never
// taken for the end of the range. Thread-safe as RocksDB reads are; sees the database as of `at`
// (a snapshot the caller holds, so that several scans see one state), else as of its start.
// The range's end bounds RocksDB's iterator too, so that it reads no block and no file past it.
result<void> scan(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const key_range& range,
                  const std::string& what, const row_visitor& visit,
                  const rocksdb::Snapshot* at = nullptr);

// The value stored at `key`, or nullopt when there is none; a read error as from_rocksdb(what).
// With `at`, as of that snapshot.
result<std::optional<std::string>> get(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                       std::string_view key, const std::string& what,
                                       const rocksdb::Snapshot* at = nullptr);

}  // namespace caseline::storage
