// Work queues and deadline lists (Art. 38-41), in the scope the caller may see.

#include "gateway/detail/api_impl.h"

#include "gateway/command_json.h"
#include "gateway/json_input.h"
#include "gateway/query.h"
#include "gateway/read_model_json.h"
#include "projections/queues.h"
#include "projections/sla_index.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

// The scope of a queue or deadline list: non-provincial center staff see their own center
// (and the units registered with it), a unit token its own unit; the provincial center's staff
// and auditors what they name. Asking for another's is 403 (the names are not secret).
result<core::scope> api::impl::worklist_scope(const principal& p, const std::string& center,
                                              const std::string& unit) {
  if (!center.empty() && !is_center_code(center))
    return field_error("center", "must be a 6-digit GB/T 2260 code");
  if (!unit.empty() && !valid_token_text(unit, 64)) return field_error("unit", "not a unit id");
  return read_scope(p, operation::read_worklists, center, unit, *s_.registry.snapshot());
}

void api::impl::get_queue(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  if (auto k = known_params(q, {"center", "unit", "cursor", "limit"}); !k)
    return done.fail(k.error());
  auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
  if (!scope) return done.fail(scope.error());
  if (scope.value().unbounded())
    return done.fail(field_error("center",
                                 "a queue belongs to a center or a unit: "
                                 "name one"));
  auto queue = parse_queue(sc->match.params.at("queue"));
  if (!queue) return done.fail(queue.error());
  auto limit = parse_limit(param(q, "limit"), 50, 500);
  if (!limit) return done.fail(limit.error());
  const projections::queue_query query{queue.value(), scope.value(), param(q, "cursor"),
                                       limit.value()};
  answer_projection_text(*sc, done, [&]() -> result<std::string> {
    auto page = projections::queue_reader(s_.store).page(query);
    if (!page) return page.error();
    return queue_page_json(query, page.value(), shanghai_date(s_.clock.now()));
  });
}

void api::impl::sla_overdue(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  if (auto k = known_params(q, {"center", "unit", "cursor", "limit"}); !k)
    return done.fail(k.error());
  auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
  if (!scope) return done.fail(scope.error());
  auto limit = parse_limit(param(q, "limit"), 50, 500);
  if (!limit) return done.fail(limit.error());
  answer_projection_text(*sc, done, [&]() -> result<std::string> {
    const civil_date today = shanghai_date(s_.clock.now());
    auto rows = projections::sla_reader(s_.store, *current_calendar())
                    .overdue(scope.value(), today, param(q, "cursor"), limit.value());
    if (!rows) return rows.error();
    return deadlines_json(today, std::nullopt, scope.value(), rows.value());
  });
}

void api::impl::sla_due_soon(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  if (auto k = known_params(q, {"within", "center", "unit", "cursor", "limit"}); !k)
    return done.fail(k.error());
  auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
  if (!scope) return done.fail(scope.error());
  auto within = parse_within(param(q, "within"));
  if (!within) return done.fail(within.error());
  auto limit = parse_limit(param(q, "limit"), 50, 500);
  if (!limit) return done.fail(limit.error());
  answer_projection_text(*sc, done, [&]() -> result<std::string> {
    const civil_date today = shanghai_date(s_.clock.now());
    auto rows =
        projections::sla_reader(s_.store, *current_calendar())
            .due_soon(scope.value(), today, within.value(), param(q, "cursor"), limit.value());
    if (!rows) return rows.error();
    return deadlines_json(today, within.value(), scope.value(), rows.value());
  });
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
