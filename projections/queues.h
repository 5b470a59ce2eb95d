#pragma once

// The work queues of every center and handling unit (Art. 32-34) and, from the same fold, the
// deadline index of sla_index.h.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/optional.hpp>

#include "core/case_state.h"
#include "projections/case_projection.h"
#include "projections/projection.h"
#include "projections/sla_index.h"
#include "projections/store.h"

namespace caseline::projections {

// The step a case waits for. A case is in at most one queue at a time.
enum class queue_kind : std::uint8_t {
  to_classify,       // received, not classified yet (Art. 27): by transfer deadline
  to_transfer,       // classified, not transferred yet (Art. 27): by transfer deadline
  at_unit,           // with a handling unit, awaiting its reply (Art. 33-34): by reply deadline
  returned,          // returned by the unit, to be transferred again (Art. 32): by transfer deadline
  escalated,         // awaiting coordinated transfer (Art. 27): by transfer deadline
  awaiting_revisit,  // replied, in the revisit sample or a complaint (Art. 23): by reply date
  to_archive,        // closed, to be confirmed and archived (Art. 38): by closing date
};
inline constexpr queue_kind all_queues[] = {
    queue_kind::to_classify, queue_kind::to_transfer,      queue_kind::at_unit,
    queue_kind::returned,    queue_kind::escalated,        queue_kind::awaiting_revisit,
    queue_kind::to_archive};
std::string_view to_string(queue_kind q);
std::optional<queue_kind> parse_queue_kind(std::string_view s);

// One entry of a queue: what a list shows without reading the case.
struct queue_item {
  case_id id;
  queue_kind queue{queue_kind::to_classify};
  center_code center;  // the center the case belongs to now
  unit_id unit;        // at_unit only
  core::case_status status{core::case_status::none};
  // The deadline the queue is sorted by (transfer or reply); none for revisit and archive,
  // which are sorted by `since` (the reply or closing date).
  std::optional<core::deadline_kind> due_kind;
  civil_date due;  // the deadline, or `since` when there is none
  bool major_urgent{false};
  std::optional<core::category> cat;
  std::optional<core::domain> dom;
  civil_date received_on;
  bool due_provisional{false};  // v2: the deadline counts a day of a year without its notice

  friend bool operator==(const queue_item&, const queue_item&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(id, queue, center, unit, status, due_kind, due, major_urgent, cat, dom, received_on);
    if (version >= 2) ar(due_provisional);
  }
};

// The queue entry of a case in a given state, if it waits for anything.
std::optional<queue_item> queue_entry(const core::case_state& s);

// Maintains family::queues and the deadline index (family::sla_deadlines, family::sla_remind).
// It folds nothing itself: for each case the batch touched it derives the case's rows from its
// state when the batch began and after the batch's last event, as the case projection folded
// them (case_projection::touched(), which must come before it in the runner's order;
// projection_set does), and deletes or writes the difference, so the rows are a pure function of
// the log: a rebuild writes the same bytes. family::queue_cases (a copy of each case's state) is
// no longer written. Used by the runner's thread only.
class queue_projection final : public projection {
 public:
  queue_projection(store& s, const case_projection& cases) : store_(s), cases_(cases) {}
  std::string_view name() const override { return "queues"; }
  result<void> apply(const decoded_event& /*e*/, rocksdb::WriteBatch& /*batch*/) override {
    return success();
  }
  result<void> prepare_commit(rocksdb::WriteBatch& batch) override;

 private:
  store& store_;
  const case_projection& cases_;
};

// What a queue's page asks for (GET /v1/queues/{queue}?center=&unit=&cursor=&limit=, parsed by
// the gateway).
struct queue_query {
  queue_kind queue{queue_kind::to_classify};
  scope sc;            // a center or a unit: a queue belongs to one
  std::string cursor;  // the next_cursor of the page before; empty for the first
  std::size_t limit{50};
};

struct queue_page {
  std::vector<queue_item> items;
  std::string next_cursor;  // empty on the last page
};

// Reads the queues: major-urgent cases first, then by deadline (or date), then case id.
// Thread-safe.
class queue_reader {
 public:
  explicit queue_reader(store& s) : store_(s) {}
  // At most `limit` items of the query's queue and scope after its cursor.
  // core::errc::invalid_argument naming the field "cursor" for a cursor that is not one, and
  // "center" for an empty scope.
  result<queue_page> page(const queue_query& q) const;

 private:
  store& store_;
};

}  // namespace caseline::projections

CEREAL_CLASS_VERSION(caseline::projections::queue_item, 2);
