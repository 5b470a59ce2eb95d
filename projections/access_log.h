#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "projections/store.h"

namespace caseline::projections {

// One read of a case's personal data (caller name, phone, content) by a token.
struct access_entry {
  timestamp at;
  std::string token_id;
  std::string role;
  std::string case_id;
  std::string route;           // "/v1/cases/{id}", ...
  std::string correlation_id;
};

// The record of who read which case's personal data, in the `access_log` family, ordered by
// time. Not a log event: it is about reads, and must not grow the case streams.
// Thread-safe; holds a reference to the store, which must outlive it.
class access_log {
 public:
  explicit access_log(store& s) : store_(s) {}

  result<void> record(const access_entry& e);
  // The entries about one case, oldest first (a scan: for audits, not for hot paths).
  result<std::vector<access_entry>> of_case(const std::string& case_id) const;

 private:
  store& store_;
};

}  // namespace caseline::projections
