#pragma once

#include <optional>
#include <string>
#include <string_view>

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
};

struct created_token {
  std::string secret;  // "clt_<64 hex>": shown once, never stored
  token_info info;
};

// Bearer tokens in the `tokens` family, stored only as the SHA-256 of the secret. Tokens are
// credentials, not case events: they are not in the log and a rebuild keeps them.
// Thread-safe (RocksDB is); holds a reference to the store, which must outlive it.
class token_store {
 public:
  explicit token_store(store& s) : store_(s) {}

  // Creates a token with fresh random bytes (OpenSSL RAND_bytes) and stores its hash (synced).
  result<created_token> create(std::string role, std::string center, std::string unit,
                               timestamp now);
  // The token a secret stands for; nullopt when unknown.
  result<std::optional<token_info>> find(std::string_view secret) const;

 private:
  store& store_;
};

}  // namespace caseline::projections
