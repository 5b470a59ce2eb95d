#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "events/storage/fwd.h"

namespace caseline::projections {

// The column families of the projection store. Each projection owns its own families; every
// projection writes its consumed offsets into `offsets` in the same WriteBatch as its rows. The
// key layouts, each written once with its encoding and decoding: row_keys.h.
enum class family : std::size_t {
  offsets = 0,  // keys::offset -> next offset to apply (be64)
  cases,        // keys::case_row -> case_row (cereal)
  case_events,  // keys::case_history -> be32 partition, be64 offset, be32 index, stored bytes
  counters,     // keys::case_counter, keys::revisit_tally, keys::partition_owner (row_keys.h)
  // the gateway's: tokens (from the log), idempotency, list index, registry, access log
  tokens,       // hex SHA-256 of a bearer token -> token_info; "meta" (projections/token_store.h)
  idempotency,  // keys::idempotency -> the first answer (projections/idempotency_store.h)
  case_index,   // keys::case_index -> case summary (projections/case_index.h)
  registry,     // keys::registry: units, calendar years, both streams' heads
  access_log,   // keys::access -> who read which case (access_log.h)
  // worklists and reports: work queues, deadline index, statutory report counters
  queue_cases,      // no longer written (layout 5); kept so that older stores open
  queues,           // keys::queue -> queue_item (queues.h)
  sla_deadlines,    // keys::deadline -> deadline_row (sla_index.h)
  sla_remind,       // keys::remind -> deadline_row, until reminded (sla_index.h)
  report_cases,     // case id -> report_facts (reports.h)
  report_counters,  // "<kind>/<period>/<center>/..." -> be64 (row_keys.h, keys::report_*)
  // retention (Art. 38): every purge, refusal and legal hold, in log order per case
  retention,  // keys::case_sequence -> retention_entry (retention.h)
  // the server's own state, not a function of the log (never compared by rebuild --verify)
  server_state,  // the names in server_state_key (server_state.h) -> their values
  // Idempotency-Keys carried by records: the first write of each key (idempotency_index.h)
  idempotency_index,  // key hash (hex) -> keyed_write
  count_              // keep last
};

// The RocksDB database that holds every projection (under <data>/store). Lifecycle: open()
// creates or opens it; destroying it closes it. Thread-safe (RocksDB is).
class store {
 public:
  // How open() tunes the database. `bulk` is for replaying the log into a fresh store
  // (rebuild.h): memtables of up to 256 MiB (512 MiB in all) and every flush atomic across all
  // families (atomic_flush), so that the runner writes without the WAL: a crash then leaves
  // every family and the offsets as of one flush, all together, and a replay resumes from those
  // offsets (tests/integration/rebuild_crash_test.cpp).
  enum class open_mode { normal, bulk };
  // `budget`: the memory budget a server shares among its databases (normal mode only;
  // store_memory.h); without one the store has its own (normal_store_memory).
  static result<std::unique_ptr<store>> open(const std::string& dir,
                                             open_mode mode = open_mode::normal,
                                             const storage::memory_budget* budget = nullptr);
  // The store as a running server has it, read-only (a RocksDB secondary instance, beside the
  // server that holds the lock): what the server had written at the open. Writes fail. For the
  // tools that only read (reports, retention audit, audit verify); errc::not_found when there
  // is no store at `dir`.
  static result<std::unique_ptr<store>> open_secondary(const std::string& dir);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  rocksdb::DB& db() { return *db_; }
  bool read_only() const { return secondary_ != nullptr; }
  // A snapshot for reads that must see one state of the store (the scans of one audit or one
  // report, while the runner writes batches), released when its last holder lets it go; none
  // for a read-only store, which has no snapshots and is one state until it is caught up.
  std::shared_ptr<const rocksdb::Snapshot> snapshot();
  // Opened with open_mode::bulk: the runner writes without the WAL, flush() makes it durable.
  bool bulk() const { return bulk_; }
  // Writes every family's memtable to disk (in bulk mode in one atomic flush) and waits.
  result<void> flush();
  rocksdb::ColumnFamilyHandle* cf(family f) { return handles_[static_cast<std::size_t>(f) + 1]; }
  const std::string& dir() const { return dir_; }

 private:
  store(std::string dir, rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles);
  store(std::string dir, std::unique_ptr<storage::secondary_db> secondary);

  std::string dir_;
  std::unique_ptr<storage::secondary_db> secondary_;  // owns db_ and handles_ when set
  rocksdb::DB* db_{nullptr};
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [default, families...]
  bool bulk_{false};
};

}  // namespace caseline::projections
