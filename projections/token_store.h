#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/registry.h"
#include "core/result.h"
#include "core/time.h"
#include "events/event_log.h"
#include "events/record.h"
#include "projections/clock.h"
#include "projections/projection.h"
#include "projections/reference_stream.h"
#include "projections/runner.h"
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
  std::optional<events::log_position> position{};  // of its token_issued event
};

// The bearer tokens as a projection of the token events of the log (core::token_issued,
// core::token_revoked, the stream "tokens"), so that a token issued through one instance
// authenticates on every instance that reads the log. Rows (family tokens): hex SHA-256 of the
// secret -> token_info; "meta" -> the stream's head. Log-derived: a rebuild replays them.
//
// Lifecycle: construct (loads the stored rows) before the runner starts. apply* run on the
// runner's thread; head(), hash_of() and ever_issued() from any thread.
class tokens_projection final : public projection {
 public:
  explicit tokens_projection(store& s);
  std::string_view name() const override { return "tokens"; }
  void begin_batch() override;
  result<void> apply(const decoded_event&, rocksdb::WriteBatch&) override { return success(); }
  result<void> apply_registry(const decoded_registry_event& e, rocksdb::WriteBatch& batch) override;
  void end_batch(bool committed) override;

  stream_head head() const;
  // The hash of the live (issued, not revoked) token with this public id.
  std::optional<std::string> hash_of(std::string_view id) const;
  const std::optional<error>& load_error() const { return load_error_; }
  // Counts the committed batches that changed the tokens' rows (an issue or a revocation, from
  // this server's writer or from another server's, applied from the log). It moves only after
  // the rows are in the store, so a row read after an unchanged generation was read is current
  // as of that generation (token_store's cache).
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  struct state {
    stream_head head;
    std::map<std::string, std::string, std::less<>> live;  // public id -> hash
  };
  store& store_;
  mutable std::mutex mu_;
  state current_;  // guarded by mu_
  // The batch being applied (runner thread only).
  std::optional<state> pending_;
  std::optional<error> load_error_;
  std::atomic<std::uint64_t> generation_{0};
};

// The write side of the tokens: appends token_issued / token_revoked under the key "tokens" and
// waits until the projection applied them, so that the answer, and every later request on this
// instance, sees the change. On a Kafka group the append goes to the owner of the stream's
// partition: elsewhere it fails with events::errc::not_owner. Writes are serialised.
// Thread-safe; every reference must outlive it.
class token_writer {
 public:
  token_writer(events::event_log& log, projection_runner& runner, tokens_projection& tokens,
               const clock& clk)
      : log_(log), runner_(runner), tokens_(tokens), clock_(clk) {}

  // Issues a token with fresh random bytes (OpenSSL RAND_bytes); only its hash enters the log.
  // The caller has checked the role and scope (tools::check_token_request).
  result<created_token> issue(std::string role, std::string center, std::string unit,
                              std::optional<timestamp> expires_at, const events::actor& by,
                              const std::string& correlation_id);
  // The same, only while the stream holds no event at all (the first start's admin token).
  result<std::optional<created_token>> issue_first(std::string role, std::string center,
                                                   std::optional<timestamp> expires_at,
                                                   const events::actor& by);
  // Revokes the live token with this public id: the position of its token_revoked event;
  // nullopt when there is none.
  result<std::optional<events::log_position>> revoke(std::string_view id, const events::actor& by,
                                                     const std::string& correlation_id);
  // Publishes into the log, once, each token an older store kept only in its rows (set aside
  // by set_aside_unlogged_tokens at the store's open), with its id, hash and times; returns how
  // many were published.
  result<std::size_t> publish_unlogged(store& s, const events::actor& by);
  // The projection whose rows the writer waits for.
  const tokens_projection& projection() const { return tokens_; }

  static constexpr const char* stream_key = "tokens";

  // Checked before each append (reference_stream.h): a server alone on Kafka passes its claim's.
  // Set before the first write.
  void set_write_lease(write_lease lease) { lease_ = std::move(lease); }

 private:
  result<created_token> issue_locked(std::string role, std::string center, std::string unit,
                                     std::optional<timestamp> expires_at, const events::actor& by,
                                     const std::string& correlation_id);
  result<events::log_position> append(const core::registry_event& e, const events::actor& by,
                                      const std::string& correlation_id);

  events::event_log& log_;
  projection_runner& runner_;
  tokens_projection& tokens_;
  const clock& clock_;
  write_lease lease_;
  std::mutex mu_;
};

// Tokens as the gateway reads them. A revocation (the row deleted when the runner applied it) or
// an expiry holds from the next request. Creation and revocation go through the token writer
// (the log).
//
// With a writer, found tokens are kept in a bounded cache keyed by the secret, so that a request
// with a known token costs neither a store read nor a SHA-256. The cache is exact: an entry is
// used only while the tokens projection's generation() is the one read before its row was read,
// and the generation moves with every committed batch that issues or revokes a token, here or on
// another server of a group (the runner applies the tokens' stream from the log); unknown tokens
// are never cached, so a token issued elsewhere is found as soon as its row is. Expiry stays the
// caller's check against its clock, on the cached expires_at. Without a writer every lookup
// reads the store.
//
// Thread-safe (RocksDB is; the cache has its own mutex); holds references to the store and the
// writer, which must outlive it.
class token_store {
 public:
  // Without a writer the store only reads: create and revoke fail (errc::unavailable).
  explicit token_store(store& s, token_writer* w = nullptr) : store_(s), writer_(w) {}

  result<created_token> create(std::string role, std::string center, std::string unit,
                               std::optional<timestamp> expires_at = {},
                               const events::actor& by = {},
                               const std::string& correlation_id = {});
  // The token a secret stands for; nullopt when unknown (or revoked). Expiry is the caller's
  // check (expired()), against its own clock.
  result<std::optional<token_info>> find(std::string_view secret) const;
  // Every stored token, in hash order; secrets are never stored, so never listed.
  result<std::vector<token_info>> list() const;
  // Revokes the token with this public id through the log (token_writer::revoke).
  result<std::optional<events::log_position>> revoke(std::string_view id,
                                                     const events::actor& by = {},
                                                     const std::string& correlation_id = {});

  // At most this many tokens are cached; a new one beyond it evicts an arbitrary other.
  static constexpr std::size_t cache_capacity = 4096;

 private:
  result<std::optional<token_info>> read(std::string_view secret) const;

  struct cached {
    token_info info;
    std::uint64_t generation{0};
  };
  store& store_;
  token_writer* writer_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, cached> cache_;  // secret -> token; guarded by cache_mu_
};

// At a store's open, before the tokens family is treated as log-derived: moves the rows an older
// store wrote without a log event (token_store before tokens were in the log) aside into the
// server's own state, where a rebuild keeps them until token_writer::publish_unlogged has put
// them into the log. Returns how many were set aside.
result<std::size_t> set_aside_unlogged_tokens(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* tokens,
                                              rocksdb::ColumnFamilyHandle* server_state);

}  // namespace caseline::projections
