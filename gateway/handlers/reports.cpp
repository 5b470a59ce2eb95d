// Reports: monthly, annual, period, urgent, overdue (Art. 35) and the assessment (Art. 45).

#include "gateway/detail/api_impl.h"

#include "gateway/command_json.h"
#include "gateway/json_input.h"
#include "gateway/query.h"
#include "gateway/read_model_json.h"
#include "projections/reports.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

// The center a report is about: "" is province-wide. Non-provincial staff get their own
// center's only.
result<std::string> api::impl::report_center(const principal& p, const std::string& center) {
  if (!center.empty() && !is_center_code(center))
    return field_error("center", "must be a 6-digit GB/T 2260 code");
  auto sc = read_scope(p, operation::read_reports, center, "", *s_.registry.snapshot());
  if (!sc) return sc.error();
  const auto named = sc.value().named_center();
  return named ? (*named)() : std::string();
}

// The report routes share their checks: known parameters, then the caller's center.
void api::impl::report(const scope_ptr& sc, const answerer& done,
                       std::initializer_list<std::string_view> params,
                       const std::function<result<json::object>(const core::registry&,
                                                                const std::string& center)>& read) {
  const auto& q = sc->req;
  if (auto k = known_params(q, params); !k) return done.fail(k.error());
  auto center = report_center(*sc->who, param(q, "center"));
  if (!center) return done.fail(center.error());
  const auto reg = s_.registry.snapshot();
  answer_projection(*sc, done, [&] { return read(*reg, center.value()); });
}

// A statutory report as JSON, from its parsed request.
result<json::object> api::impl::report_body(const core::registry& reg,
                                            result<projections::report_request> req) {
  if (!req) return req.error();
  auto r = projections::build_report(projections::report_reader(s_.store), reg, req.value());
  if (!r) return r.error();
  return report_json(r.value());
}

void api::impl::report_monthly(const scope_ptr& sc, answerer done) {
  report(sc, done, {"center"}, [&](const core::registry& reg, const std::string& center) {
    auto req = parse_monthly(sc->match.params.at("month"), center);
    if (req) req.value().weights = assessment_weights_;  // the Art. 45 score's
    return report_body(reg, std::move(req));
  });
}

void api::impl::report_annual(const scope_ptr& sc, answerer done) {
  report(sc, done, {"center"}, [&](const core::registry& reg, const std::string& center) {
    return report_body(reg, parse_annual(sc->match.params.at("year"), center));
  });
}

void api::impl::report_period(const scope_ptr& sc, answerer done) {
  report(sc, done, {"from", "to", "center"},
         [&](const core::registry& reg, const std::string& center) {
           return report_body(reg,
                              parse_period(param(sc->req, "from"), param(sc->req, "to"), center));
         });
}

void api::impl::report_urgent(const scope_ptr& sc, answerer done) {
  report(sc, done, {"center"}, [&](const core::registry& reg, const std::string& center) {
    return report_body(reg, parse_urgent(sc->match.params.at("day"), center));
  });
}

// Art. 35: the matters reported to the department as overdue, for the department.
void api::impl::report_overdue(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  const std::string unit = param(q, "unit");
  if (!unit.empty() && !valid_token_text(unit, 64))
    return done.fail(field_error("unit", "not a unit id"));
  report(sc, done, {"from", "to", "center", "unit", "cursor", "limit"},
         [&](const core::registry& reg, const std::string& center) -> result<json::object> {
           auto query = parse_overdue(param(q, "from"), param(q, "to"), center, unit,
                                      param(q, "cursor"), param(q, "limit"));
           if (!query) return query.error();
           auto page =
               projections::list_overdue(projections::report_reader(s_.store), reg, query.value());
           if (!page) return page.error();
           return overdue_page_json(query.value(), page.value(), reg);
         });
}

// Art. 45: the provincial center assesses every city/county center; others do not see it.
void api::impl::report_assessment(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  if (auto k = known_params(q, {}); !k) return done.fail(k.error());
  if (!reaches(*sc->who, operation::read_assessment))
    return done.fail(
        make_error(errc::forbidden, "the assessment (Art. 45) is the provincial center's"));
  const auto reg = s_.registry.snapshot();
  const std::string& month = sc->match.params.at("month");
  answer_projection(*sc, done, [&]() -> result<json::object> {
    auto req = parse_monthly(month, "");
    if (!req) return req.error();
    const civil_date first = req.value().current.from;
    auto rows = projections::build_assessment(projections::report_reader(s_.store), *reg,
                                              first.year, first.month, assessment_weights_);
    if (!rows) return rows.error();
    return assessment_json(month, rows.value(), assessment_weights_);
  });
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
