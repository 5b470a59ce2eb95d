#pragma once

#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "core/result.h"

namespace caseline::storage {

// A RocksDB database opened as a secondary instance: read-only, beside a primary that may hold
// the database's lock (a running server). It sees what the primary had written when it caught
// up (synced WAL writes included), and nothing after. Its own files (an info log) live in a
// private temporary folder, removed by the destructor after the database is closed.
// Lifecycle: open_secondary(); then any thread (RocksDB reads are thread-safe).
class secondary_db {
 public:
  ~secondary_db();
  secondary_db(const secondary_db&) = delete;
  secondary_db& operator=(const secondary_db&) = delete;

  rocksdb::DB& db() { return *db_; }
  // In the order of the families asked for (all of the database's when none were named).
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles() const { return handles_; }
  const std::vector<std::string>& names() const { return names_; }
  // Reads what the primary has written since the open or the last catch-up.
  result<void> catch_up();

 private:
  friend result<std::unique_ptr<secondary_db>> open_secondary(const std::string&,
                                                              std::vector<std::string>);
  secondary_db() = default;
  std::string private_dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<std::string> names_;
};

// Opens `primary_dir` as a secondary instance with `families` (empty: every family it has) and
// catches up once. errc::not_found when there is no database there.
result<std::unique_ptr<secondary_db>> open_secondary(const std::string& primary_dir,
                                                     std::vector<std::string> families = {});

}  // namespace caseline::storage
