#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/authorization.h"
#include "core/time.h"

// The keys of the projection store's rows, one codec per key family: each layout is written
// once, here, beside the code that builds and reads it, in the notation of
// events/storage/key.h (field\0: a text ended by a zero byte; be32/be64: big-endian integers).
// The stored bytes of existing stores depend on these layouts: a layout changes only together
// with a rebuild (rebuild.h). Values and the families' owners: store.h.
namespace caseline::projections::keys {

// offsets: "log/" be32(partition) -> be64 next offset to apply. One row per log partition for
// every projection together (runner.cpp; projection_set.h says why).
struct offset {
  static constexpr std::string_view prefix = "log/";
  std::int32_t partition{0};

  std::string encode() const;
  static std::optional<offset> decode(std::string_view key);
};

// cases: the case's day of receipt\0 case id\0 -> case_row (case_projection.cpp). The day as
// in case_history below, and for the same reason: a case's row is rewritten while the case is
// open, and new cases land after the others, not at the end of every center's range.
struct case_row {
  std::string case_id;

  static std::string encode(std::string_view case_id);
  static std::optional<case_row> decode(std::string_view key);
};

// case_events: the case's day of receipt\0 case id\0 be64(sequence) -> event location and
// stored bytes (case_projection.cpp). The day ("YYYYMMDD", from a case id of the form
// "<center>-<YYYYMMDD>-<sequence>"; empty for an id of another form) comes first so that the
// histories lie in the order cases are received: a case's events are written while it is open,
// weeks at most, so new rows land among the last weeks' keys and a compaction rewrites those
// files only, where keys that begin with the center put them at the end of every center's range,
// in every file of the family.
struct case_history {
  std::string case_id;
  std::uint64_t sequence{0};

  // day\0 case id\0 (the case's key in `cases`): every row of one case.
  static std::string prefix(std::string_view case_id);
  // The prefix of a key of the family: its bytes up to and including the second zero byte, the
  // same as prefix(case id) for a row's key; none for a key without two. The family's prefix
  // filters hold these (store.cpp), so that reading one case's rows searches only the files
  // that hold some.
  static std::optional<std::string_view> prefix_of(std::string_view key);
  std::string encode() const;
  static std::optional<case_history> decode(std::string_view key);
};

// retention: case id\0 be64(sequence) -> retention entry (retention.cpp).
struct case_sequence {
  std::string case_id;
  std::uint64_t sequence{0};

  // case id\0: every row of one case.
  static std::string prefix(std::string_view case_id);
  std::string encode() const;
  static std::optional<case_sequence> decode(std::string_view key);
};

// counters, the revisit sample's tallies: "revisit/" partition/ center/ month (decimal
// partition, month YYYY-MM) -> be64 closed, be64 picked (case_projection.cpp). The case-id
// counters of the same family are keyed by a case id without its "-<sequence>" (split_case_id).
struct revisit_tally {
  std::int32_t partition{0};
  std::string center;
  std::string month;

  std::string encode() const;
  static std::optional<revisit_tally> decode(std::string_view key);
};

// counters, the case-id counters: center and day ("<center>-<YYYYMMDD>", a case id without its
// "-<sequence>", split_case_id)\0 be32(partition) -> be64 the highest sequence used by a case of
// that partition of the log (case_projection.cpp). Per partition, because only a partition's
// owner gives out the ids that hash to it (case_writer.h).
struct case_counter {
  std::string center_and_day;
  std::int32_t partition{0};

  std::string encode() const;
  static std::optional<case_counter> decode(std::string_view key);
};

// counters, the owners view: "owner/" be32(partition) -> the partition's last claim as its
// record holds it (events/record.h, encode_partition_claim; partition_owners.cpp).
struct partition_owner {
  static constexpr std::string_view prefix = "owner/";
  std::int32_t partition{0};

  std::string encode() const;
  static std::optional<partition_owner> decode(std::string_view key);
};

// idempotency: token id\0 Idempotency-Key -> the first answer (idempotency_store.cpp).
struct idempotency {
  std::string token_id;
  std::string key;

  std::string encode() const;
  static std::optional<idempotency> decode(std::string_view key);
};

// The scope part of the case_index keys (list_scope) and of the queues and sla_deadlines keys
// (worklist_scope): "*" for every case (core::scope all or province), "c<center>" / "c:<center>",
// "u<unit>" / "u:<unit>" (a unit's scope narrowed to a center is read from the unit's rows and
// filtered). A scope of kind none encodes as "", under which no row is ever stored.
std::string list_scope(const core::scope& sc);
std::string worklist_scope(const core::scope& sc);

// case_index: scope\0 received on (YYYYMMDD)\0 case id -> case summary (case_index.cpp). Scopes:
// list_scope.
struct case_index {
  std::string scope;
  civil_date received_on;
  std::string case_id;

  // scope\0: one list.
  static std::string prefix(std::string_view scope);
  // scope\0 YYYYMMDD: the list's rows received on `day` and after.
  static std::string from_day(std::string_view scope, civil_date day);
  std::string encode() const;
  static std::optional<case_index> decode(std::string_view key);
};

// registry: "unit/" unit id -> unit_info, "meta" -> the registry stream's head
// (registry_projection.cpp); "calendar/year/" year (decimal) -> published year, "calendar/meta"
// -> the calendar stream's head (calendar_projection.cpp).
struct registry {
  static constexpr std::string_view unit_prefix = "unit/";
  static constexpr std::string_view meta = "meta";
  static constexpr std::string_view year_prefix = "calendar/year/";
  static constexpr std::string_view calendar_meta = "calendar/meta";

  static std::string unit(std::string_view unit_id);
  static std::string year(int year);
};

// access_log: be64(ms) be64(process sequence) token id\0 correlation id -> who read which case
// (access_log.cpp). Time first, so that entries scan in order.
struct access {
  std::int64_t at_ms{0};
  std::uint64_t sequence{0};
  std::string token_id;
  std::string correlation_id;

  std::string encode() const;
  static std::optional<access> decode(std::string_view key);
};

// queues: queue\0 scope\0 rank due (YYYY-MM-DD)\0 case id -> queue_item (queues.cpp). Rank "0"
// for a major-urgent case (Art. 40(4), 43), "1" for the others: they come first, then by date,
// then by case id. Scopes: worklist_scope.
struct queue {
  std::string queue_name;
  std::string scope;
  bool major_urgent{false};
  civil_date due;
  std::string case_id;

  // queue\0 scope\0: one queue of one scope.
  static std::string prefix(std::string_view queue_name, std::string_view scope);
  std::string encode() const;
  static std::optional<queue> decode(std::string_view key);
};

// sla_remind: due (YYYY-MM-DD)\0 kind\0 case id -> deadline_row, until reminded (sla_index.cpp).
struct remind {
  civil_date due;
  std::string kind;
  std::string case_id;

  std::string encode() const;
  static std::optional<remind> decode(std::string_view key);
};

// sla_deadlines: scope\0 then a remind key (due\0 kind\0 case id) -> deadline_row. Every pending
// deadline is listed under "*", its center's scope and its unit's (worklist_scope; sla_index.cpp).
struct deadline {
  std::string scope;
  civil_date due;
  std::string kind;
  std::string case_id;

  // scope\0: every deadline of a scope.
  static std::string prefix(std::string_view scope);
  std::string encode() const;
  static std::optional<deadline> decode(std::string_view key);
};

// report_counters (reports.cpp, contributions()): text keys, parts ended by '/', each beginning
// with its kind's tag and the period it counts (a month YYYY-MM or a day YYYY-MM-DD: periods
// sort as text, so a period's keys, and a range of days, are contiguous):
//   "m/" month/ center/ domain/ category/ -> cells    a center's figures (report_figure)
//   "d/" day/   center/ domain/ category/ -> cells
//   "um/" month/ center/ unit/ -> cells               a handling unit's figures
//   (report_unit_figure) "ud/" day/   center/ unit/ -> cells "tm/" month/ center/ rest(topic) ->
//   be64          a topic's matters (report_topic) "td/" day/   center/ rest(topic) -> be64 "u/"
//   day/ center/ rest(case id) -> 1             flagged major-urgent that day (report_urgent) "o/"
//   reported on/ center/ unit/ case id/ due -> 1    reported overdue, Art. 35 (report_overdue)
// Cells (storage::counter_cells_value): a figure key's counts by metric (reports.h, cell i the
// metric or unit metric numbered i), one key for all the figures of a period, center, domain and
// category (or unit). Domain and category are their names ("unclassified" before
// classification). No part holds a '/' but those read as the rest (a topic, an urgent matter's
// case id) or up to the key's last '/' (a unit figure's unit).
enum class report_span : std::uint8_t { month, day };
enum class counter_kind : std::uint8_t { figure, unit_figure, topic };

// The tag and period every counter of `kind` in `on`'s month (or on that day) begins with:
// report_period(figure, month, 2026-11-03) is "m/2026-11/". A month's keys lie between its
// prefix and the next month's; days' keys from a day's prefix to the next day's.
std::string report_period(counter_kind kind, report_span span, civil_date on);
// Only the tag: "m/", "td/", ...
std::string_view report_tag(counter_kind kind, report_span span);

struct report_figure {
  report_span span{report_span::day};
  civil_date on;  // a month span: decoded as the month's first day
  std::string center;
  std::string domain;
  std::string category;

  std::string encode() const;
  static std::optional<report_figure> decode(std::string_view key);
};

struct report_unit_figure {
  report_span span{report_span::day};
  civil_date on;
  std::string center;
  std::string unit;

  std::string encode() const;
  static std::optional<report_unit_figure> decode(std::string_view key);
};

struct report_topic {
  report_span span{report_span::day};
  civil_date on;
  std::string center;
  std::string topic;

  std::string encode() const;
  static std::optional<report_topic> decode(std::string_view key);
};

struct report_urgent {
  static constexpr std::string_view tag = "u/";
  civil_date flagged_on;
  std::string center;
  std::string case_id;

  // "u/" day/: the matters flagged that day; the next day's prefix ends them.
  static std::string prefix(civil_date day);
  std::string encode() const;
  static std::optional<report_urgent> decode(std::string_view key);
};

struct report_overdue {
  static constexpr std::string_view tag = "o/";
  civil_date reported_on;
  std::string center;
  std::string unit;
  std::string case_id;
  civil_date due;

  // "o/" day/: the matters reported that day; the next day's prefix ends them.
  static std::string from_day(civil_date day);
  std::string encode() const;
  static std::optional<report_overdue> decode(std::string_view key);
};

}  // namespace caseline::projections::keys
