// Admin: the manual clock (`serve --clock manual`) and bearer tokens, created, listed and revoked
// while the server runs. Tokens are issued and revoked through the log (the stream "tokens"), so
// every instance that reads it honours them.

#include "gateway/detail/api_impl.h"

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "gateway/command_json.h"
#include "gateway/read_model_json.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

void api::impl::get_clock(const scope_ptr&, answerer done) {
  done(json_response(200, {{"now", to_rfc3339_shanghai(s_.manual_clock->now())}}));
}

void api::impl::set_clock(const scope_ptr& sc, answerer done) {
  if (auto r = require_json(sc->req); !r) return done.fail(r.error());
  auto t = parse_clock(sc->req.body);
  if (!t) return done.fail(t.error());
  s_.manual_clock->set(t.value());
  // Deadlines the move passed are reminded now, not at the reminder task's next interval.
  if (s_.clock_moved) s_.clock_moved();
  done(json_response(200, {{"now", to_rfc3339_shanghai(s_.manual_clock->now())}}));
}

namespace {
// The admin who issues or revokes a token, as the token event names them.
events::actor admin_actor(const principal& who) {
  const auto a = to_actor(who);
  return events::actor{a.id(), std::string(to_string(who.role)), a.center(), a.unit()};
}
}  // namespace

void api::impl::create_token(const scope_ptr& sc, answerer done) {
  if (auto r = require_json(sc->req); !r) return done.fail(r.error());
  auto order = parse_token_order(sc->req.body, s_.clock.now());
  if (!order) return done.fail(order.error());
  if (!s_.create_token) return done(error_response(make_error(errc::internal)));
  auto created = s_.create_token(order.value(), admin_actor(*sc->who), sc->correlation_id);
  if (!created) return done.fail(created.error());
  // The secret is in this answer only; the log line names the token id, never the secret.
  spdlog::info(R"({{"event":"token_created","id":"{}","role":"{}","by":"{}"}})",
               created.value().info.id, created.value().info.role, sc->who->token_id);
  auto resp = json_response(201, created_token_json(created.value()));
  resp.headers.emplace_back("Cache-Control", "no-store");
  if (created.value().position) with_position(resp, *created.value().position);
  done(std::move(resp));
}

void api::impl::list_tokens(const scope_ptr&, answerer done) {
  auto all = tokens_.list();
  if (!all) return done.fail(all.error());
  done(json_response(200, token_list_json(all.value(), s_.clock.now())));
}

void api::impl::revoke_token(const scope_ptr& sc, answerer done) {
  const auto& id = sc->match.params.at("id");
  auto revoked = tokens_.revoke(id, admin_actor(*sc->who), sc->correlation_id);
  if (!revoked) return done.fail(revoked.error());
  if (!revoked.value())
    return done(problem_response({404, "not-found", "Not found", "no token with this id", "", ""}));
  spdlog::info(R"({{"event":"token_revoked","id":"{}","by":"{}"}})", id, sc->who->token_id);
  http_response r{204, "", "", {}};
  with_position(r, *revoked.value());
  done(std::move(r));
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
