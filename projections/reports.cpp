#include "projections/reports.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/errc.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/storage/counter_merge.h"
#include "events/storage/key.h"
#include "events/storage/scan.h"
#include "projections/paging.h"
#include "projections/report_render.h"
#include "projections/sla_index.h"

namespace caseline::projections {

namespace {

constexpr std::string_view unclassified = "unclassified";
constexpr std::size_t hot_topic_count = 10;
constexpr std::size_t urgent_limit = 1000;

std::string month_of(civil_date d) { return fmt::format("{:04}-{:02}", d.year, d.month); }

civil_date month_start(int year, unsigned month) { return civil_date{year, month, 1}; }
civil_date month_end(int year, unsigned month) {
  return month == 12 ? civil_date{year, 12, 31} : civil_date{year, month + 1, 1}.plus_days(-1);
}

// The same date a year earlier (29 February becomes the 28th).
civil_date year_earlier(civil_date d) {
  civil_date e{d.year - 1, d.month, d.day};
  if (!e.valid()) e.day = 28;
  return e;
}

std::optional<double> ratio(std::int64_t num, std::int64_t den) {
  if (den <= 0) return std::nullopt;
  return static_cast<double>(num) / static_cast<double>(den);
}

std::optional<double> growth(std::int64_t now, std::int64_t before) {
  if (before <= 0) return std::nullopt;
  return static_cast<double>(now - before) / static_cast<double>(before);
}

result<std::int64_t> decode_i64(std::string_view v) {
  const auto n = storage::parse_be64_value(v);
  if (!n) return make_error(events::errc::corrupt_record, "stored report counter");
  return static_cast<std::int64_t>(*n);
}

// A counter as stored: its cells, or its one count.
std::string encode_counter(const counter_delta& d) {
  return d.cells ? storage::counter_cells_value(d.n)
                 : storage::be64_value(static_cast<std::uint64_t>(d.n[0]));
}

// A figure key's stored cells, added to `into` (cell i to into[i]).
result<void> add_cells(std::string_view stored, std::span<std::int64_t> into) {
  if (!storage::add_counter_cells(stored, into))
    return make_error(events::errc::corrupt_record, "stored report figures");
  return success();
}

bool affects_statistics(const core::event& e) {
  return !std::holds_alternative<core::reminded>(e) && !std::holds_alternative<core::archived>(e) &&
         !std::holds_alternative<core::escalated>(e);
}

error bad(std::string what) { return make_error(core::errc::invalid_argument, std::move(what)); }

// Whether a stored counter counts: false for one merged back to zero (prepare_commit), which
// is no counter; an error for one below zero in a cell, or of neither shape.
result<bool> counter_present(std::string_view key, std::string_view value) {
  switch (storage::classify_counter(value)) {
    case storage::counter_value::zero:
      return false;
    case storage::counter_value::positive:
      return true;
    case storage::counter_value::negative:
      return make_error(events::errc::corrupt_record,
                        "report counter below zero: " + std::string(key));
    case storage::counter_value::malformed:
      break;
  }
  return make_error(events::errc::corrupt_record, "stored report counter: " + std::string(key));
}

// A counter's key that its codec cannot read: the store is damaged.
error corrupt_key(const char* what) { return make_error(events::errc::corrupt_record, what); }

}  // namespace

// --- the fold and the contributions -----------------------------------------------------------

report_facts fold(report_facts f, const core::event& e) {
  std::visit(
      [&](const auto& ev) {
        using E = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<E, core::case_received>) {
          f.received = true;
          if (!ev.id().empty()) f.id = ev.id;
          f.center = ev.center;
          f.received_on = ev.received_on;
          if (ev.cat) f.cat = ev.cat;  // named at intake (Art. 39)
          if (ev.dom) f.dom = ev.dom;
        } else if constexpr (std::is_same_v<E, core::answered_immediately>) {
          f.outcome = intake_outcome::answered;
        } else if constexpr (std::is_same_v<E, core::not_accepted>) {
          f.outcome = intake_outcome::not_accepted;
        } else if constexpr (std::is_same_v<E, core::redirected>) {
          f.outcome = intake_outcome::redirected;
        } else if constexpr (std::is_same_v<E, core::classified>) {
          f.cat = ev.cat;
          f.dom = ev.dom;
          f.topics = ev.topics;
        } else if constexpr (std::is_same_v<E, core::transferred>) {
          f.cycles.push_back(
              report_cycle{ev.center, ev.reply_due, {}, false, {}, false, {}, ev.unit});
          f.open_cycle = true;
        } else if constexpr (std::is_same_v<E, core::returned>) {
          const center_code from = f.open_cycle ? f.cycles.back().center : f.center;
          f.returns.push_back(report_return{from, ev.unit, ev.returned_on, ev.late});
          if (f.open_cycle) f.cycles.pop_back();
          f.open_cycle = false;
        } else if constexpr (std::is_same_v<E, core::extended>) {
          if (f.open_cycle) f.cycles.back().due = ev.reply_due;
        } else if constexpr (std::is_same_v<E, core::deadline_revised>) {
          // A calendar published after the deadline was counted moved it (Art. 33-34).
          if (f.open_cycle && ev.kind == core::deadline_kind::reply) f.cycles.back().due = ev.due;
        } else if constexpr (std::is_same_v<E, core::replied>) {
          if (f.open_cycle) {
            f.cycles.back().replied_on = ev.replied_on;
            f.cycles.back().revisit_required = ev.revisit_required;
          }
          f.open_cycle = false;
        } else if constexpr (std::is_same_v<E, core::revisited>) {
          if (!f.cycles.empty() && !f.open_cycle) {
            report_cycle& c = f.cycles.back();
            c.revisited_on = ev.revisited_on;
            c.reached = ev.reached;
            c.view = ev.result_view;
            if (ev.further_handling && ev.reopened_reply_due) {
              f.cycles.push_back(report_cycle{c.center, *ev.reopened_reply_due, {}, false, {},
                                              false, {}, c.unit});
              f.open_cycle = true;
            }
          }
        } else if constexpr (std::is_same_v<E, core::flagged_major_urgent>) {
          f.flagged_on = ev.flagged_on;
        } else if constexpr (std::is_same_v<E, core::overdue_reported>) {
          f.overdue.push_back(report_overdue{ev.center, ev.unit, ev.due, ev.reported_on});
        }
      },
      e);
  return f;
}

bool counter_delta::zero() const {
  return std::all_of(n.begin(), n.end(), [](std::int64_t v) { return v == 0; });
}

counter_delta& counter_delta::operator+=(const counter_delta& o) {
  cells = cells || o.cells;
  for (std::size_t i = 0; i < n.size(); ++i) n[i] += o.n[i];
  return *this;
}

counter_delta& counter_delta::operator-=(const counter_delta& o) {
  cells = cells || o.cells;
  for (std::size_t i = 0; i < n.size(); ++i) n[i] -= o.n[i];
  return *this;
}

namespace {

// contributions(), each share added into `out` times `sign`: prepare_commit adds a touched case's
// shares after the batch and takes those before it away in one map, with no map per call.
template <class Map>
void add_shares(const report_facts& f, std::int64_t sign, Map& out) {
  if (!f.received) return;
  // Looked up by reference: a key is copied into the map only when it is new there.
  const auto count = [&](const std::string& key) { out[key].n[0] += sign; };
  const auto cell = [&](const std::string& key, std::size_t i) {
    auto& d = out[key];
    d.cells = true;
    d.n[i] += sign;
  };
  const std::string dom(f.dom ? core::to_string(*f.dom) : unclassified);
  const std::string cat(f.cat ? core::to_string(*f.cat) : unclassified);
  // Every figure counts in its day and in its month. A case's figures mostly fall on a few
  // days of one center (received and answered the same day, due and replied on time): the keys
  // of the last day and center are kept rather than encoded again for each metric.
  constexpr keys::report_span spans[] = {keys::report_span::month, keys::report_span::day};
  std::optional<std::pair<civil_date, std::string>> last;
  std::array<std::string, 2> last_keys;
  const auto add = [&](civil_date d, const center_code& center, metric m) {
    if (!last || last->first != d || last->second != center()) {
      for (std::size_t i = 0; i < last_keys.size(); ++i)
        last_keys[i] = keys::report_figure{spans[i], d, center(), dom, cat}.encode();
      last.emplace(d, center());
    }
    for (const auto& key : last_keys) cell(key, static_cast<std::size_t>(m));
  };
  add(f.received_on, f.center, metric::received);
  switch (f.outcome) {
    case intake_outcome::answered: add(f.received_on, f.center, metric::answered); break;
    case intake_outcome::not_accepted: add(f.received_on, f.center, metric::not_accepted); break;
    case intake_outcome::redirected: add(f.received_on, f.center, metric::redirected); break;
    case intake_outcome::none: break;
  }
  for (const auto& c : f.cycles) {
    add(c.due, c.center, metric::reply_due);
    if (!c.replied_on) continue;
    if (*c.replied_on <= c.due) add(c.due, c.center, metric::replied_on_time);
    add(*c.replied_on, c.center, metric::replied);
    if (!c.revisited_on) continue;
    add(*c.replied_on, c.center, metric::replied_revisited);
    add(*c.revisited_on, c.center, metric::revisits);
    if (!c.reached) continue;
    add(*c.revisited_on, c.center, metric::revisits_reached);
    if (c.view == core::satisfaction::satisfied) add(*c.revisited_on, c.center, metric::satisfied);
    if (c.view == core::satisfaction::basically_satisfied)
      add(*c.revisited_on, c.center, metric::basically_satisfied);
    if (c.view == core::satisfaction::dissatisfied)
      add(*c.revisited_on, c.center, metric::dissatisfied);
  }
  // Per unit; a cycle folded before cycles kept their unit counts for no unit.
  const auto add_unit = [&](civil_date d, const center_code& center, const unit_id& unit,
                            unit_metric m) {
    if (unit().empty()) return;
    for (const auto span : spans)
      cell(keys::report_unit_figure{span, d, center(), unit()}.encode(),
           static_cast<std::size_t>(m));
  };
  for (const auto& c : f.cycles) {
    add_unit(c.due, c.center, c.unit, unit_metric::reply_due);
    if (c.replied_on && *c.replied_on <= c.due)
      add_unit(c.due, c.center, c.unit, unit_metric::replied_on_time);
  }
  for (const auto& r : f.returns) {
    add_unit(r.returned_on, r.center, r.unit, unit_metric::returns);
    if (r.late) add_unit(r.returned_on, r.center, r.unit, unit_metric::late_returns);
  }
  // A case's overdue report and its flag are a key each that counts it once, however often the
  // facts name it.
  std::set<std::string> once;
  for (const auto& o : f.overdue) {
    add(o.reported_on, o.center, metric::overdue_reported);
    add_unit(o.reported_on, o.center, o.unit, unit_metric::overdue_reported);
    once.insert(keys::report_overdue{o.reported_on, o.center(), o.unit(), f.id(), o.due}.encode());
  }
  if (f.flagged_on) once.insert(keys::report_urgent{*f.flagged_on, f.center(), f.id()}.encode());
  for (const auto& key : once) count(key);
  const std::set<std::string> topics(f.topics.begin(), f.topics.end());
  for (const auto& t : topics) {
    if (t.empty()) continue;
    for (const auto span : spans)
      count(keys::report_topic{span, f.received_on, f.center(), t}.encode());
  }
}

}  // namespace

std::map<std::string, counter_delta> contributions(const report_facts& f) {
  std::map<std::string, counter_delta> out;
  add_shares(f, 1, out);
  return out;
}

void add_contributions(const report_facts& f, std::int64_t sign,
                       std::unordered_map<std::string, counter_delta>& into) {
  add_shares(f, sign, into);
}

// --- the projection ---------------------------------------------------------------------------

void report_projection::clear_batch() {
  facts_.clear();
  delta_.clear();
}

void report_projection::begin_batch() { clear_batch(); }

void report_projection::end_batch(bool /*committed*/) { clear_batch(); }

result<void> report_projection::prepare_commit(rocksdb::WriteBatch& batch) {
  for (const auto& [id, t] : facts_) {
    add_contributions(t.before, -1, delta_);
    add_contributions(t.now, 1, delta_);
  }
  // Every difference is a merge, whether it adds or takes away: no counter is read here, so the
  // replays of different partitions may write the same counter at once (rebuild.h), and the sum
  // is the same in any order. A counter taken back to zero stays as a key of zero, which every
  // reader below skips.
  auto* cf = store_.cf(family::report_counters);
  for (const auto& [k, d] : delta_)
    if (!d.zero()) batch.Merge(cf, k, encode_counter(d));
  for (const auto& [id, t] : facts_)
    batch.Put(store_.cf(family::report_cases), id, detail::encode_row(t.now));
  return success();
}

result<void> report_projection::apply(const decoded_event& e, rocksdb::WriteBatch& /*batch*/) {
  if (!affects_statistics(e.event)) return success();
  const std::string& id = e.env.case_id();
  auto found = facts_.find(id);
  if (found == facts_.end()) {
    auto stored = detail::read_row<report_facts>(store_, family::report_cases, id, "report facts");
    if (!stored) return stored.error();
    const bool first_seen = !stored.value().has_value();
    report_facts f = std::move(stored).value().value_or(report_facts{});
    if (first_seen) f.id = e.env.case_id;
    found = facts_.emplace(id, touched{f, f}).first;
  }
  found->second.now = fold(std::move(found->second.now), e.event);
  return success();
}

// --- figures ------------------------------------------------------------------------------------

std::string_view to_string(metric m) {
  switch (m) {
    case metric::received: return "received";
    case metric::answered: return "answered_immediately";
    case metric::not_accepted: return "not_accepted";
    case metric::redirected: return "redirected";
    case metric::reply_due: return "reply_due";
    case metric::replied_on_time: return "replied_on_time";
    case metric::replied: return "replied";
    case metric::replied_revisited: return "replied_revisited";
    case metric::revisits: return "revisits";
    case metric::revisits_reached: return "revisits_reached";
    case metric::satisfied: return "satisfied";
    case metric::basically_satisfied: return "basically_satisfied";
    case metric::dissatisfied: return "dissatisfied";
    case metric::overdue_reported:
      return "overdue_reported";
    case metric::count_: break;
  }
  return "unknown";
}

std::string_view to_string(unit_metric m) {
  switch (m) {
    case unit_metric::reply_due: return "reply_due";
    case unit_metric::replied_on_time: return "replied_on_time";
    case unit_metric::returns: return "returns";
    case unit_metric::late_returns: return "late_returns";
    case unit_metric::overdue_reported:
      return "overdue_reported";
    case unit_metric::count_: break;
  }
  return "unknown";
}

std::optional<double> unit_figures::on_time_rate() const {
  return ratio((*this)[unit_metric::replied_on_time], (*this)[unit_metric::reply_due]);
}

figures& figures::operator+=(const figures& o) {
  for (std::size_t i = 0; i < n.size(); ++i) n[i] += o.n[i];
  return *this;
}

std::int64_t figures::accepted() const {
  return (*this)[metric::received] - (*this)[metric::not_accepted] - (*this)[metric::redirected];
}
std::optional<double> figures::immediate_answer_rate() const {
  return ratio((*this)[metric::answered], accepted());
}
std::optional<double> figures::on_time_rate() const {
  return ratio((*this)[metric::replied_on_time], (*this)[metric::reply_due]);
}
std::optional<double> figures::revisit_rate() const {
  return ratio((*this)[metric::replied_revisited], (*this)[metric::replied]);
}
std::optional<double> figures::satisfaction_rate() const {
  return ratio((*this)[metric::satisfied] + (*this)[metric::basically_satisfied],
               (*this)[metric::revisits_reached]);
}

// --- the reader ---------------------------------------------------------------------------------

template <class F>
result<void> report_reader::scan_prefix(std::string_view tag, const std::string& from,
                                        const std::string& to_exclusive, F&& f) const {
  return storage::scan(
      store_.db(), store_.cf(family::report_counters), {std::string(tag), from, to_exclusive},
      "read report counters",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        auto present = counter_present(key, value);
        if (!present) return present.error();
        if (present.value())
          if (auto r = f(key, value); !r) return r.error();
        return storage::scan_step::next;
      },
      at_.get());
}

// Whole months read the monthly counters, the rest of the period the daily ones.
template <class F>
result<void> report_reader::scan(const period& p, keys::counter_kind kind, F&& f) const {
  using keys::report_period;
  using keys::report_span;
  civil_date d = p.from;
  while (d <= p.to) {
    const civil_date end = month_end(d.year, d.month);
    if (d.day == 1 && end <= p.to) {
      const civil_date next_month = end.plus_days(1);
      if (auto r = scan_prefix(keys::report_tag(kind, report_span::month),
                               report_period(kind, report_span::month, d),
                               report_period(kind, report_span::month, next_month), f);
          !r)
        return r;
      d = next_month;
      continue;
    }
    const civil_date last = std::min(end, p.to);
    if (auto r = scan_prefix(keys::report_tag(kind, report_span::day),
                             report_period(kind, report_span::day, d),
                             report_period(kind, report_span::day, last.plus_days(1)), f);
        !r)
      return r;
    d = last.plus_days(1);
  }
  return success();
}

result<std::map<std::pair<std::string, std::string>, figures>> report_reader::by_dimension(
    const period& p, const std::optional<center_code>& center) const {
  std::map<std::pair<std::string, std::string>, figures> out;
  const auto each = [&](std::string_view key, std::string_view v) -> result<void> {
    auto k = keys::report_figure::decode(key);
    if (!k) return corrupt_key("report counter key");
    if (center && k->center != (*center)()) return success();
    return add_cells(v, out[{k->domain, k->category}].n);
  };
  auto r = scan(p, keys::counter_kind::figure, each);
  if (!r) return r.error();
  return out;
}

result<std::map<std::string, figures>> report_reader::by_center(const period& p) const {
  std::map<std::string, figures> out;
  const auto each = [&](std::string_view key, std::string_view v) -> result<void> {
    auto k = keys::report_figure::decode(key);
    if (!k) return corrupt_key("report counter key");
    return add_cells(v, out[k->center].n);
  };
  auto r = scan(p, keys::counter_kind::figure, each);
  if (!r) return r.error();
  return out;
}

result<std::map<std::string, std::int64_t>> report_reader::topics(
    const period& p, const std::optional<center_code>& center) const {
  std::map<std::string, std::int64_t> out;
  const auto each = [&](std::string_view key, std::string_view v) -> result<void> {
    auto k = keys::report_topic::decode(key);
    if (!k) return corrupt_key("topic counter key");
    if (center && k->center != (*center)()) return success();
    auto n = decode_i64(v);
    if (!n) return n.error();
    out[k->topic] += n.value();
    return success();
  };
  auto r = scan(p, keys::counter_kind::topic, each);
  if (!r) return r.error();
  return out;
}

result<std::map<std::pair<std::string, std::string>, unit_figures>> report_reader::by_unit(
    const period& p, const std::optional<center_code>& center) const {
  std::map<std::pair<std::string, std::string>, unit_figures> out;
  const auto each = [&](std::string_view key, std::string_view v) -> result<void> {
    auto k = keys::report_unit_figure::decode(key);
    if (!k) return corrupt_key("unit counter key");
    if (center && k->center != (*center)()) return success();
    return add_cells(v, out[{k->center, k->unit}].n);
  };
  auto r = scan(p, keys::counter_kind::unit_figure, each);
  if (!r) return r.error();
  return out;
}

result<std::vector<std::pair<std::string, std::string>>> report_reader::urgent(
    civil_date day, const std::optional<center_code>& center) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto r = scan_prefix(keys::report_urgent::tag, keys::report_urgent::prefix(day),
                       keys::report_urgent::prefix(day.plus_days(1)),
                       [&](std::string_view key, std::string_view) -> result<void> {
                         auto k = keys::report_urgent::decode(key);
                         if (!k) return corrupt_key("urgent key");
                         if ((!center || k->center == (*center)()) && out.size() < urgent_limit)
                           out.emplace_back(std::move(k->center), std::move(k->case_id));
                         return success();
                       });
  if (!r) return r.error();
  return out;
}

result<overdue_page> report_reader::overdue(const period& p,
                                            const std::optional<center_code>& center,
                                            const std::optional<unit_id>& unit,
                                            std::string_view cursor, std::size_t limit) const {
  using keys::report_overdue;
  const std::string from = report_overdue::from_day(p.from);
  const std::string to = report_overdue::from_day(p.to.plus_days(1));
  overdue_page out;
  const auto visit = [&](std::string_view key, std::string_view value) -> result<bool> {
    auto present = counter_present(key, value);
    if (!present || !present.value()) return present;
    auto k = report_overdue::decode(key);
    if (!k) return corrupt_key("overdue report key");
    if (center && k->center != (*center)()) return false;
    if (unit && k->unit != (*unit)()) return false;
    overdue_case c{std::move(k->center), std::move(k->unit), std::move(k->case_id), k->due,
                   k->reported_on,       std::nullopt,       std::nullopt,          std::nullopt};
    auto facts = detail::read_row<report_facts>(store_, family::report_cases, c.case_id,
                                                "report facts", at_.get());
    if (!facts) return facts.error();
    if (facts.value()) {
      const report_facts& f = *facts.value();
      c.dom = f.dom;
      c.cat = f.cat;
      // The reply of the cycle reported: the unit's, with that deadline (a passed deadline is
      // never extended, Art. 34).
      for (const auto& cy : f.cycles)
        if (cy.unit() == c.unit && cy.due == c.due && cy.replied_on) c.replied_on = cy.replied_on;
    }
    out.items.push_back(std::move(c));
    return true;
  };
  auto next =
      scan_page(store_, family::report_counters, {std::string(report_overdue::tag), from, to},
                cursor, limit, "read overdue reports", visit, at_.get());
  if (!next) return next.error();
  out.next_cursor = std::move(next).value();
  return out;
}

result<std::optional<std::string>> report_reader::first_month() const {
  std::optional<std::string> out;
  const auto tag = keys::report_tag(keys::counter_kind::figure, keys::report_span::month);
  auto r = storage::scan(
      store_.db(), store_.cf(family::report_counters), {std::string(tag), {}, {}},
      "read report counters",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        auto present = counter_present(key, value);
        if (!present) return present.error();
        if (!present.value()) return storage::scan_step::next;
        out = std::string(key.substr(tag.size(), 7));  // YYYY-MM
        return storage::scan_step::stop;
      },
      at_.get());
  if (!r) return r.error();
  return out;
}

// --- reports --------------------------------------------------------------------------------------

namespace {
constexpr std::pair<std::string_view, double assessment_weights::*> weight_names[] = {
    {"immediate_answer", &assessment_weights::immediate_answer},
    {"on_time", &assessment_weights::on_time},
    {"revisit", &assessment_weights::revisit},
    {"satisfaction", &assessment_weights::satisfaction}};
}  // namespace

result<assessment_weights> parse_assessment_weights(std::string_view text) {
  assessment_weights out;
  std::set<std::string_view> seen;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view entry = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      return bad(fmt::format("assessment weights: \"{}\": expected NAME=WEIGHT", entry));
    const std::string_view name = entry.substr(0, eq);
    const std::string_view value = entry.substr(eq + 1);
    const auto* known = std::find_if(std::begin(weight_names), std::end(weight_names),
                                     [&](const auto& n) { return n.first == name; });
    if (known == std::end(weight_names))
      return bad(fmt::format(
          "assessment weights: \"{}\": unknown rate \"{}\" (immediate_answer, on_time, revisit, "
          "satisfaction)",
          entry, name));
    if (!seen.insert(known->first).second)
      return bad(fmt::format("assessment weights: \"{}\": \"{}\" given twice", entry, name));
    double v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v,
                                           std::chars_format::fixed);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
        !std::isfinite(v))
      return bad(fmt::format("assessment weights: \"{}\": the weight is not a number", entry));
    // Reports show numbers to 4 decimals; a finer weight could not be shown as it was used.
    if (const auto dot = value.find('.'); dot != std::string_view::npos && value.size() - dot - 1 > 4)
      return bad(fmt::format("assessment weights: \"{}\": more than 4 decimals", entry));
    if (v < 0) return bad(fmt::format("assessment weights: \"{}\": the weight is negative", entry));
    out.*(known->second) = v;
  }
  if (out.immediate_answer == 0 && out.on_time == 0 && out.revisit == 0 && out.satisfaction == 0)
    return bad("assessment weights: every weight is 0 (at least one must be positive)");
  return out;
}

std::string to_string(const assessment_weights& w) {
  std::string out;
  for (const auto& [name, member] : weight_names)
    out += fmt::format("{}{}={}", out.empty() ? "" : ",", name, w.*member);
  return out;
}

std::string_view to_string(report_kind k) {
  switch (k) {
    case report_kind::monthly: return "monthly";
    case report_kind::annual: return "annual";
    case report_kind::period: return "period";
    case report_kind::urgent_day: return "urgent_day";
  }
  return "unknown";
}

figures complaints(const std::vector<dimension_row>& rows, bool previous) {
  figures f;
  for (const auto& r : rows)
    if (r.category == "complaint") f += previous ? r.previous : r.current;
  return f;
}

civil_date monthly_due(int year, unsigned month) {
  return month == 12 ? civil_date{year + 1, 1, 2} : civil_date{year, month + 1, 2};
}
civil_date annual_due(int year) { return civil_date{year + 1, 1, 9}; }
civil_date period_due(civil_date to) { return to.plus_days(2); }

namespace {
report_request request(report_kind kind, period p, std::optional<center_code> center) {
  report_request r;
  r.kind = kind;
  r.current = p;
  r.center = std::move(center);
  return r;
}
}  // namespace

report_request monthly_request(int year, unsigned month, std::optional<center_code> center) {
  return request(report_kind::monthly, {civil_date{year, month, 1}, month_end(year, month)},
                 std::move(center));
}

report_request annual_request(int year, std::optional<center_code> center) {
  return request(report_kind::annual, {civil_date{year, 1, 1}, civil_date{year, 12, 31}},
                 std::move(center));
}

report_request period_request(period p, std::optional<center_code> center) {
  return request(report_kind::period, p, std::move(center));
}

report_request urgent_request(civil_date day, std::optional<center_code> center) {
  return request(report_kind::urgent_day, {day, day}, std::move(center));
}

result<report> build_report(const report_reader& rd, const core::registry& reg,
                            const report_request& req) {
  report out;
  out.kind = req.kind;
  out.title = req.title;
  out.current = req.current;
  out.center = req.center;
  if (req.center) {
    const auto* c = reg.center(*req.center);
    if (c == nullptr)
      return make_field_error(core::errc::invalid_argument, "center",
                              "unknown center " + (*req.center)());
    out.center_name = c->name;
  } else {
    out.center_name = "河南省全省";
  }
  const civil_date from = req.current.from;
  const civil_date to = req.current.to;
  switch (req.kind) {
    case report_kind::monthly: {
      out.label = month_of(from);
      const civil_date prev = from.plus_days(-1);
      out.previous = {month_start(prev.year, prev.month), prev};
      out.year_before = {month_start(from.year - 1, from.month), month_end(from.year - 1, from.month)};
      out.due = monthly_due(from.year, from.month);
      break;
    }
    case report_kind::annual:
      out.label = std::to_string(from.year);
      out.previous = {civil_date{from.year - 1, 1, 1}, civil_date{from.year - 1, 12, 31}};
      out.year_before = out.previous;
      out.due = annual_due(from.year);
      break;
    case report_kind::period:
    case report_kind::urgent_day: {
      const std::int64_t days = to.days_since_epoch() - from.days_since_epoch() + 1;
      out.label = req.kind == report_kind::urgent_day ? from.to_string()
                                                      : from.to_string() + ".." + to.to_string();
      out.previous = {from.plus_days(-days), from.plus_days(-1)};
      out.year_before = {year_earlier(from), year_earlier(to)};
      out.due = req.kind == report_kind::urgent_day ? from : period_due(to);
      break;
    }
  }

  auto cur = rd.by_dimension(out.current, req.center);
  if (!cur) return cur.error();
  auto prev = rd.by_dimension(out.previous, req.center);
  if (!prev) return prev.error();
  auto yb = rd.by_dimension(out.year_before, req.center);
  if (!yb) return yb.error();
  std::set<std::pair<std::string, std::string>> dims;
  for (const auto& [k, v] : cur.value()) dims.insert(k);
  for (const auto& [k, v] : prev.value()) dims.insert(k);
  for (const auto& k : dims) {
    dimension_row row{k.first, k.second, {}, {}};
    if (auto it = cur.value().find(k); it != cur.value().end()) row.current = it->second;
    if (auto it = prev.value().find(k); it != prev.value().end()) row.previous = it->second;
    out.total += row.current;
    out.total_previous += row.previous;
    out.rows.push_back(std::move(row));
  }
  for (const auto& [k, v] : yb.value()) out.total_year_before += v;
  if (req.kind != report_kind::annual)
    out.month_on_month = growth(out.total[metric::received], out.total_previous[metric::received]);
  out.year_on_year = growth(out.total[metric::received], out.total_year_before[metric::received]);

  auto topics = rd.topics(out.current, req.center);
  if (!topics) return topics.error();
  auto prev_topics = rd.topics(out.previous, req.center);
  if (!prev_topics) return prev_topics.error();
  for (const auto& [t, n] : topics.value()) {
    const auto p = prev_topics.value().find(t);
    const std::int64_t before = p == prev_topics.value().end() ? 0 : p->second;
    out.hot_topics.push_back(hot_topic{t, n, before, growth(n, before)});
  }
  std::stable_sort(out.hot_topics.begin(), out.hot_topics.end(),
                   [](const hot_topic& a, const hot_topic& b) { return a.count > b.count; });
  if (out.hot_topics.size() > hot_topic_count) out.hot_topics.resize(hot_topic_count);

  for (civil_date d = from; d <= to && out.urgent.size() < urgent_limit; d = d.plus_days(1)) {
    auto u = rd.urgent(d, req.center);
    if (!u) return u.error();
    for (auto& [c, id] : u.value()) out.urgent.push_back(urgent_case{std::move(c), std::move(id)});
  }

  // Art. 35: the matters reported to the department, listed up to the same bound as the urgent
  // ones; GET /v1/reports/overdue pages through all of them.
  auto overdue = rd.overdue(out.current, req.center, std::nullopt, "", urgent_limit);
  if (!overdue) return overdue.error();
  out.overdue_truncated = !overdue.value().next_cursor.empty();  // more than the bound
  out.overdue = std::move(overdue).value().items;

  auto units = rd.by_unit(out.current, req.center);
  if (!units) return units.error();
  for (auto& [k, v] : units.value()) {
    const core::unit_info* u = reg.unit(unit_id{k.second});
    out.units.push_back(unit_row{k.first, k.second, u ? u->name : std::string(), v});
  }

  if (req.kind == report_kind::monthly && !req.center) {
    auto a = build_assessment(rd, reg, from.year, from.month, req.weights);
    if (!a) return a.error();
    out.assessment = std::move(a).value();
    out.weights = req.weights;
  }
  return out;
}

result<std::vector<assessment_row>> build_assessment(const report_reader& rd,
                                                     const core::registry& reg, int year,
                                                     unsigned month,
                                                     const assessment_weights& w) {
  auto totals = rd.by_center({month_start(year, month), month_end(year, month)});
  if (!totals) return totals.error();
  std::vector<assessment_row> rows;
  for (const auto& c : reg.centers()) {
    if (!c.parent) continue;  // the provincial center assesses, it is not assessed (Art. 45)
    assessment_row row{c.code(), c.name, {}, std::nullopt, 0};
    if (auto it = totals.value().find(c.code()); it != totals.value().end()) row.totals = it->second;
    // score = Σ wᵢ·rᵢ / Σ wᵢ over the defined rates (README-reports.md); a rate with weight 0
    // does not count, and without any defined rate of positive weight there is no score.
    double sum = 0;
    double weight = 0;
    const std::pair<std::optional<double>, double> rates[] = {
        {row.totals.immediate_answer_rate(), w.immediate_answer},
        {row.totals.on_time_rate(), w.on_time},
        {row.totals.revisit_rate(), w.revisit},
        {row.totals.satisfaction_rate(), w.satisfaction}};
    for (const auto& [r, wi] : rates) {
      if (!r || wi == 0) continue;
      sum += wi * *r;
      weight += wi;
    }
    if (weight > 0) row.score = round4(sum / weight);
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const assessment_row& a, const assessment_row& b) {
    if (a.score.has_value() != b.score.has_value()) return a.score.has_value();
    if (a.score && *a.score != *b.score) return *a.score > *b.score;
    return a.center < b.center;
  });
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool tie = i > 0 && rows[i].score == rows[i - 1].score;
    rows[i].rank = tie ? rows[i - 1].rank : static_cast<int>(i) + 1;
  }
  return rows;
}

std::vector<std::pair<std::string, period>> holiday_periods(const core::calendar& cal, int year) {
  std::vector<std::pair<std::string, period>> out;
  // A period that spans the new year (元旦 2023-12-30 .. 2024-01-01) is one period and one report
  // (Art. 40(3)): it belongs to the year it begins in, which follows it into January; the year
  // after skips the days it carried over.
  std::string carried;
  const civil_date eve{year - 1, 12, 31};
  if (auto k = cal.kind(eve); k && k.value() == core::day_kind::holiday) carried = cal.name_of(eve);
  for (civil_date d{year, 1, 1};; d = d.plus_days(1)) {
    auto k = cal.kind(d);
    if (!k) return out;  // a year without data: no periods (or no more days), never a guess
    const bool holiday = k.value() == core::day_kind::holiday;
    const std::string name = holiday ? cal.name_of(d) : std::string();
    if (!carried.empty()) {
      if (holiday && name == carried) continue;
      carried.clear();
    }
    const bool extends = holiday && !out.empty() && out.back().first == name &&
                         out.back().second.to == d.plus_days(-1);
    if (d.year != year) {
      if (!extends) return out;
      out.back().second.to = d;
      continue;
    }
    if (!holiday) continue;
    if (extends)
      out.back().second.to = d;
    else
      out.emplace_back(name, period{d, d});
  }
}

result<overdue_page> list_overdue(const report_reader& r, const core::registry& reg,
                                  const overdue_query& q) {
  if (q.center && reg.center(*q.center) == nullptr)
    return make_field_error(core::errc::invalid_argument, "center",
                            "unknown center " + (*q.center)());
  return r.overdue(q.p, q.center, q.unit, q.cursor, q.limit);
}

}  // namespace caseline::projections
