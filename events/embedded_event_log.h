#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "events/event_log.h"
#include "events/group_linger.h"
#include "events/storage/fwd.h"

namespace caseline::events {

struct embedded_log_options {
  std::string dir;             // the RocksDB folder of the log (created if missing)
  std::int32_t partitions{8};  // fixed at creation; reopening with another count is refused
  std::size_t max_batch_records{4096};  // group commit: at most this many appends per WAL sync
  // Read-only, beside a running server that holds the log's lock (a RocksDB secondary
  // instance): every record acknowledged before the open (acknowledged means synced to the WAL,
  // which the secondary reads too), and nothing after; appends fail with errc::closed. The
  // partition count is the log's own (`partitions` is not checked). For the tools that only
  // read (replay, audit verify, backup).
  bool read_only{false};
  // The memory budget a server shares among its databases (events/storage/memory_budget.h):
  // the log's memtables and blocks are charged to it. Null: RocksDB's defaults.
  const storage::memory_budget* memory{nullptr};
  // Under load, how the writer waits for more appends before a group's WAL sync
  // (events/group_linger.h; its `items` at most max_batch_records). Default: never.
  group_linger commit_linger{};
};

// The single-machine log: records in a RocksDB column family keyed by (partition, offset).
// Appends are queued and group-committed by one writer thread: one WriteBatch and one WAL sync
// per batch, then the handlers run. A record is acknowledged only once it would survive a
// process crash or power loss. It is also a key journal (event_log::journal): a new case's
// wrapped key rides in its first record's WriteBatch.
result<std::unique_ptr<event_log>> open_embedded_log(const embedded_log_options& options);

class key_journal;
// The key journal (events/key_journal.h) of a log: an embedded log opened for writing, a Kafka
// log with a group (kafka_journal_of); null for a read-only one and for any other log. It
// lives as long as the log.
key_journal* journal_of(event_log& log);

// How often an embedded log has tried to resume its database after a failed write (a full
// disk): at once after the failure, then at most once a second while it keeps failing, or at the
// first append after RocksDB recovered by itself; the appends in between fail at once with the
// last try's error. Nullopt for any other log.
std::optional<std::uint64_t> resume_attempts_of(const event_log& log);
// Records the embedded log's burst subscriptions got by reading them back from its database
// rather than in a burst, since it opened: those of a start behind the end, or of an inbox that
// overflowed; none while they keep up. Nullopt for any other log (a Kafka consumer fetches every
// record: nothing is read back there).
std::optional<std::uint64_t> records_read_back_of(const event_log& log);
// The embedded log's group commits (one WriteBatch and one WAL sync each) since it opened,
// each counted before its appends' handlers run, and how many of them its writer lingered for
// (embedded_log_options::commit_linger). Nullopt for any other log.
struct group_commit_counts {
  std::uint64_t groups{0};
  std::uint64_t lingers{0};
};
std::optional<group_commit_counts> group_commits_of(const event_log& log);
// How often the embedded log's database recovered from a background error (a full disk freed),
// by itself or resumed. Nullopt for any other log.
std::optional<std::uint64_t> error_recoveries_of(const event_log& log);

// The embedded log's stored layout (notation of events/storage/key.h), for the log itself and
// for the tools and tests that open its RocksDB directly:
//   column family "records": be32(partition) be64(offset) -> be32(key length), key, record bytes
//   default column family:   "partitions" -> the partition count (decimal)
//   column family "key_journal": case id -> its data key wrapped by the master key, written with
//                                the case's first record, erased once the key store holds it
//                                (events/key_journal.h)
namespace embedded_layout {
constexpr std::string_view records_family = "records";
constexpr std::string_view journal_family = "key_journal";
constexpr std::string_view partitions_key = "partitions";

struct record_key {
  std::int32_t partition{0};
  std::int64_t offset{0};

  std::string encode() const;
  static std::optional<record_key> decode(std::string_view key);
};

// The records family's compaction settings (open_embedded_log's): compaction output cut at
// partition boundaries and a small level 1, so that the appends at every partition's tail are
// written about twice (flush, one compaction) instead of rewriting level 1 at each compaction.
void tune_records_family(rocksdb::ColumnFamilyOptions& o);

// A record's stored value: its Kafka-style key and its bytes, views into `value`.
struct record_value {
  std::string_view key;
  std::string_view bytes;

  std::string encode() const;
  // errc::corrupt_record when the value is shorter than its declared key.
  static result<record_value> decode(std::string_view value);
};
}  // namespace embedded_layout

}  // namespace caseline::events
