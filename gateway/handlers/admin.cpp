// Admin: the manual clock (`serve --clock manual`) and bearer tokens, created, listed and revoked
// while the server runs.

#include "gateway/detail/api_impl.h"

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "gateway/command_json.h"
#include "gateway/json_input.h"

namespace caseline::gateway {

// Every handler has the dispatch table's signature (api_impl.h): it takes its responder by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

void api::impl::get_clock(const scope_ptr&, responder done) {
  done(json_response(200, {{"now", to_rfc3339_shanghai(s_.manual_clock->now())}}));
}

void api::impl::set_clock(const scope_ptr& sc, responder done) {
  if (auto r = require_json(sc->req); !r) return done(error_response(r.error(), sc->req.path));
  auto t = parse_clock(sc->req.body);
  if (!t) return done(error_response(t.error(), sc->req.path));
  s_.manual_clock->set(t.value());
  done(json_response(200, {{"now", to_rfc3339_shanghai(s_.manual_clock->now())}}));
}

json::object api::impl::token_json(const projections::token_info& t) {
  return {{"id", t.id},
          {"role", t.role},
          {"center", t.center},
          {"unit", t.unit.empty() ? json::value(nullptr) : json::value(t.unit)},
          {"created_at", to_rfc3339_shanghai(t.created_at)},
          {"expires",
           t.expires_at ? json::value(to_rfc3339_shanghai(*t.expires_at)) : json::value(nullptr)}};
}

void api::impl::create_token(const scope_ptr& sc, responder done) {
  if (auto r = require_json(sc->req); !r) return done(error_response(r.error(), sc->req.path));
  auto order = parse_token_order(sc->req.body);
  if (!order) return done(error_response(order.error(), sc->req.path));
  if (order.value().expires_at && order.value().expires_at->ms <= s_.clock.now().ms)
    return done(error_response(field_error("expires", "must be in the future"), sc->req.path));
  if (!s_.create_token) return done(error_response(make_error(errc::internal)));
  auto created = s_.create_token(order.value());
  if (!created) return done(error_response(created.error(), sc->req.path));
  // The secret is in this answer only; the log line names the token id, never the secret.
  spdlog::info(R"({{"event":"token_created","id":"{}","role":"{}","by":"{}"}})",
               created.value().info.id, created.value().info.role, sc->who->token_id);
  auto body = token_json(created.value().info);
  body["token"] = created.value().secret;
  auto resp = json_response(201, body);
  resp.headers.emplace_back("Cache-Control", "no-store");
  done(std::move(resp));
}

void api::impl::list_tokens(const scope_ptr& sc, responder done) {
  auto all = tokens_.list();
  if (!all) return done(error_response(all.error(), sc->req.path));
  const auto now = s_.clock.now();
  json::array items;
  for (const auto& t : all.value()) {
    auto o = token_json(t);
    o["expired"] = projections::expired(t, now);
    items.emplace_back(std::move(o));
  }
  done(json_response(200, {{"tokens", std::move(items)}}));
}

void api::impl::revoke_token(const scope_ptr& sc, responder done) {
  const auto& id = sc->match.params.at("id");
  auto revoked = tokens_.revoke(id);
  if (!revoked) return done(error_response(revoked.error(), sc->req.path));
  if (!revoked.value())
    return done(problem_response({404, "not-found", "Not found", "no token with this id", "", ""}));
  spdlog::info(R"({{"event":"token_revoked","id":"{}","by":"{}"}})", id, sc->who->token_id);
  done(http_response{204, "", "", {}});
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
