#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/authorization.h"
#include "core/case_state.h"
#include "core/result.h"
#include "projections/case_projection.h"
#include "projections/projection.h"
#include "projections/store.h"

namespace caseline::projections {

// What a case list shows of a case: no personal data (no caller, no content).
struct case_summary {
  std::string id;
  std::string center;        // received at
  std::string owner_center;  // belongs to now
  std::string status;
  std::string unit;          // handling unit now ("" when none)
  std::string category;      // "" until classified
  std::string domain;
  civil_date received_on;
  std::uint64_t version{0};
  bool major_urgent{false};

  friend bool operator==(const case_summary&, const case_summary&) = default;
};

case_summary summarize(const core::case_state& s);

// The list index of cases (family case_index), so that lists are range scans, never a scan of
// every case. Each case has one row per scope it can be listed in:
//   "c<center>"  the center it was received at, and the center it belongs to now;
//   "u<unit>"    the unit handling it now;
//   "*"          every case (the provincial center, auditors).
// Key: scope, 0, YYYYMMDD received_on, 0, case id -> case_summary. When a batch changes a
// case's scopes, the rows of scopes it left are deleted in the same batch.
// Runner's thread only. It folds nothing itself: prepare_commit() replaces each case the batch
// touched once, from its rows when the batch began to its rows after the batch's last event,
// both derived from the states the case projection folded (case_projection::touched()), which
// must come before it in the runner's order (projection_set does).
class case_index_projection final : public projection {
 public:
  case_index_projection(store& s, const case_projection& cases) : store_(s), cases_(cases) {}
  std::string_view name() const override { return "case_index"; }
  result<void> apply(const decoded_event& /*e*/, rocksdb::WriteBatch& /*batch*/) override {
    return success();
  }
  result<void> prepare_commit(rocksdb::WriteBatch& batch) override;

 private:
  store& store_;
  const case_projection& cases_;
};

struct list_query {
  core::scope scope;  // whose cases (core/authorization.h); none lists nothing
  std::optional<civil_date> received_from;
  std::optional<civil_date> received_to;
  std::function<bool(const case_summary&)> keep;  // the other filters; null keeps all
  std::string after;                     // cursor from the previous page ("" for the first)
  std::size_t limit{50};
  std::size_t max_scanned{10'000};       // bounds one page's work; the cursor continues it
};

struct list_page {
  std::vector<case_summary> items;
  std::string next;  // cursor of the next page; "" when there is none
};

// Reads the index. Thread-safe.
class case_index_reader {
 public:
  explicit case_index_reader(store& s) : store_(s) {}
  // errc::invalid_argument (core) for a malformed cursor.
  result<list_page> list(const list_query& q) const;

 private:
  store& store_;
};

}  // namespace caseline::projections
