#pragma once

#include <iosfwd>
#include <string>

#include "core/result.h"
#include "projections/token_store.h"
#include "tools/serve.h"

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

// Checks a request (known role and center; a unit exactly for role "unit").
result<void> check_token_request(const token_request& r);

// Creates a token in an open store (a running server_stack uses this).
result<projections::created_token> create_token(projections::store& s, const token_request& r);

// Creates a token in the store under options.data_dir. The store must not be open in another
// process (RocksDB locks it): run it before `caseline serve` starts, or use
// server_stack::create_token on a running stack. On Kafka, the same --kafka/--topic flags are
// accepted; tokens live in the local store either way.
result<projections::created_token> create_token(const store_options& options,
                                                const token_request& r);

// `caseline token create`: prints the secret once (stdout, one line) and the token id (stderr).
int run_token_create(const store_options& options, const token_request& r, std::ostream& out,
                     std::ostream& err);

}  // namespace caseline::tools
