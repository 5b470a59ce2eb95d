#pragma once

// Replaying the log into fresh projections, and comparing two stores key by key: the proof that
// every read model is a function of the log.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "events/event_log.h"
#include "projections/projection.h"
#include "projections/projection_set.h"
#include "projections/store.h"

namespace caseline::storage {
class secondary_db;
}  // namespace caseline::storage

namespace caseline::projections {

// The column families those projections write (names as the store opens them), the ones a
// verify compares. Families written by the gateway itself (idempotency, access log, server
// state) are not a function of the log and are not compared.
const std::vector<std::string>& log_derived_families();

struct replay_progress {
  std::uint64_t records{0};
  std::uint64_t events{0};
  std::uint64_t total_records{0};  // to replay in all
  std::chrono::duration<double> elapsed{};
};

struct replay_stats {
  std::uint64_t records{0};
  std::uint64_t events{0};
  std::uint64_t keys{0};  // puts and deletes written, offsets included
  std::chrono::duration<double> elapsed{};
  double events_per_second() const;
  double keys_per_event() const;
};

// Records a replay applies in one WriteBatch (per partition): the larger, the fewer rows are
// read back and rewritten (a case's row, a day's counter) — each projection folds a batch's
// events into one write per row.
constexpr std::size_t replay_batch_records = 16384;
// In a store opened for bulk loading (store::open_mode::bulk), records between two flushes: the
// most a crash makes the replay do again.
constexpr std::uint64_t replay_checkpoint_records = std::uint64_t{1} << 20;

// Replays partitions [0, n) of the log from each partition's stored offset (0 in a fresh store)
// up to `until` (partition -> end offset, exclusive; a partition not named: the log's end when
// called) through a runner over `projections`. `progress` is called after each batch. Into a
// store opened for bulk loading the batches are written without the WAL and flushed, rows and
// offsets together, every `checkpoint_records` records and at the end.
result<replay_stats> replay(events::event_log& log, store& target,
                            std::vector<projection*> projections,
                            const std::map<std::int32_t, std::int64_t>& until,
                            const std::function<void(const replay_progress&)>& progress = {},
                            std::uint64_t checkpoint_records = replay_checkpoint_records);

// The same, in parallel: one thread per set of projections (a "lane", each its own instances over
// the same store, e.g. projection_set::all() of one projection_set each), lane i replaying the
// partitions p with p % lanes == i. Lanes never write the same row but for the report counters,
// which are written as merges only (reports.h), so the store is the one a single lane writes.
// Each batch holds its partition's offset; the flushes are atomic across families, so a crash
// leaves every partition's rows and offset of one point. `progress` is called after each batch,
// from the lane's thread, one call at a time. The first error stops every lane. One lane runs on
// the calling thread.
result<replay_stats> replay(events::event_log& log, store& target,
                            const std::vector<std::vector<projection*>>& lanes,
                            const std::map<std::int32_t, std::int64_t>& until,
                            const std::function<void(const replay_progress&)>& progress = {},
                            std::uint64_t checkpoint_records = replay_checkpoint_records);

// The lanes a replay of `partitions` partitions uses by default: one per core, at most one per
// partition, at least one.
unsigned default_replay_lanes(std::int32_t partitions);

// Every log-derived projection (projection_set), `lanes` sets of them over `target`: what a
// rebuild replays. The sets load what they keep in memory at construction (load_error()).
class replay_sets {
 public:
  replay_sets(store& target, unsigned lanes);
  const std::vector<std::vector<projection*>>& lanes() const { return lanes_; }
  // The first set's error loading its rows, if any.
  std::optional<error> load_error() const;

 private:
  std::vector<std::unique_ptr<projection_set>> sets_;
  std::vector<std::vector<projection*>> lanes_;
};

// The next offset of every partition a store has applied (read-only: the store may be open in a
// running server). A partition never applied is absent. The second form reads a store already
// opened as a secondary instance: with compare_stores on the same instance, the offsets and the
// rows are of one moment, however far the running server has gone on since.
result<std::map<std::int32_t, std::int64_t>> stored_offsets(const std::string& store_dir);
result<std::map<std::int32_t, std::int64_t>> stored_offsets(storage::secondary_db& db);

struct store_difference {
  std::string family;
  std::string key;   // printable: hex for bytes outside ASCII
  std::string what;  // "only in <a>", "only in <b>", "values differ"
};

// Compares the named families of two stores (both opened read-only, as secondary instances, so
// either may be open in a running server) key by key and byte by byte; at most `max` differences
// are returned. A report counter merged back to zero counts as no key (reports.h): whether one is
// left depends on where the batches of a replay began and ended, not on the log.
result<std::vector<store_difference>> compare_stores(const std::string& a_dir,
                                                     const std::string& b_dir,
                                                     const std::vector<std::string>& families,
                                                     std::size_t max = 50);
// The same for stores already open; `name` is what a difference says ("only in <name>").
struct named_store {
  storage::secondary_db& db;
  std::string name;
};
result<std::vector<store_difference>> compare_stores(const named_store& a, const named_store& b,
                                                     const std::vector<std::string>& families,
                                                     std::size_t max = 50);

}  // namespace caseline::projections
