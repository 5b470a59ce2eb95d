#include "projections/row_keys.h"

#include <charconv>

#include <fmt/format.h>

#include "events/storage/key.h"

namespace caseline::projections::keys {

namespace {

using storage::key_builder;
using storage::key_parser;

template <class Int>
std::optional<Int> parse_decimal(std::string_view s) {
  Int v{};
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string compact_day(civil_date d) {
  return fmt::format("{:04}{:02}{:02}", d.year, d.month, d.day);
}

std::optional<civil_date> parse_compact_day(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  const auto y = parse_decimal<int>(s.substr(0, 4));
  const auto m = parse_decimal<unsigned>(s.substr(4, 2));
  const auto d = parse_decimal<unsigned>(s.substr(6, 2));
  if (!y || !m || !d) return std::nullopt;
  const civil_date out{*y, *m, *d};
  if (!out.valid()) return std::nullopt;
  return out;
}

std::optional<civil_date> parse_day(std::optional<std::string_view> s) {
  if (!s) return std::nullopt;
  return civil_date::parse(*s);
}

// prefix be32(partition): the offsets' and the owners' keys.
std::string partition_key(std::string_view prefix, std::int32_t partition) {
  return key_builder().literal(prefix).be32(static_cast<std::uint32_t>(partition)).str();
}

std::optional<std::int32_t> parse_partition_key(std::string_view key, std::string_view prefix) {
  key_parser p(key);
  if (!p.literal(prefix)) return std::nullopt;
  const auto partition = p.be32();
  if (!partition || !p.done()) return std::nullopt;
  return static_cast<std::int32_t>(*partition);
}

}  // namespace

std::string offset::encode() const { return partition_key(prefix, partition); }

std::optional<offset> offset::decode(std::string_view key) {
  const auto partition = parse_partition_key(key, prefix);
  if (!partition) return std::nullopt;
  return offset{*partition};
}

namespace {

// The "YYYYMMDD" of a case id "<center>-<YYYYMMDD>-<sequence>" (the writer's form,
// format_case_id in case_projection.h), or empty for another form. No allocation: it runs for
// every history row written.
std::string_view received_day(std::string_view case_id) {
  const auto last = case_id.rfind('-');
  if (last == std::string_view::npos || last < 9 || case_id[last - 9] != '-') return {};
  const std::string_view day = case_id.substr(last - 8, 8);
  for (const char c : day)
    if (c < '0' || c > '9') return {};
  return day;
}

}  // namespace

std::string case_row::encode(std::string_view case_id) {
  return key_builder().field(received_day(case_id)).field(case_id).str();
}

std::optional<case_row> case_row::decode(std::string_view key) {
  key_parser p(key);
  const auto day = p.field();
  const auto id = day ? p.field() : std::nullopt;
  if (!id || !p.done() || *day != received_day(*id)) return std::nullopt;
  return case_row{std::string(*id)};
}

std::string case_history::prefix(std::string_view case_id) { return case_row::encode(case_id); }

std::optional<std::string_view> case_history::prefix_of(std::string_view key) {
  const auto day_end = key.find('\0');
  if (day_end == std::string_view::npos) return std::nullopt;
  const auto id_end = key.find('\0', day_end + 1);
  if (id_end == std::string_view::npos) return std::nullopt;
  return key.substr(0, id_end + 1);
}

std::string case_history::encode() const {
  return key_builder().field(received_day(case_id)).field(case_id).be64(sequence).str();
}

std::optional<case_history> case_history::decode(std::string_view key) {
  key_parser p(key);
  const auto day = p.field();
  const auto id = day ? p.field() : std::nullopt;
  const auto seq = id ? p.be64() : std::nullopt;
  if (!seq || !p.done() || *day != received_day(*id)) return std::nullopt;
  return case_history{std::string(*id), *seq};
}

std::string case_sequence::prefix(std::string_view case_id) {
  return key_builder().field(case_id).str();
}

std::string case_sequence::encode() const {
  return key_builder().field(case_id).be64(sequence).str();
}

std::optional<case_sequence> case_sequence::decode(std::string_view key) {
  key_parser p(key);
  const auto id = p.field();
  const auto seq = id ? p.be64() : std::nullopt;
  if (!seq || !p.done()) return std::nullopt;
  return case_sequence{std::string(*id), *seq};
}

std::string revisit_tally::encode() const {
  return key_builder()
      .literal("revisit/")
      .field(std::to_string(partition), '/')
      .field(center, '/')
      .literal(month)
      .str();
}

std::optional<revisit_tally> revisit_tally::decode(std::string_view key) {
  key_parser p(key);
  if (!p.literal("revisit/")) return std::nullopt;
  const auto partition = p.field('/');
  const auto center = partition ? p.field('/') : std::nullopt;
  if (!center) return std::nullopt;
  const auto n = parse_decimal<std::int32_t>(*partition);
  if (!n) return std::nullopt;
  return revisit_tally{*n, std::string(*center), std::string(p.rest())};
}

std::string case_counter::encode() const {
  return key_builder().field(center_and_day).be32(static_cast<std::uint32_t>(partition)).str();
}

std::optional<case_counter> case_counter::decode(std::string_view key) {
  key_parser p(key);
  const auto center_and_day = p.field();
  const auto partition = center_and_day ? p.be32() : std::nullopt;
  if (!partition || !p.done()) return std::nullopt;
  return case_counter{std::string(*center_and_day), static_cast<std::int32_t>(*partition)};
}

std::string partition_owner::encode() const { return partition_key(prefix, partition); }

std::optional<partition_owner> partition_owner::decode(std::string_view key) {
  const auto partition = parse_partition_key(key, prefix);
  if (!partition) return std::nullopt;
  return partition_owner{*partition};
}

std::string idempotency::encode() const { return key_builder().field(token_id).literal(key).str(); }

std::optional<idempotency> idempotency::decode(std::string_view key) {
  key_parser p(key);
  const auto token = p.field();
  if (!token) return std::nullopt;
  return idempotency{std::string(*token), std::string(p.rest())};
}

namespace {

std::string scope_key(const core::scope& sc, std::string_view center_tag,
                      std::string_view unit_tag) {
  switch (sc.kind) {
    case core::scope_kind::all:
    case core::scope_kind::province:
      return "*";
    case core::scope_kind::center:
      return std::string(center_tag) + sc.center();
    case core::scope_kind::unit:
      return std::string(unit_tag) + sc.unit();
    case core::scope_kind::none:
      break;
  }
  return {};
}

}  // namespace

std::string list_scope(const core::scope& sc) { return scope_key(sc, "c", "u"); }
std::string worklist_scope(const core::scope& sc) { return scope_key(sc, "c:", "u:"); }

std::string case_index::prefix(std::string_view scope) { return key_builder().field(scope).str(); }

std::string case_index::from_day(std::string_view scope, civil_date day) {
  return key_builder().field(scope).literal(compact_day(day)).str();
}

std::string case_index::encode() const {
  return key_builder().field(scope).field(compact_day(received_on)).literal(case_id).str();
}

std::optional<case_index> case_index::decode(std::string_view key) {
  key_parser p(key);
  const auto scope = p.field();
  const auto day = scope ? p.field() : std::nullopt;
  const auto received_on = day ? parse_compact_day(*day) : std::nullopt;
  if (!received_on) return std::nullopt;
  return case_index{std::string(*scope), *received_on, std::string(p.rest())};
}

std::string registry::unit(std::string_view unit_id) {
  return key_builder().literal(unit_prefix).literal(unit_id).str();
}

std::string registry::year(int year) {
  return key_builder().literal(year_prefix).literal(std::to_string(year)).str();
}

std::string access::encode() const {
  return key_builder()
      .be64(static_cast<std::uint64_t>(at_ms))
      .be64(sequence)
      .field(token_id)
      .literal(correlation_id)
      .str();
}

std::optional<access> access::decode(std::string_view key) {
  key_parser p(key);
  const auto at = p.be64();
  const auto seq = at ? p.be64() : std::nullopt;
  const auto token = seq ? p.field() : std::nullopt;
  if (!token) return std::nullopt;
  return access{static_cast<std::int64_t>(*at), *seq, std::string(*token), std::string(p.rest())};
}

std::string queue::prefix(std::string_view queue_name, std::string_view scope) {
  return key_builder().field(queue_name).field(scope).str();
}

std::string queue::encode() const {
  return key_builder()
      .field(queue_name)
      .field(scope)
      .literal(major_urgent ? "0" : "1")
      .field(due.to_string())
      .literal(case_id)
      .str();
}

std::optional<queue> queue::decode(std::string_view key) {
  key_parser p(key);
  const auto name = p.field();
  const auto scope = name ? p.field() : std::nullopt;
  if (!scope) return std::nullopt;
  const bool urgent = p.literal("0");
  if (!urgent && !p.literal("1")) return std::nullopt;
  const auto due = parse_day(p.field());
  if (!due) return std::nullopt;
  return queue{std::string(*name), std::string(*scope), urgent, *due, std::string(p.rest())};
}

std::string remind::encode() const {
  return key_builder().field(due.to_string()).field(kind).literal(case_id).str();
}

std::optional<remind> remind::decode(std::string_view key) {
  key_parser p(key);
  const auto due = parse_day(p.field());
  const auto kind = due ? p.field() : std::nullopt;
  if (!kind) return std::nullopt;
  return remind{*due, std::string(*kind), std::string(p.rest())};
}

std::string deadline::prefix(std::string_view scope) { return key_builder().field(scope).str(); }

std::string deadline::encode() const { return prefix(scope) + remind{due, kind, case_id}.encode(); }

std::optional<deadline> deadline::decode(std::string_view key) {
  key_parser p(key);
  const auto scope = p.field();
  const auto rest = scope ? remind::decode(p.rest()) : std::nullopt;
  if (!rest) return std::nullopt;
  return deadline{std::string(*scope), rest->due, rest->kind, rest->case_id};
}

// --- report_counters ------------------------------------------------------------------------

namespace {

std::string period_text(report_span span, civil_date on) {
  return span == report_span::month ? fmt::format("{:04}-{:02}", on.year, on.month)
                                    : on.to_string();
}

std::optional<civil_date> parse_period(report_span span, std::string_view text) {
  if (span == report_span::day) return civil_date::parse(text);
  if (text.size() != 7) return std::nullopt;
  return civil_date::parse(std::string(text) + "-01");
}

// The tag of a key of `kind` ("m/" or "d/", ...), its span and its period.
struct period_head {
  report_span span;
  civil_date on;
};

std::optional<period_head> parse_head(key_parser& p, counter_kind kind) {
  for (const auto span : {report_span::month, report_span::day}) {
    if (!p.literal(report_tag(kind, span))) continue;
    const auto text = p.field('/');
    const auto on = text ? parse_period(span, *text) : std::nullopt;
    if (!on) return std::nullopt;
    return period_head{span, *on};
  }
  return std::nullopt;
}

key_builder head(counter_kind kind, report_span span, civil_date on) {
  key_builder b;
  b.literal(report_tag(kind, span)).field(period_text(span, on), '/');
  return b;
}

}  // namespace

std::string_view report_tag(counter_kind kind, report_span span) {
  const bool month = span == report_span::month;
  switch (kind) {
    case counter_kind::figure:
      return month ? "m/" : "d/";
    case counter_kind::unit_figure:
      return month ? "um/" : "ud/";
    case counter_kind::topic:
      return month ? "tm/" : "td/";
  }
  return {};
}

std::string report_period(counter_kind kind, report_span span, civil_date on) {
  return std::move(head(kind, span, on)).str();
}

std::string report_figure::encode() const {
  return head(counter_kind::figure, span, on)
      .field(center, '/')
      .field(domain, '/')
      .field(category, '/')
      .str();
}

std::optional<report_figure> report_figure::decode(std::string_view key) {
  key_parser p(key);
  const auto h = parse_head(p, counter_kind::figure);
  const auto center = h ? p.field('/') : std::nullopt;
  const auto domain = center ? p.field('/') : std::nullopt;
  const auto category = domain ? p.field('/') : std::nullopt;
  if (!category || !p.rest().empty()) return std::nullopt;
  return report_figure{h->span, h->on, std::string(*center), std::string(*domain),
                       std::string(*category)};
}

std::string report_unit_figure::encode() const {
  return head(counter_kind::unit_figure, span, on).field(center, '/').field(unit, '/').str();
}

std::optional<report_unit_figure> report_unit_figure::decode(std::string_view key) {
  key_parser p(key);
  const auto h = parse_head(p, counter_kind::unit_figure);
  const auto center = h ? p.field('/') : std::nullopt;
  if (!center) return std::nullopt;
  // The unit runs to the key's last '/', which ends it.
  const std::string_view rest = p.rest();
  if (rest.size() < 2 || rest.back() != '/') return std::nullopt;
  return report_unit_figure{h->span, h->on, std::string(*center),
                            std::string(rest.substr(0, rest.size() - 1))};
}

std::string report_topic::encode() const {
  return head(counter_kind::topic, span, on).field(center, '/').literal(topic).str();
}

std::optional<report_topic> report_topic::decode(std::string_view key) {
  key_parser p(key);
  const auto h = parse_head(p, counter_kind::topic);
  const auto center = h ? p.field('/') : std::nullopt;
  if (!center) return std::nullopt;
  return report_topic{h->span, h->on, std::string(*center), std::string(p.rest())};
}

std::string report_urgent::prefix(civil_date day) {
  return key_builder().literal(tag).field(day.to_string(), '/').str();
}

std::string report_urgent::encode() const {
  return key_builder()
      .literal(tag)
      .field(flagged_on.to_string(), '/')
      .field(center, '/')
      .literal(case_id)
      .str();
}

std::optional<report_urgent> report_urgent::decode(std::string_view key) {
  key_parser p(key);
  if (!p.literal(tag)) return std::nullopt;
  const auto on = parse_day(p.field('/'));
  const auto center = on ? p.field('/') : std::nullopt;
  if (!center) return std::nullopt;
  return report_urgent{*on, std::string(*center), std::string(p.rest())};
}

std::string report_overdue::from_day(civil_date day) {
  return key_builder().literal(tag).field(day.to_string(), '/').str();
}

std::string report_overdue::encode() const {
  return key_builder()
      .literal(tag)
      .field(reported_on.to_string(), '/')
      .field(center, '/')
      .field(unit, '/')
      .field(case_id, '/')
      .literal(due.to_string())
      .str();
}

std::optional<report_overdue> report_overdue::decode(std::string_view key) {
  key_parser p(key);
  if (!p.literal(tag)) return std::nullopt;
  const auto reported_on = parse_day(p.field('/'));
  const auto center = reported_on ? p.field('/') : std::nullopt;
  const auto unit = center ? p.field('/') : std::nullopt;
  const auto case_id = unit ? p.field('/') : std::nullopt;
  const auto due = case_id ? civil_date::parse(p.rest()) : std::nullopt;
  if (!due) return std::nullopt;
  return report_overdue{*reported_on, std::string(*center), std::string(*unit),
                        std::string(*case_id), *due};
}

}  // namespace caseline::projections::keys
