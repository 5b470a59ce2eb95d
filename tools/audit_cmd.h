#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "events/checkpoint.h"
#include "events/event_log.h"
#include "events/record.h"
#include "tools/serve.h"

namespace caseline::tools {

// ------------------------------------------------------------------ shared by audit and replay

// Where a stream (a case, or the registry) stands while its events are checked in log order.
struct chain_head {
  std::uint64_t sequence{0};   // of the last event seen (0: none yet)
  std::string last_hash;       // SHA-256 of its stored bytes ("" before the first event)
  std::string last_event_id;
  events::log_position last_position;
};

// What is wrong with `env` (stored as `stored_bytes` in the record at `at`, whose key is
// `record_key`) as the next event of the stream at `head`, or nullopt when it chains: the record
// key is the stream's id, the event id is "<id>#<sequence>", the sequence is head + 1 and
// prev_hash is the SHA-256 of the previous event's stored bytes.
std::optional<std::string> chain_problem(const chain_head& head, const events::envelope& env,
                                         std::string_view record_key);
// Extends the head with an event that chained.
void advance(chain_head& head, const events::envelope& env, std::string_view stored_bytes,
             events::log_position at);

// Whether the body decodes with core's codec (case events, or registry events for their type
// ids); the error says why not.
result<void> check_body(const events::envelope& env);

// Reads partition `p` from offset 0 to its end as of the call, in batches, calling `visit` for
// each record in offset order; stops early when `visit` returns false. A read error (a gap, a
// record that is not there) is returned.
result<void> scan_partition(events::event_log& log, events::partition_id p,
                            const std::function<bool(const events::log_record&)>& visit);

// Recomputes the running hash of one partition (events/checkpoint.h) as its records come in
// offset order from 0, and checks each checkpoint record against it. A plain value.
class checkpoint_verifier {
 public:
  explicit checkpoint_verifier(events::partition_id p) : hasher_(p) {}

  struct outcome {
    bool checkpoint{false};               // the record is a checkpoint
    std::optional<std::string> problem;   // what is wrong (a checkpoint, or the offset order)
  };
  outcome add(const events::log_record& r);

  std::uint64_t verified() const { return verified_; }
  std::int64_t covered() const { return covered_; }                  // by the last good one
  std::int64_t last_checkpoint() const { return last_checkpoint_; }  // its offset, -1: none
  std::int64_t end() const { return hasher_.next()(); }              // records added
  const std::string& anchor() const { return anchor_; }  // the last good one, as audit prints it

 private:
  events::partition_hasher hasher_;
  std::deque<std::pair<std::int64_t, std::string>> window_;  // offset -> h(offset)
  std::int64_t covered_{-1};
  std::int64_t last_checkpoint_{-1};
  std::uint64_t verified_{0};
  std::string anchor_;
};

// open_log for the tools that only read: an embedded log that is not there is an error
// (bad_config), instead of a new empty log created under a mistyped --data. The embedded log is
// opened read-only (a RocksDB secondary instance), so this works while `caseline serve` holds
// it, and sees every record acknowledged before the open; Kafka is read as it is.
result<std::unique_ptr<events::event_log>> open_existing_log(const store_options& options);

// ------------------------------------------------------------------------- caseline audit verify

struct audit_options {
  store_options store;
  // Draw a progress bar on `err` (it is drawn only when `err` is a terminal anyway).
  bool progress{true};
};

// What audit verify found; problems are counted per kind, and the first of each kind is kept.
struct audit_report {
  std::uint64_t records{0};        // records read (checkpoints included)
  std::uint64_t events{0};         // events whose chain link and body were checked
  std::uint64_t cases{0};          // streams (cases and registry streams) seen
  std::uint64_t checkpoints{0};    // checkpoints whose running hash was recomputed and matched
  std::uint64_t uncovered{0};      // records after the last checkpoint of their partition
  // Per partition with a verified checkpoint, the last one: "partition P offset O covers
  // 0..L h=<hex>". Auditors keep these outside the log; a later audit must reproduce them (the
  // log alone cannot show that its tail, checkpoints included, was cut off).
  std::vector<std::string> anchors;

  struct problems {
    std::uint64_t count{0};
    std::string first;  // where and what, for the first one
  };
  problems chain;       // sequence gaps, repeats, hash links, ids and keys that do not match
  problems record;      // records, envelopes or bodies that do not decode; misplaced streams
  problems checkpoint;  // checkpoints that do not match the recomputed running hash
  problems log;         // the log itself: a missing offset, a read error
  // Sealed personal fields that fail their tag, in the log's events or the store's case rows
  // (checked only when the keys are at hand: sealed_fields). Shredded cases are not problems.
  problems sealed;
  bool sealed_checked{false};

  bool clean() const {
    return chain.count + record.count + checkpoint.count + log.count + sealed.count == 0;
  }
};

// What audit_log needs to open sealed fields: the case keys, and optionally the projection
// store whose case rows are checked too. Borrowed.
struct sealed_fields {
  projections::personal_data& privacy;
  projections::store* store{nullptr};
};

// Checks every record of every partition: each event chains to the previous event of its case
// (sequence 1..n, SHA-256 links, ids and keys), every body decodes, and every checkpoint's
// running hash is recomputed from offset 0 and compared (events/checkpoint.h). With `sealed`,
// every sealed personal field of every case event, and of every stored case row, must open.
result<audit_report> audit_log(events::event_log& log,
                               const std::function<void(std::uint64_t done, std::uint64_t total)>&
                                   on_progress = {},
                               const sealed_fields* sealed = nullptr);

// `caseline audit verify`: audit_log over the log the options name, with a progress bar on `err`,
// and a summary on `out`; the sealed fields too when <data>/keys exists (the store must not be
// open elsewhere, else they are reported as not checked). Exit code: 0 clean, 1 a problem found, 2 the log could not be read.
int run_audit_verify(const audit_options& options, std::ostream& out, std::ostream& err);

}  // namespace caseline::tools
