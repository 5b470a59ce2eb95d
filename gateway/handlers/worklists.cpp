// Work queues and deadline lists (Art. 38-41), in the scope the caller may see.

#include "gateway/detail/api_impl.h"

#include "gateway/command_json.h"
#include "gateway/json_input.h"
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
    return done(error_response(k.error(), q.path));
  auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
  if (!scope) return done(error_response(scope.error(), q.path));
  if (scope.value().unbounded())
    return done(error_response(field_error("center",
                                           "a queue belongs to a center or a unit: "
                                           "name one"),
                               q.path));
  answer_projection(sc, done, [&] {
    return projections::queue_json(s_.store, sc->match.params.at("queue"), scope.value(),
                                   param(q, "cursor"), param(q, "limit"),
                                   shanghai_date(s_.clock.now()));
  });
}

void api::impl::sla_overdue(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  if (auto k = known_params(q, {"center", "unit"}); !k)
    return done(error_response(k.error(), q.path));
  auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
  if (!scope) return done(error_response(scope.error(), q.path));
  answer_projection(sc, done, [&] {
    return projections::sla_overdue_json(s_.store, *current_calendar(), s_.clock.now(),
                                         scope.value());
  });
}

void api::impl::sla_due_soon(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  if (auto k = known_params(q, {"within", "center", "unit"}); !k)
    return done(error_response(k.error(), q.path));
  auto scope = worklist_scope(*sc->who, param(q, "center"), param(q, "unit"));
  if (!scope) return done(error_response(scope.error(), q.path));
  answer_projection(sc, done, [&] {
    return projections::sla_due_soon_json(s_.store, *current_calendar(), s_.clock.now(),
                                          param(q, "within"), scope.value());
  });
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
