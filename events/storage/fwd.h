#pragma once

// The RocksDB types and storage handles that headers name without using them, declared once so
// that those headers need not include RocksDB's.
namespace rocksdb {
class ColumnFamilyHandle;
struct ColumnFamilyOptions;
class DB;
class Snapshot;
}  // namespace rocksdb

namespace caseline::storage {
class memory_budget;
class secondary_db;
}  // namespace caseline::storage
