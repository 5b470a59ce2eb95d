#include "gateway/query.h"

#include <algorithm>
#include <charconv>

#include "core/errc.h"
#include "gateway/json_input.h"

namespace caseline::gateway {

namespace {

error bad(std::string field, std::string_view reason) {
  return make_field_error(core::errc::invalid_argument, std::move(field), reason);
}

// A whole decimal number, or none.
template <class T>
std::optional<T> decimal(std::string_view text) {
  T n{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<center_code> center_of(std::string_view center) {
  if (center.empty() || center == "province") return std::nullopt;
  return center_code{std::string(center)};
}

}  // namespace

result<void> known_params(const http_request& req, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : req.query)
    if (std::find(known.begin(), known.end(), name) == known.end())
      return field_error(name, "unknown query parameter");
  return success();
}

std::string param(const http_request& req, std::string_view name) {
  const auto v = req.query_param(name);
  return v ? std::string(*v) : std::string();
}

result<std::size_t> parse_limit(std::string_view text, std::size_t fallback, std::size_t max) {
  if (text.empty()) return fallback;
  const auto n = decimal<std::size_t>(text);
  if (!n || *n < 1 || *n > max) return bad("limit", "from 1 to " + std::to_string(max));
  return *n;
}

result<projections::queue_kind> parse_queue(std::string_view text) {
  if (const auto q = projections::parse_queue_kind(text)) return *q;
  std::string names;
  for (const auto q : projections::all_queues)
    names += (names.empty() ? "" : ", ") + std::string(projections::to_string(q));
  return bad("queue", "one of " + names);
}

result<working_days> parse_within(std::string_view text) {
  if (text.empty()) return working_days{2};
  const auto n = decimal<int>(text);
  if (!n || *n < 0 || *n > 60) return bad("within", "a number of working days from 0 to 60");
  return working_days{*n};
}

result<projections::report_request> parse_monthly(std::string_view month, std::string_view center) {
  const auto d = civil_date::parse(std::string(month) + "-01");
  if (month.size() != 7 || !d) return bad("month", "YYYY-MM");
  return projections::monthly_request(d->year, d->month, center_of(center));
}

result<projections::report_request> parse_annual(std::string_view year, std::string_view center) {
  const auto d = civil_date::parse(std::string(year) + "-01-01");
  if (year.size() != 4 || !d) return bad("year", "YYYY");
  return projections::annual_request(d->year, center_of(center));
}

result<projections::report_request> parse_period(std::string_view from, std::string_view to,
                                                 std::string_view center) {
  const auto f = civil_date::parse(from);
  if (!f) return bad("from", "YYYY-MM-DD");
  const auto t = civil_date::parse(to);
  if (!t) return bad("to", "YYYY-MM-DD");
  if (*t < *f) return bad("to", "not before from");
  if (t->days_since_epoch() - f->days_since_epoch() > 366)
    return bad("to", "a period of at most a year");
  return projections::period_request({*f, *t}, center_of(center));
}

result<projections::report_request> parse_urgent(std::string_view day, std::string_view center) {
  const auto d = civil_date::parse(day);
  if (!d) return bad("day", "YYYY-MM-DD");
  return projections::urgent_request(*d, center_of(center));
}

result<projections::overdue_query> parse_overdue(std::string_view from, std::string_view to,
                                                 std::string_view center, std::string_view unit,
                                                 std::string_view cursor, std::string_view limit) {
  auto p = parse_period(from, to, center);
  if (!p) return p.error();
  auto n = parse_limit(limit, 100, 500);
  if (!n) return n.error();
  projections::overdue_query q;
  q.p = p.value().current;
  q.center = p.value().center;
  if (!unit.empty()) q.unit = unit_id{std::string(unit)};
  q.cursor = std::string(cursor);
  q.limit = n.value();
  return q;
}

}  // namespace caseline::gateway
