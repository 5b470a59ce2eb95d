#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/commands.h"
#include "core/result.h"
#include "core/retention.h"
#include "projections/blob_store.h"
#include "projections/case_writer.h"
#include "projections/key_store.h"
#include "projections/projection.h"
#include "projections/recordings.h"
#include "projections/store.h"

namespace caseline::projections {

// One retention event of a case, as the audit trail keeps it.
struct retention_entry {
  std::string case_id;
  std::uint64_t sequence{0};
  std::string kind;  // recording_purged, text_shredded, purge_refused, legal_hold_placed/lifted
  core::retained_item item{core::retained_item::text};
  civil_date on;
  std::string by;
  std::optional<civil_date> retain_until;
  std::string note;  // the refusal's rule, or the hold's reason
};

// The retention audit trail (family `retention`): every purge, refusal and legal hold, per case
// in log order. Deterministic; runner thread only.
class retention_projection final : public projection {
 public:
  explicit retention_projection(store& s) : store_(s) {}
  std::string_view name() const override { return "retention"; }
  result<void> apply(const decoded_event& e, rocksdb::WriteBatch& batch) override;

 private:
  store& store_;
};

// One retained item (a case's call audio or its text) as of a date.
struct retained_status {
  std::string case_id;
  std::string owner_center;  // whose staff may purge it
  core::retained_item item{core::retained_item::text};
  std::string sha256;                     // recordings
  std::optional<civil_date> retain_until; // none: text of a case not archived yet
  std::string status;                     // kept | eligible | held | purged
  std::optional<civil_date> purged_on;
};

struct retention_audit {
  civil_date as_of;
  core::retention_policy policy;
  std::vector<retained_status> items;
  std::vector<retention_entry> history;  // purges, refusals, holds
  std::size_t kept{0}, eligible{0}, held{0}, purged{0}, refused{0};
  // Every purge that happened on or before its retain-until day (recomputed from the case's own
  // dates, not taken from the purge event), and every purged item whose bytes or key remain.
  std::vector<std::string> violations;
  bool ok() const { return violations.empty(); }
};

// Reads the case projection and the trail, both as of one snapshot of the store: `at` when given
// (a snapshot the caller holds of a store that is not read-only), else one taken when the audit
// starts (a read-only store is one state until it is caught up). The runner writes a
// purge's trail entry and its case's row in one batch, so the audit counts each purge in both or
// in neither, however many batches the runner writes while it reads. `blobs` and `keys`
// (optional) let it also check that purged audio and shredded keys are really gone (those are
// read as they are when it checks them).
result<retention_audit> audit_retention(store& s, const core::retention_policy& policy,
                                        civil_date as_of, const blob_store* blobs, key_store* keys,
                                        const rocksdb::Snapshot* at = nullptr);
// The audit as plain text (GET /v1/retention/audit?format=text, `caseline retention audit`).
std::string retention_audit_text(const retention_audit& a);

// An item of a purge that this server could no longer write: its partition moved to another
// owner during the purge (events::errc::not_owner, fenced). Nothing of it is lost or done twice:
// the caller hands the partition to its new owner, whose purge finds it eligible still (or, when
// `decided`, its purge event in the log and only its audio to delete).
struct moved_item {
  std::string item;  // "<case> recording|text"
  events::partition_id partition;
  std::string reason;
  bool decided{false};  // its purge event is in the log (counted in `done`); the audio remains
};

struct purge_outcome {
  std::vector<std::string> done;     // "<case> recording|text"
  std::vector<std::string> refused;  // "<case> <item>: <rule>" (each recorded as an event)
  std::vector<std::string> failed;   // errors other than rules
  std::vector<moved_item> moved;     // neither done nor failed here: for the partition's new owner
};

// How far a purge has come, readable from any thread while it runs (the purge job's status).
struct purge_progress {
  std::atomic<std::size_t> planned{0};  // eligible items found by the audit
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> refused{0};
  std::atomic<std::size_t> failed{0};
  std::atomic<std::size_t> moved{0};  // undecided: their partition moved (purge_outcome::moved)
};

struct purge_options {
  civil_date as_of;
  bool dry_run{false};
  core::actor who;  // acts for each case's owning center (its center is set per case)
  // Only the cases of these partitions of the log (`partition_count` in all): in a group, the
  // partitions this server writes. None: every case.
  std::optional<std::vector<events::partition_id>> partitions;
  std::int32_t partition_count{1};
  // Commands submitted and not yet answered at any time: the writer decides them concurrently
  // and the log group-commits their records.
  std::size_t in_flight{512};
  // Keys shredded together (one synced delete, one flush and compaction of the key store).
  std::size_t shred_batch{2048};
  purge_progress* progress{nullptr};
  // Set by another thread: no further command is submitted; those in flight are awaited.
  const std::atomic<bool>* cancel{nullptr};
};

// What a purge as of `as_of` would purge ("<case> recording|text"), in audit order; reads only.
result<std::vector<std::string>> purge_plan(store& s, const core::retention_policy& policy,
                                            civil_date as_of);

// Purges what the audit as of `as_of` finds eligible: appends recording_purged / text_shredded
// through the writer (which decides against the real clock: an item not yet past its
// retain-until day is refused, and the refusal is recorded as a purge_refused event), then
// deletes the audio (recording_store::purge: in a group, every server's copy and the audio
// topic's records) or the case's data key. A crash between the two is repaired by the
// next run (the audit reports the remains). `dry_run` only lists what would be purged. `who`
// acts for each case's owning center (its center is set per case).
//
// Batched: up to `in_flight` commands are in flight at once, and keys are shredded
// `shred_batch` at a time once their events are acknowledged. Exactly once: an item already
// purged is not eligible again (and a command that finds it purged meanwhile, rule
// nothing_to_purge, is neither purged nor refused again), so a second run, or one after a crash,
// purges only the rest and repairs what the crash left (audio or a key still stored).
//
// In a group, a command answered "not the owner" (its partition moved to another server during
// the purge) is neither purged nor failed: it is returned in `moved`, for the caller to hand the
// partition to its new owner.
result<purge_outcome> purge_retention(store& s, case_writer& writer, key_store& keys,
                                      recording_store& recordings,
                                      const core::retention_policy& policy, const purge_options& o);
result<purge_outcome> purge_retention(store& s, case_writer& writer, key_store& keys,
                                      recording_store& recordings,
                                      const core::retention_policy& policy, civil_date as_of,
                                      bool dry_run, const core::actor& who);

// Many commands through the writer at once (the purge, and the benchmarks that seed cases).
struct window_options {
  std::size_t in_flight{512};                // submitted and not yet answered, at most
  std::size_t settle_every{8192};            // answers handed to `settle` together while it goes on
  const std::atomic<bool>* cancel{nullptr};  // set: nothing more is submitted
};
struct windowed_answer {
  std::size_t index{0};  // as given with the request
  result<command_outcome> outcome;
};
// Submits each (index, request) with at most o.in_flight in flight; the writer decides them
// concurrently (one at a time per case) and the log group-commits their records. `settle` runs
// on the calling thread with the answers that came in meanwhile, whenever o.settle_every have,
// and once at the end; returns when every submitted command is answered. Never on a writer
// thread.
void submit_windowed(case_writer& writer,
                     std::vector<std::pair<std::size_t, command_request>>&& requests,
                     const window_options& o,
                     const std::function<void(std::vector<windowed_answer>&)>& settle);

// Submits one command and waits for its outcome (tools and jobs; never on a writer thread).
result<command_outcome> submit_and_wait(case_writer& writer, command_request request,
                                        std::chrono::milliseconds timeout);

}  // namespace caseline::projections
