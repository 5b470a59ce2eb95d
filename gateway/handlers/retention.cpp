// The retention audit (Art. 38): auditors and the provincial center's supervisors.

#include "gateway/detail/api_impl.h"

#include <boost/json/object.hpp>

#include "gateway/json_input.h"
#include "gateway/query.h"
#include "gateway/read_model_json.h"
#include "projections/retention.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

// Art. 38: auditors, and the provincial center's supervisors.
void api::impl::retention_audit(const scope_ptr& sc, answerer done) {
  const auto& q = sc->req;
  if (auto k = known_params(q, {"as_of", "format"}); !k) return done.fail(k.error());
  if (!reaches(*sc->who, operation::retention_audit))
    return done.fail(
        make_error(errc::forbidden,
                   "the retention audit is for auditors and the provincial center's supervisors"));
  civil_date as_of = shanghai_date(s_.clock.now());
  if (const auto a = param(q, "as_of"); !a.empty()) {
    const auto d = civil_date::parse(a);
    if (!d) return done.fail(field_error("as_of", "must be YYYY-MM-DD"));
    as_of = *d;
  }
  const auto format = param(q, "format");
  if (!format.empty() && format != "json" && format != "text")
    return done.fail(field_error("format", "json or text"));
  if (auto w = await_all_writes(*sc); !w) return done.fail(w.error());
  auto audit = projections::audit_retention(s_.store, s_.retention, as_of, &s_.blobs, &s_.keys);
  if (!audit) return done.fail(audit.error());
  if (format == "text") {
    http_response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = projections::retention_audit_text(audit.value());
    return done(std::move(r));
  }
  done(json_response(200, retention_audit_json(audit.value())));
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
