#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/sla.h"
#include "events/event_log.h"
#include "projections/case_row.h"
#include "projections/projection.h"
#include "projections/store.h"

namespace caseline::projections {

// The case projection: each case's current state (cases), its history (case_events: each event
// where the log holds it and its stored bytes, byte for byte the log's), the highest case-id
// sequence used per center, day and partition of the log (counters: the ids a partition's owner
// gives out, case_writer.h) and the revisit sample's tally per partition, center and month
// (counters, "revisit/..."; core/sla.h). It folds each event into its case's state once
// (core::evolve); the case index and the queues derive their rows from the states it holds for
// the batch (touched()), instead of folding the same events again from rows of their own. Used
// by the runner's thread only.
class case_projection final : public projection {
 public:
  // A case the current batch touched: its state as stored when the batch began, and its row
  // after the batch's events applied so far.
  struct touched_case {
    core::case_state before;
    case_row now;
  };

  explicit case_projection(store& s) : store_(s) {}
  std::string_view name() const override { return "cases"; }
  void begin_batch() override;
  result<void> apply(const decoded_event& e, rocksdb::WriteBatch& batch) override;
  result<void> prepare_commit(rocksdb::WriteBatch& batch) override;
  void end_batch(bool committed) override;
  // The cases the current batch touched, by case id: valid from the batch's applies until its
  // end_batch, so the projections after this one in the runner's order read them in their
  // prepare_commit.
  const std::map<std::string, touched_case>& touched() const { return rows_; }

 private:
  store& store_;
  // Rows written in the current batch, read before the store (the batch is not committed yet).
  std::map<std::string, touched_case> rows_;
  std::map<std::string, std::uint64_t> counters_;
  std::map<std::string, core::revisit_tally> tallies_;
};

// Reads what the case projection stored. Thread-safe.
class case_reader {
 public:
  explicit case_reader(store& s) : store_(s) {}
  result<std::optional<case_row>> get(const case_id& id) const;
  // A case's history in sequence order, from one prefix scan (never from the log).
  result<std::vector<history_event>> history(const case_id& id) const;
  // Every stored case in id order, each row decoded (or the reason it does not decode).
  result<void> for_each(
      const std::function<void(const case_id& id, result<case_row> row)>& visit) const;
  // The highest sequence used for case ids "<center>-<YYYYMMDD>-*" of partition p; 0 when none.
  result<std::uint64_t> counter(std::string_view center_and_day, events::partition_id p) const;
  // The revisit sample so far of a center's month ("YYYY-MM") in one partition of the log
  // (Art. 23, 46); zero when none of its matters closed there yet.
  result<core::revisit_tally> revisit_tally(events::partition_id p, const center_code& center,
                                            std::string_view month) const;

 private:
  store& store_;
};

// A case's history decoded: each event's envelope and body (its personal fields sealed, as
// stored), and the case they fold to from an empty state by core::evolve, as
// case_projection::apply folds the case's row from the same events in the same order: the row's
// state, without reading the row.
struct decoded_history {
  struct item {
    events::envelope env;
    core::event event;
  };
  std::vector<item> events;
  core::case_state folded;
};
// Fails with the first event that does not decode (events::errc::corrupt_record).
result<decoded_history> decode_history(const case_id& id,
                                       const std::vector<history_event>& history);

// Case ids: "<center>-<YYYYMMDD>-<sequence, at least 6 digits>".
std::string format_case_id(std::string_view center, civil_date day, std::uint64_t sequence);
// Appends a case id's sequence as format_case_id writes it: to "<center>-<YYYYMMDD>-", the id.
void append_case_sequence(std::string& id, std::uint64_t sequence);
// The "<center>-<YYYYMMDD>" prefix and the sequence of a case id, if it has that form.
std::optional<std::pair<std::string, std::uint64_t>> split_case_id(std::string_view id);

}  // namespace caseline::projections
