#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "projections/store.h"

namespace caseline::projections {

// The first answer given to a request that carried an Idempotency-Key.
struct stored_answer {
  std::string request_hash;  // SHA-256 (hex) of method, path and body: a retry must match it
  int status{0};
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // ETag, Location
};

// Idempotency keys in the `idempotency` family, scoped by the token that used them, so that two
// clients never share a key. Written with a synced WAL: a key survives restarts and crashes.
// Keys are not log events: a rebuild of the projections keeps them.
// Thread-safe; holds a reference to the store, which must outlive it.
class idempotency_store {
 public:
  explicit idempotency_store(store& s) : store_(s) {}

  result<std::optional<stored_answer>> find(std::string_view token_id, std::string_view key) const;
  result<void> put(std::string_view token_id, std::string_view key, const stored_answer& a);

 private:
  store& store_;
};

}  // namespace caseline::projections
