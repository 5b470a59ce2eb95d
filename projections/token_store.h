#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "projections/store.h"

namespace caseline::projections {

// What a bearer token stands for. The role is the gateway's role name ("agent", "unit",
// "admin", ...): the store keeps it as text and the gateway interprets it.
struct token_info {
  std::string id;      // public id of the token (first 12 hex digits of its hash): logs, audit
  std::string role;
  std::string center;  // GB/T 2260 code of the holder's center
  std::string unit;    // for a handling unit's token; empty otherwise
  timestamp created_at;
  std::optional<timestamp> expires_at{};  // from then on the token answers 401; none: never
};

// Whether the token no longer authenticates at `now`.
bool expired(const token_info& t, timestamp now);

struct created_token {
  std::string secret;  // "clt_<64 hex>": shown once, never stored
  token_info info;
};

// Bearer tokens in the `tokens` family, stored only as the SHA-256 of the secret. Tokens are
// credentials, not case events: they are not in the log and a rebuild keeps them. Every lookup
// reads the store, so a revocation (the row deleted) or an expiry holds from the next request.
// Thread-safe (RocksDB is); holds a reference to the store, which must outlive it.
class token_store {
 public:
  explicit token_store(store& s) : store_(s) {}

  // Creates a token with fresh random bytes (OpenSSL RAND_bytes) and stores its hash (synced).
  result<created_token> create(std::string role, std::string center, std::string unit,
                               timestamp now, std::optional<timestamp> expires_at = {});
  // The token a secret stands for; nullopt when unknown (or revoked). Expiry is the caller's
  // check (expired()), against its own clock.
  result<std::optional<token_info>> find(std::string_view secret) const;
  // Every stored token, in id order; secrets are never stored, so never listed.
  result<std::vector<token_info>> list() const;
  // Deletes the token with this public id (synced); false when there is none.
  result<bool> revoke(std::string_view id);

 private:
  store& store_;
};

}  // namespace caseline::projections
