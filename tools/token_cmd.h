#pragma once

#include <iosfwd>
#include <string>

#include "core/result.h"
#include "projections/token_store.h"
#include "tools/serve.h"

namespace caseline::core {
class registry;
}
namespace caseline::projections {
class store;
}

namespace caseline::tools {

struct token_request {
  std::string role;    // gateway role name: agent, shift_lead, quality_inspector, analyst,
                       // revisit_officer, supervisor, unit, auditor, admin
  std::string center;  // GB/T 2260 code of a Henan center (410000: the provincial center)
  std::string unit;    // required for role "unit", refused otherwise
};

// Checks a request: a known role and center; a unit exactly for role "unit", registered with
// that center in `reg` (gateway::check_token_scope).
result<void> check_token_request(const token_request& r, const core::registry& reg);

// Creates a token in an open store, checked against the registry `reg` (a running server_stack
// passes its registry projection's snapshot).
result<projections::created_token> create_token(projections::store& s, const core::registry& reg,
                                                const token_request& r);

// Creates a token in the store under options.data_dir, checked against the registry of units as
// that store has applied it (every PUT /v1/units answered before it is). The store must not be open in another
// process (RocksDB locks it): run it before `caseline serve` starts, or use
// server_stack::create_token on a running stack. On Kafka, the same --kafka/--topic flags are
// accepted; tokens live in the local store either way.
result<projections::created_token> create_token(const store_options& options,
                                                const token_request& r);

// `caseline token create`: prints the secret once (stdout, one line) and the token id (stderr).
int run_token_create(const store_options& options, const token_request& r, std::ostream& out,
                     std::ostream& err);

}  // namespace caseline::tools
