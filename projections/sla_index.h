#pragma once

// The deadline index (Art. 27, 33-35): every pending transfer and reply deadline of every case,
// by due date, so that overdue and due-soon lists and the reminder scheduler read a range of
// keys instead of scanning cases. The rows are written by queue_projection (queues.h), which
// folds the same slim case state for the work queues; this header defines the rows, their keys
// and the reader.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "core/authorization.h"
#include "core/binary.h"
#include "core/calendar.h"
#include "core/case_state.h"
#include "core/result.h"
#include "projections/store.h"

namespace caseline::projections {

namespace detail {
// The stored bytes of a row: cereal's portable binary archive (the rows of queues.h, reports.h
// and this header). Identical values give identical bytes.
template <class T>
std::string encode_row(const T& value) {
  return core::binary_encode(value);
}

// Decodes a stored row; errors are events::errc::corrupt_record naming `what` (see the .cpp).
result<void> decode_failed(std::string_view what, const std::exception& ex);
// The stored bytes of `key` in family `f`, or none; with `at`, as of that snapshot.
result<std::optional<std::string>> read_bytes(store& s, family f, const std::string& key,
                                              std::string_view what,
                                              const rocksdb::Snapshot* at = nullptr);
template <class T>
result<T> decode_row(std::string_view bytes, std::string_view what) {
  try {
    core::binary_input ar(bytes);
    T value;
    ar(value);
    return value;
  } catch (const std::exception& ex) {
    return decode_failed(what, ex).error();
  }
}

// The stored row of `key` in family `f` (none if absent), decoded; with `at`, as of that snapshot.
template <class T>
result<std::optional<T>> read_row(store& s, family f, const std::string& key, std::string_view what,
                                  const rocksdb::Snapshot* at = nullptr) {
  auto bytes = read_bytes(s, f, key, what, at);
  if (!bytes) return bytes.error();
  if (!bytes.value()) return std::optional<T>{};
  auto row = decode_row<T>(*bytes.value(), what);
  if (!row) return row.error();
  return std::optional<T>{std::move(row).value()};
}
}  // namespace detail

// One pending deadline of a case: not met yet (the transfer not made, the reply not given).
struct deadline_row {
  case_id id;
  core::deadline_kind kind{core::deadline_kind::transfer};
  civil_date due;
  center_code center;  // the center the case belongs to now (it issues the reminder)
  unit_id unit;        // the handling unit, for a reply deadline
  bool major_urgent{false};
  bool reminded{false};        // a reminder for exactly this (kind, due) is in the log
  core::deadline_basis basis;  // v2: provisional, and the calendar version it was counted on

  friend bool operator==(const deadline_row&, const deadline_row&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(id, kind, due, center, unit, major_urgent, reminded);
    if (version >= 2) ar(basis);
  }
};

// The pending deadlines of a case, from its state alone (no clock): the transfer deadline until
// the first transfer (unless closed at intake), the reply deadline while the case is with a unit.
std::vector<deadline_row> pending_deadlines(const core::case_state& s);

std::string encode_deadline_row(const deadline_row& row);
result<deadline_row> decode_deadline_row(std::string_view bytes);

// Which deadlines or queue entries a query asks for: a center's, a unit's (of one center, when
// the scope names both), or every center's; core/authorization.h resolves it for the reader.
using scope = core::scope;

// Keys of family::sla_deadlines: scope, 0, due (YYYY-MM-DD), 0, kind, 0, case id. Every row is
// stored under "*", "c:<center>" and, with a unit, "u:<unit>" (keys::worklist_scope).
std::vector<std::string> deadline_keys(const deadline_row& row);
// Key of family::sla_remind (present only while not reminded): due, 0, kind, 0, case id.
std::string remind_key(const deadline_row& row);

// A page of a deadline list.
struct deadline_page {
  std::vector<deadline_row> items;
  std::string next_cursor;  // empty on the last page
};

// Reads the deadline index. Thread-safe; borrows the store and the calendar.
class sla_reader {
 public:
  sla_reader(store& s, const core::calendar& cal) : store_(s), cal_(cal) {}

  // Deadlines of the scope that passed unmet before `today` (due < today), oldest first: at most
  // `limit` after `cursor` (a next_cursor of this list; empty for the first page).
  // core::errc::invalid_argument naming "cursor" for a cursor not of this list.
  result<deadline_page> overdue(const scope& sc, civil_date today, std::string_view cursor,
                                std::size_t limit) const;
  // Deadlines of the scope due from `today` to the `within`-th working day after it, inclusive,
  // paged as `overdue` is.
  result<deadline_page> due_soon(const scope& sc, civil_date today, working_days within,
                                 std::string_view cursor, std::size_t limit) const;
  // Every deadline that passed before `today` and has not been reminded (the scheduler's list).
  result<std::vector<deadline_row>> to_remind(civil_date today, std::size_t limit) const;

 private:
  result<deadline_page> range(const std::string& prefix, const std::string& from,
                              const std::string& to_exclusive, std::string_view cursor,
                              std::size_t limit) const;
  store& store_;
  const core::calendar& cal_;
};

}  // namespace caseline::projections

CEREAL_CLASS_VERSION(caseline::projections::deadline_row, 2);
