#pragma once

// The statutory statistics (Art. 39-40, 45): counters per day and per month × center × business
// domain × category, kept by report_projection so that any report is a sum over a few thousand
// keys (milliseconds), and the report builders over them. The formulas are in
// projections/README-reports.md, exactly as implemented here.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "projections/assessment_weights.h"

#include "core/calendar.h"
#include "core/events.h"
#include "core/registry.h"
#include "projections/projection.h"
#include "projections/row_keys.h"
#include "projections/store.h"

namespace caseline::projections {

// The counted quantities (see README-reports.md for what each counts and on which date).
enum class metric : std::uint8_t {
  received,
  answered,
  not_accepted,
  redirected,  // by received_on, receiving center
  reply_due,
  replied_on_time,  // by the cycle's reply deadline
  replied,
  replied_revisited,  // by replied_on
  revisits,
  revisits_reached,
  satisfied,
  basically_satisfied,
  dissatisfied,      // by revisited_on
  overdue_reported,  // by the day reported (Art. 35)
  count_
};
std::string_view to_string(metric m);

// Per handling unit (Art. 32-33): its reply deadlines falling in the period and those met (counted
// from its first transfer of the matter), and its returns, late ones apart, by the return's day;
// its deadlines reported to the department as passed unmet, by the day reported (Art. 35).
enum class unit_metric : std::uint8_t {
  reply_due,
  replied_on_time,
  returns,
  late_returns,
  overdue_reported,
  count_
};
std::string_view to_string(unit_metric m);

// A counter's share of one case, or of one batch's difference: a figure key's cells (cell i the
// metric, or unit metric, numbered i), or the count of any other key in cell 0.
struct counter_delta {
  static constexpr std::size_t max_cells = static_cast<std::size_t>(metric::count_);
  static_assert(static_cast<std::size_t>(unit_metric::count_) <= max_cells);
  bool cells{false};  // a figure's (report_figure, report_unit_figure); else one count
  std::array<std::int64_t, max_cells> n{};

  bool zero() const;
  counter_delta& operator+=(const counter_delta& o);
  counter_delta& operator-=(const counter_delta& o);
  friend bool operator==(const counter_delta&, const counter_delta&) = default;
};

// One handling cycle of a case: a transfer (or a reopening after a revisit) until the reply.
// A cycle that ends with the unit returning the case is dropped: the case was not the unit's
// (Art. 32). A unit that gets the matter back counts its deadline from its first transfer (the
// event's reply_due says so), so a return does not restart the unit's clock.
struct report_cycle {
  center_code center;  // the center that transferred it (the case's owner then)
  civil_date due;      // the reply deadline, after extensions (Art. 33-34)
  std::optional<civil_date> replied_on;
  bool revisit_required{false};
  std::optional<civil_date> revisited_on;
  bool reached{false};
  std::optional<core::satisfaction> view;
  unit_id unit{};  // v2: the unit it was transferred to (empty in rows folded before)

  friend bool operator==(const report_cycle&, const report_cycle&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(center, due, replied_on, revisit_required, revisited_on, reached, view);
    if (version >= 2) ar(unit);
  }
};

// A unit's return of the case (Art. 32): within its window, or late (accepted by a shift lead).
struct report_return {
  center_code center;  // the center that had transferred it
  unit_id unit;
  civil_date returned_on;
  bool late{false};

  friend bool operator==(const report_return&, const report_return&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(center, unit, returned_on, late);
  }
};

// A reply deadline the center reported to its department as passed unmet (Art. 35).
struct report_overdue {
  center_code center;  // the reporting center (the department is the one at its level)
  unit_id unit;
  civil_date due;
  civil_date reported_on;

  friend bool operator==(const report_overdue&, const report_overdue&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(center, unit, due, reported_on);
  }
};

enum class intake_outcome : std::uint8_t { none, answered, not_accepted, redirected };

// What the statistics need of one case, folded from its events (family::report_cases).
struct report_facts {
  case_id id;
  bool received{false};
  center_code center;  // where it was received
  civil_date received_on;
  std::optional<core::category> cat;
  std::optional<core::domain> dom;
  std::vector<std::string> topics;
  intake_outcome outcome{intake_outcome::none};
  std::optional<civil_date> flagged_on;  // major-urgent (Art. 40(4), 43)
  std::vector<report_cycle> cycles;
  bool open_cycle{false};  // the last cycle awaits its reply
  std::vector<report_return> returns;  // v2
  std::vector<report_overdue> overdue;  // v3

  friend bool operator==(const report_facts&, const report_facts&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(id, received, center, received_on, cat, dom, topics, outcome, flagged_on, cycles,
       open_cycle);
    if (version >= 2) ar(returns);
    if (version >= 3) ar(overdue);
  }
};

report_facts fold(report_facts facts, const core::event& e);

// The counters a case adds to the totals: key -> its share. Keys (row_keys.h, report_counters):
//   "m/<YYYY-MM>/<center>/<domain>/<category>/" and the same with "d/<YYYY-MM-DD>" (cells by
//   metric), "um/<YYYY-MM>/<center>/<unit>/" and the same with "ud/<YYYY-MM-DD>" (cells by unit
//   metric), "tm/<YYYY-MM>/<center>/<topic>", "td/<YYYY-MM-DD>/<center>/<topic>",
//   "u/<YYYY-MM-DD>/<center>/<case id>" (flagged major-urgent that day),
//   "o/<YYYY-MM-DD>/<center>/<unit>/<case id>/<due>" (reported overdue that day, Art. 35).
// domain and category are "unclassified" until the case is classified.
std::map<std::string, counter_delta> contributions(const report_facts& facts);
// The same shares added into `into`, each times `sign` (1 adds the case, -1 takes it away).
void add_contributions(const report_facts& facts, std::int64_t sign,
                       std::unordered_map<std::string, counter_delta>& into);

// Keeps family::report_cases and family::report_counters. For each event it folds the case's
// facts; once per batch it adds the difference between each touched case's contributions after
// the batch and before it to the counters (the sum of the events' own differences, at the cost
// of two contributions per case and batch). Every difference is written as a merge
// (storage::counter_add_operator: cell by cell, an add, no read of the counter), a counter that
// goes down included, so the stored sums are those of a rebuild whatever the order of the
// events, and replays of different partitions may write one counter at once (rebuild.h). A
// counter merged back to zero stays a key whose value is zero, which report_reader treats as no
// counter (and compare_stores as no key); one below zero is a corrupt store to the reader. The
// live runner and a rebuild write them alike. Used by the runner's thread only.
class report_projection final : public projection {
 public:
  explicit report_projection(store& s) : store_(s) {}
  std::string_view name() const override { return "reports"; }
  void begin_batch() override;
  result<void> apply(const decoded_event& e, rocksdb::WriteBatch& batch) override;
  result<void> prepare_commit(rocksdb::WriteBatch& batch) override;
  void end_batch(bool committed) override;

 private:
  void clear_batch();
  struct touched {
    report_facts before;  // as stored when the batch began
    report_facts now;     // after the batch's events
  };
  store& store_;
  // The cases this batch touched: their counters move once per batch, by contributions(now)
  // minus contributions(before), in prepare_commit. Hashed, not ordered: the keys share long
  // prefixes, and the order of a batch's distinct keys does not change what it stores.
  std::unordered_map<std::string, touched> facts_;       // this batch's, uncommitted
  std::unordered_map<std::string, counter_delta> delta_;  // counter -> this batch's difference
};

struct figures {
  std::array<std::int64_t, static_cast<std::size_t>(metric::count_)> n{};

  std::int64_t operator[](metric m) const { return n[static_cast<std::size_t>(m)]; }
  std::int64_t& operator[](metric m) { return n[static_cast<std::size_t>(m)]; }
  figures& operator+=(const figures& o);

  std::int64_t accepted() const;
  std::optional<double> immediate_answer_rate() const;
  std::optional<double> on_time_rate() const;
  std::optional<double> revisit_rate() const;
  std::optional<double> satisfaction_rate() const;
  friend bool operator==(const figures&, const figures&) = default;
};

struct unit_figures {
  std::array<std::int64_t, static_cast<std::size_t>(unit_metric::count_)> n{};

  std::int64_t operator[](unit_metric m) const { return n[static_cast<std::size_t>(m)]; }
  std::int64_t& operator[](unit_metric m) { return n[static_cast<std::size_t>(m)]; }
  std::optional<double> on_time_rate() const;
  friend bool operator==(const unit_figures&, const unit_figures&) = default;
};

// A matter reported to the department as overdue (Art. 35), as the list and the reports show it.
struct overdue_case {
  std::string center;
  std::string unit;
  std::string case_id;
  civil_date due;          // the reply deadline that passed
  civil_date reported_on;  // when the center reported it
  // What became of it, from the case's statistics facts: the reply of that cycle, if any.
  std::optional<civil_date> replied_on;
  std::optional<core::domain> dom;
  std::optional<core::category> cat;
  friend bool operator==(const overdue_case&, const overdue_case&) = default;
};

struct overdue_page {
  std::vector<overdue_case> items;
  std::string next_cursor;  // empty on the last page
};

struct period {
  civil_date from;  // inclusive
  civil_date to;    // inclusive
  friend bool operator==(const period&, const period&) = default;
};

// Reads the counters. Thread-safe.
class report_reader {
 public:
  // Everything a reader reads (figures, topics, units, urgent cases, the overdue list and its
  // cases' facts) is read as of the reader's making (store::snapshot): the figures and the
  // overdue list of one report or assessment all come from one state, whatever batches the
  // runner writes while they are read. The overdue route makes a reader per page: a page is one
  // state, and the next page starts after its cursor in the store as it is then.
  explicit report_reader(store& s) : store_(s), at_(s.snapshot()) {}
  // (domain, category) -> figures over [from, to] of one center, or of all centers (province).
  result<std::map<std::pair<std::string, std::string>, figures>> by_dimension(
      const period& p, const std::optional<center_code>& center) const;
  // center -> figures (totals) over the period: the assessment's input.
  result<std::map<std::string, figures>> by_center(const period& p) const;
  result<std::map<std::string, std::int64_t>> topics(const period& p,
                                                     const std::optional<center_code>& center) const;
  // (center, unit) -> the unit's figures over the period, of one center or of all.
  result<std::map<std::pair<std::string, std::string>, unit_figures>> by_unit(
      const period& p, const std::optional<center_code>& center) const;
  // Cases flagged major-urgent on `day`: (center, case id), in key order.
  result<std::vector<std::pair<std::string, std::string>>> urgent(
      civil_date day, const std::optional<center_code>& center) const;
  // The matters reported overdue in the period (Art. 35), by day reported, center, unit, case:
  // of one center (or all) and one unit (or all), at most `limit` after the cursor (the
  // `next_cursor` of the page before; errc::invalid_argument naming the field "cursor" when it
  // is not one).
  result<overdue_page> overdue(const period& p, const std::optional<center_code>& center,
                               const std::optional<unit_id>& unit, std::string_view cursor,
                               std::size_t limit) const;
  // The earliest month with any counter, if any ("YYYY-MM").
  result<std::optional<std::string>> first_month() const;

 private:
  // Calls f(key, value) for every counter of `kind` in the period (keys::report_period).
  template <class F>
  result<void> scan(const period& p, keys::counter_kind kind, F&& f) const;
  // f(key, value) for every counter from `from` up to `to_exclusive`, all beginning with `tag`.
  template <class F>
  result<void> scan_prefix(std::string_view tag, const std::string& from,
                           const std::string& to_exclusive, F&& f) const;
  store& store_;
  std::shared_ptr<const rocksdb::Snapshot> at_;  // none for a read-only store
};

enum class report_kind : std::uint8_t { monthly, annual, period, urgent_day };
std::string_view to_string(report_kind k);

struct hot_topic {
  std::string topic;
  std::int64_t count{0};
  std::int64_t previous{0};
  std::optional<double> change;  // (count - previous) / previous; none when previous is 0
  friend bool operator==(const hot_topic&, const hot_topic&) = default;
};

struct dimension_row {
  std::string domain;
  std::string category;
  figures current;
  figures previous;
  friend bool operator==(const dimension_row&, const dimension_row&) = default;
};

struct unit_row {
  std::string center;
  std::string unit;
  std::string name;  // as registered; empty for a unit no longer known
  unit_figures current;
  friend bool operator==(const unit_row&, const unit_row&) = default;
};

struct urgent_case {
  std::string center;
  std::string case_id;
  friend bool operator==(const urgent_case&, const urgent_case&) = default;
};

// Art. 45: one city/county center's rates for a month, and its rank.
struct assessment_row {
  std::string center;
  std::string name;
  figures totals;
  std::optional<double> score;  // the weighted mean of the available rates
  int rank{0};                  // 1 = best; centers without any rate are ranked last
  friend bool operator==(const assessment_row&, const assessment_row&) = default;
};

// A computed report: everything the renderers show.
struct report {
  report_kind kind{report_kind::monthly};
  std::string label;        // "2026-10", "2026", "2026-10-01..2026-10-07", "2026-10-05"
  std::string title;        // e.g. "国庆节 National Day" for a holiday period, else ""
  period current;
  period previous;          // the period before (month, year, or as long before `from`)
  period year_before;       // the same period a year earlier
  std::optional<center_code> center;  // none: province-wide (every center)
  std::string center_name;
  civil_date due;           // when it must be submitted by (Art. 40)
  figures total;
  figures total_previous;
  figures total_year_before;
  std::optional<double> month_on_month;  // growth of received vs the previous period
  std::optional<double> year_on_year;
  std::vector<dimension_row> rows;   // by domain × category, in key order
  std::vector<hot_topic> hot_topics;  // at most 10, most frequent first
  std::vector<urgent_case> urgent;    // the major-urgent cases of the period
  std::vector<overdue_case> overdue;  // reported to the department in the period (Art. 35)
  bool overdue_truncated{false};      // more than the report lists (the route pages them all)
  std::vector<unit_row> units;        // per handling unit, in (center, unit) order (Art. 32-33)
  std::vector<assessment_row> assessment;  // province-wide monthly only (Art. 45)
  assessment_weights weights;              // the assessment's score was computed with these
  friend bool operator==(const report&, const report&) = default;
};

// The complaints' figures of a report (Art. 23: every complaint is revisited): the sum of the
// complaint rows, of the current period or of the previous one.
figures complaints(const std::vector<dimension_row>& rows, bool previous);

// Due dates (Art. 40): monthly before the 3rd of the next month (the 2nd), annual before
// 10 January (the 9th), holiday and major-event periods within 2 days after the end, the day's
// major-urgent report on the day.
civil_date monthly_due(int year, unsigned month);
civil_date annual_due(int year);
civil_date period_due(civil_date to);

struct report_request {
  report_kind kind{report_kind::monthly};
  period current;
  std::optional<center_code> center;
  std::string title;
  assessment_weights weights;  // the Art. 45 score (province-wide monthly only)
};

// The request of each kind of report; the gateway (and `caseline report`) parse the text of
// months, years and days into them.
report_request monthly_request(int year, unsigned month, std::optional<center_code> center);
report_request annual_request(int year, std::optional<center_code> center);
report_request period_request(period p, std::optional<center_code> center);
report_request urgent_request(civil_date day, std::optional<center_code> center);

// A report of a center the registry does not know is core::errc::invalid_argument naming the
// field "center".
result<report> build_report(const report_reader& r, const core::registry& reg,
                            const report_request& req);
result<std::vector<assessment_row>> build_assessment(const report_reader& r,
                                                     const core::registry& reg, int year,
                                                     unsigned month,
                                                     const assessment_weights& w = {});

// The holiday periods of a year from the calendar (consecutive holiday days of one name), for
// the special reports: (name, period). A period spanning the new year is one period, listed
// under the year it begins in (Art. 40(3)).
std::vector<std::pair<std::string, period>> holiday_periods(const core::calendar& cal, int year);

// What a page of the overdue list asks for (GET /v1/reports/overdue, Art. 35).
struct overdue_query {
  period p;
  std::optional<center_code> center;  // none: every center
  std::optional<unit_id> unit;        // none: every unit
  std::string cursor;                 // the next_cursor of the page before; empty for the first
  std::size_t limit{100};
};

// The page, after checking that the registry knows the center (else core::errc::invalid_argument
// naming "center"; a cursor that is not one names "cursor").
result<overdue_page> list_overdue(const report_reader& r, const core::registry& reg,
                                  const overdue_query& q);

}  // namespace caseline::projections

CEREAL_CLASS_VERSION(caseline::projections::report_cycle, 2);
CEREAL_CLASS_VERSION(caseline::projections::report_return, 1);
CEREAL_CLASS_VERSION(caseline::projections::report_overdue, 1);
CEREAL_CLASS_VERSION(caseline::projections::report_facts, 3);
