#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "projections/token_store.h"
#include "tools/admin_client.h"
#include "tools/local_admin.h"
#include "tools/serve.h"

namespace caseline::core {
class registry;
}
namespace caseline::projections {
class store;
class token_writer;
}  // namespace caseline::projections

namespace caseline::tools {

struct token_request {
  std::string role;    // gateway role name: agent, shift_lead, quality_inspector, analyst,
                       // revisit_officer, supervisor, unit, auditor, admin, unit_head
  std::string center;  // GB/T 2260 code of a Henan center (410000: the provincial center)
  std::string unit;    // required for roles "unit" and "unit_head", refused otherwise
  std::optional<timestamp> expires_at{};  // none: never expires (revoke it instead)
};

// --expires: an RFC 3339 date-time, or a duration from now ("90m", "12h", "30d").
result<timestamp> parse_expires(std::string_view text, timestamp now);

// Checks a request: a known role and center; a unit exactly for roles "unit" and "unit_head"
// (the unit's head, Art. 34), registered with
// that center in `reg` (gateway::check_token_scope).
result<void> check_token_request(const token_request& r, const core::registry& reg);

// Issues a token through the log (the writer of a running stack), checked against the registry
// `reg` (the stack's registry projection's snapshot), by `by`.
result<projections::created_token> create_token(projections::token_writer& w,
                                                const core::registry& reg, const token_request& r,
                                                const events::actor& by,
                                                const std::string& correlation_id = {});

// Issues a token through the log of the stopped server under options.data_dir: the embedded log
// there, or the Kafka topic of --kafka/--topic. Checked against the registry of units as the log
// holds it (every PUT /v1/units answered before it is). The store must not be open in another
// process (RocksDB locks it): run it before `caseline serve` starts, or use the API
// (POST /v1/admin/tokens) or server_stack::create_token on a running stack. Every instance that
// reads the log honours the token.
result<projections::created_token> create_token(const store_options& options,
                                                const token_request& r);

// `caseline token create|list|revoke`. With an admin target (--url, --token) through the running
// server (POST, GET /v1/admin/tokens, DELETE /v1/admin/tokens/{id}); without one, through the
// log of the stopped server under options.data_dir (its store must not be open in another
// process): create and revoke append to the log, list reads the store caught up with it. create
// prints the secret once (stdout, one line) and the token id (stderr); list prints one JSON object.
struct token_admin {
  std::string url;    // empty: the store directly
  std::string token;  // an admin token, for --url
};
int run_token_create(const store_options& options, const token_admin& via, const token_request& r,
                     std::ostream& out, std::ostream& err);
int run_token_list(const store_options& options, const token_admin& via, std::ostream& out,
                   std::ostream& err);
int run_token_revoke(const store_options& options, const token_admin& via, const std::string& id,
                     std::ostream& out, std::ostream& err);

// The local admin socket's requests (tools/local_admin.h) on a running server, by the machine's
// operator `peer`: POST /v1/admin/tokens (the API's body and checks), GET /v1/admin/tokens and
// DELETE /v1/admin/tokens/{id}, answered with the API's status and body. The token events name
// the actor "local-admin:uid=<uid>". In a group, a write on a server that does not write the
// tokens' partition is a 409 naming the server that does (503 while none is known).
admin_answer local_admin_answer(server_stack& stack, const local_request& r,
                                const local_peer& peer);

// At the very first start (the log's tokens stream holds no event once caught up, and this store
// never handed one out): an admin token for the provincial center that expires after
// `valid_for`, issued through the log, so the first operator can create the others through the
// API without stopping the server. nullopt on any later start. On a group member that does not
// own the tokens stream's partition, an error (not_owner): server_stack::issue_bootstrap_token
// calls it on the owner.
result<std::optional<projections::created_token>> bootstrap_admin_token(
    projections::store& s, projections::token_writer& w, timestamp now,
    std::chrono::hours valid_for);

}  // namespace caseline::tools
