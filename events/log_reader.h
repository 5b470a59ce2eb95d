#pragma once

// Reading the log back, in one place: the pipeline from a log record to core's typed events
// (record -> envelope -> event), the hash chain that links the events of each stream (a case,
// or a reference stream under its key), and the checkpoints of each partition
// (events/checkpoint.h). The projection runner, the writers (the link of each event they
// append), `caseline replay`, `caseline audit verify` and the benchmarks all go through it, so a
// record is decoded and a chain is checked the same way everywhere.
//
// Everything here is a plain function or a plain value (no thread, no state shared between
// calls) unless its comment says otherwise.

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>

#include "core/codec.h"
#include "core/events.h"
#include "core/registry.h"
#include "core/result.h"
#include "events/checkpoint.h"
#include "events/event_log.h"
#include "events/record.h"

namespace caseline::events {

// ------------------------------------------------------- decode: record -> envelope -> event

// The layer of a log record that does not decode.
enum class decode_stage : std::uint8_t {
  record,    // the value is not a record of events (bad magic, truncated, a checkpoint)
  envelope,  // one event's envelope
  body,      // one event's body, by core's codec
};

// Why (a part of) a log record does not decode, and where.
struct decode_error {
  decode_stage stage{decode_stage::record};
  log_position position;      // of the log record
  std::uint32_t index{0};     // of the event within the record (envelope and body stages)
  std::string event_id;       // body stage: the event's, from its envelope
  std::uint64_t sequence{0};  // body stage: the event's, from its envelope
  // errc::corrupt_record (record and envelope stages), or core's codec error (body stage).
  error cause;

  // The cause's code with "partition P offset O: <detail>" ("partition P offset O event ID:
  // <detail>" for a body): how a consumer that stops at it reports it.
  error to_error() const;
};

template <class T>
using decode_result =
    boost::outcome_v2::basic_result<T, decode_error, boost::outcome_v2::policy::terminate>;

// One event of a log record, its envelope decoded. `stored_bytes` are the envelope's bytes as
// stored, which the hash chain covers; they point into the record_events it came from.
struct logged_event {
  envelope env;
  std::string_view stored_bytes;
  log_position position;   // of the record that holds it
  std::uint32_t index{0};  // within the record
};

// The events one log record holds (stage 1), each one's envelope decoded on demand (stage 2).
// A plain value; the events it hands out point into it, so it must outlive them and not move
// while they are in use.
class record_events {
 public:
  // errc::corrupt_record when the value is not a record of events of a known format, a
  // checkpoint included (consumers that meet checkpoints skip them first: is_checkpoint).
  static decode_result<record_events> decode(const log_record& r);

  std::uint32_t size() const { return static_cast<std::uint32_t>(record_.events.size()); }
  const log_position& position() const { return position_; }
  // The Idempotency-Key of the command whose events these are (CL2 records).
  const std::optional<idempotency_mark>& idempotency() const { return record_.idempotency; }
  // Stage 2: the envelope of event `i` (below size()).
  decode_result<logged_event> event(std::uint32_t i) const;

 private:
  log_position position_;
  record record_;
};

// Stage 2 on an event's stored bytes kept apart from its record (a projection's copy of the
// log's bytes), with where the log holds it; `bytes` must outlive the event.
decode_result<logged_event> decode_stored_event(std::string_view bytes, log_position position,
                                                std::uint32_t index);

// A body as core's typed event: a case event, or a registry (reference-data) event.
using typed_event = std::variant<core::event, core::registry_event>;

// Whether a type id is one of core::registry_event's. Both kinds share the type-id space.
bool is_registry_type(std::uint16_t type_id);

// Stage 3: the body, a registry event for registry type ids and a case event otherwise.
decode_result<typed_event> decode_body(const logged_event& e);
// Stage 3 for a case's own history: the body as a case event, whatever its type id.
decode_result<core::event> decode_case_event(const logged_event& e);
// Stage 3 on an envelope alone (no position): the cause when it does not decode.
result<typed_event> decode_body(const envelope& env);

// ------------------------------------------------------------------- the hash chain of a stream

// Writing: a new event of `stream` holding core's encoded `body`. The writer sets who, when and
// why; link_next numbers and links it.
envelope new_event(const ::caseline::case_id& stream, core::encoded_event body);
// Writing: chains `env` (its case id and body already set) after the stream's last event,
// whose sequence is `previous` (0: none yet) and whose stored bytes hash to `last_hash` ("" for
// none): sets its sequence, event id ("<stream>#<sequence>") and prev_hash, and returns its
// stored bytes. `last_hash` becomes their SHA-256: the link that the next event carries.
std::string link_next(envelope& env, std::uint64_t previous, std::string& last_hash);

// How an event fails to follow its stream.
enum class chain_fault : std::uint8_t {
  foreign_key,  // its record's key is another stream's (moved or inserted)
  event_id,     // its event id is not "<stream>#<sequence>"
  repeated,     // its sequence is not after the last one (inserted, duplicated, reordered)
  missing,      // its sequence skips one or more (deleted or reordered)
  hash,         // its prev_hash is not the SHA-256 of the previous event's stored bytes
};

struct chain_break {
  chain_fault fault;
  std::string detail;  // where and what, naming the previous event
};

// The sequence and the link alone: whether `env` is the event after the one numbered
// `sequence` whose stored bytes hash to `last_hash`. For stores that keep only that much.
std::optional<chain_fault> follows(std::uint64_t sequence, std::string_view last_hash,
                                   const envelope& env);

// Where a stream stands while its events are checked in log order.
struct chain_head {
  std::uint64_t sequence{0};  // of the last event seen (0: none yet)
  std::string last_hash;      // SHA-256 of its stored bytes ("" before the first event)
  std::string last_event_id;
  log_position last_position;
};

// What is wrong with `env` (in the record keyed `record_key`) as the next event of the stream
// at `head`, or nullopt when it chains: the record key is the stream's id, the event id is
// "<id>#<sequence>", the sequence is head + 1 and prev_hash links to the head.
std::optional<chain_break> check_link(const chain_head& head, const envelope& env,
                                      std::string_view record_key);
// Moves the head to `e` (whether or not it chained: one bad event is then one problem).
void advance(chain_head& head, const logged_event& e);

// --------------------------------------------------------------------- reading a partition

// Reads partition `p` from offset 0 to its end as of the call, in batches, calling `visit` for
// each record in offset order; stops early when `visit` returns false. A read error is
// returned; a record missing from the middle (an offset read out of order) is
// errc::corrupt_record.
result<void> scan_partition(event_log& log, partition_id p,
                            const std::function<bool(const log_record&)>& visit);

// Every event of partition p in log order, each body decoded (stages 1-3), checkpoints
// skipped; stops early when `visit` returns false. A record, envelope or body that does not
// decode is the error returned (errc::corrupt_record, undecodable_event), as a read error is.
result<void> scan_events(event_log& log, partition_id p,
                         const std::function<bool(const logged_event&, const typed_event&)>& visit);

// Recomputes the running hash of one partition (events/checkpoint.h) as its records come in
// offset order from 0, and checks each checkpoint record against it. A plain value.
class checkpoint_verifier {
 public:
  explicit checkpoint_verifier(partition_id p) : hasher_(p) {}

  struct outcome {
    bool checkpoint{false};              // the record is a checkpoint
    std::optional<std::string> problem;  // what is wrong (a checkpoint, or the offset order)
  };
  outcome add(const log_record& r);

  std::uint64_t verified() const { return verified_; }
  std::int64_t covered() const { return covered_; }                  // by the last good one
  std::int64_t last_checkpoint() const { return last_checkpoint_; }  // its offset, -1: none
  std::int64_t end() const { return hasher_.next()(); }              // records added
  // The last good one: "partition P offset O covers 0..L h=<hex>" ("" before one).
  const std::string& anchor() const { return anchor_; }

 private:
  partition_hasher hasher_;
  std::deque<std::pair<std::int64_t, std::string>> window_;  // offset -> h(offset)
  std::int64_t covered_{-1};
  std::int64_t last_checkpoint_{-1};
  std::uint64_t verified_{0};
  std::string anchor_;
};

// ------------------------------------------------------------------- verifying the whole log

// Problems of one kind: how many, and the first (where and what).
struct problem_tally {
  std::uint64_t count{0};
  std::string first;

  void note(std::string what);
};

// What verify_log found.
struct log_verification {
  std::uint64_t records{0};      // records read (checkpoints included)
  std::uint64_t events{0};       // events whose chain link held
  std::uint64_t streams{0};      // streams (cases and reference streams) seen
  std::uint64_t checkpoints{0};  // checkpoints whose running hash was recomputed and matched
  std::uint64_t uncovered{0};    // records after the last checkpoint of their partition
  // Per partition with a verified checkpoint, the last one (checkpoint_verifier::anchor).
  // Auditors keep these outside the log; a later audit must reproduce them (the log alone
  // cannot show that its tail, checkpoints included, was cut off).
  std::vector<std::string> anchors;

  problem_tally chain;       // sequence gaps, repeats, hash links, ids and keys that do not match
  problem_tally record;      // records, envelopes or bodies that do not decode; misplaced streams
  problem_tally checkpoint;  // checkpoints that do not match the recomputed running hash
  problem_tally log;         // the log itself: a missing offset, a read error

  bool clean() const { return chain.count + record.count + checkpoint.count + log.count == 0; }
};

// Checks every record of every partition: each event chains to the previous event of its
// stream, is in its stream's partition, and its body decodes; every checkpoint's running hash
// is recomputed from offset 0 and compared. `on_event` sees each event whose body decoded (a
// caller's own checks), `on_progress` the records done of the total. An error only when the
// log's ends cannot be read; everything else is a problem in the result.
result<log_verification> verify_log(
    event_log& log,
    const std::function<void(std::uint64_t done, std::uint64_t total)>& on_progress = {},
    const std::function<void(const logged_event&, const typed_event&)>& on_event = {});

// ---------------------------------------------------------------------- verifying one case

// An event of a verified case history.
struct verified_event {
  envelope env;
  core::event event;
  log_position position;
  std::uint32_t index{0};
  std::string hash;  // SHA-256 of its stored bytes, hex
};

// The first thing found wrong: the event (or record, or checkpoint) and what is wrong with it.
struct integrity_problem {
  std::string event_id;  // empty when no event is concerned (a checkpoint, a read error)
  std::uint64_t sequence{0};
  std::optional<log_position> position;
  std::string what;
};

struct case_verification {
  partition_id partition;
  std::vector<verified_event> events;     // in order, up to the first problem
  std::uint64_t events_in_log{0};         // every event of the case in the log
  std::uint64_t checkpoints_verified{0};  // with checkpoints
  std::uint64_t uncovered_records{0};     // with checkpoints: records after the last one
  std::optional<integrity_problem> problem;
};

// Reads the case's history from its partition (a full scan: the log is the only truth, an index
// could itself be stale or altered) and verifies its chain (sequence 1..n, SHA-256 links, keys
// and ids, bodies that decode as case events). With `checkpoints`, every checkpoint of the
// partition is recomputed too, which also catches the edit or removal of a case's last events
// that the chain alone cannot see. A tampered history is a result with `problem` set; an error
// is a log that cannot be read.
result<case_verification> verify_case(event_log& log, std::string_view case_key, bool checkpoints);

}  // namespace caseline::events
