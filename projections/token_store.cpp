#include "projections/token_store.h"

#include <memory>

#include <fmt/format.h>
#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/storage/scan.h"
#include "events/storage/status.h"
#include "projections/server_state.h"

namespace caseline::projections {

namespace {

constexpr std::string_view secret_prefix = "clt_";
constexpr std::chrono::seconds write_timeout{10};
// The stream's head, in the tokens family beside the rows (no hex hash is "meta").
constexpr std::string_view meta_key = "meta";
// 1: no expiry; 2: expires_at (0: never), both written before tokens were in the log (rows of
// those versions came from no event); 3: the same fields, applied from the log.
constexpr std::uint32_t logged_row_version = 3;

std::string hash_key(std::string_view secret) { return events::to_hex(events::sha256(secret)); }

std::string encode(const token_info& t) {
  return core::binary_encode(logged_row_version, t.id, t.role, t.center, t.unit, t.created_at.ms,
                             t.expires_at ? t.expires_at->ms : std::int64_t{0});
}

result<token_info> decode(std::string_view bytes, std::uint32_t* version_out = nullptr) {
  try {
    core::binary_input ar(bytes);
    std::uint32_t version = 0;
    token_info t;
    ar(version, t.id, t.role, t.center, t.unit, t.created_at.ms);
    if (version >= 2) {
      std::int64_t expires = 0;
      ar(expires);
      if (expires != 0) t.expires_at = timestamp{expires};
    }
    if (version_out != nullptr) *version_out = version;
    return t;
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("stored token: ") + ex.what());
  }
}

std::string encode_head(const stream_head& h) {
  const std::uint32_t version = 1;
  return core::binary_encode(version, h.sequence, h.last_hash);
}

token_info from_event(const core::token_issued& e) {
  return token_info{e.id, e.role, e.center(), e.unit, e.created_at, e.expires_at};
}

}  // namespace

bool expired(const token_info& t, timestamp now) {
  return t.expires_at && now.ms >= t.expires_at->ms;
}

// --- the projection ------------------------------------------------------------------------------

tokens_projection::tokens_projection(store& s) : store_(s) {
  auto rows = storage::scan(
      store_.db(), store_.cf(family::tokens), {}, "read tokens",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        if (key == meta_key) {
          try {
            core::binary_input ar(value);
            std::uint32_t version = 0;
            ar(version, current_.head.sequence, current_.head.last_hash);
          } catch (const std::exception& ex) {
            return make_error(events::errc::corrupt_record,
                              std::string("tokens stream head: ") + ex.what());
          }
          return storage::scan_step::next;
        }
        auto t = decode(value);
        if (!t) return t.error();
        current_.live.emplace(t.value().id, std::string(key));
        return storage::scan_step::next;
      });
  if (!rows) load_error_ = rows.error();
}

void tokens_projection::begin_batch() { pending_.reset(); }

result<void> tokens_projection::apply_registry(const decoded_registry_event& e,
                                               rocksdb::WriteBatch& batch) {
  const auto* issued = std::get_if<core::token_issued>(&e.event);
  const auto* revoked = std::get_if<core::token_revoked>(&e.event);
  if (issued == nullptr && revoked == nullptr) return success();  // another stream's
  if (!pending_) {
    std::lock_guard lk(mu_);
    pending_ = current_;
  }
  if (auto ok = check_follows(pending_->head, e, token_writer::stream_key); !ok) return ok;
  auto* cf = store_.cf(family::tokens);
  if (issued != nullptr) {
    batch.Put(cf, issued->secret_hash, encode(from_event(*issued)));
    pending_->live[issued->id] = issued->secret_hash;
  } else if (const auto it = pending_->live.find(revoked->id); it != pending_->live.end()) {
    batch.Delete(cf, it->second);
    pending_->live.erase(it);
  }
  pending_->head = advance(e);
  batch.Put(cf, std::string(meta_key), encode_head(pending_->head));
  return success();
}

void tokens_projection::end_batch(bool committed) {
  if (committed && pending_) {
    std::lock_guard lk(mu_);
    current_ = std::move(*pending_);
    // After the batch is in the store (the runner calls this once its write succeeded).
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  pending_.reset();
}

stream_head tokens_projection::head() const {
  std::lock_guard lk(mu_);
  return current_.head;
}

std::optional<std::string> tokens_projection::hash_of(std::string_view id) const {
  std::lock_guard lk(mu_);
  const auto it = current_.live.find(id);
  if (it == current_.live.end()) return std::nullopt;
  return it->second;
}

// --- the writer ----------------------------------------------------------------------------------

result<events::log_position> token_writer::append(const core::registry_event& e,
                                                  const events::actor& by,
                                                  const std::string& correlation_id) {
  return append_reference_event(log_, runner_, lease_, stream_key, tokens_.head(), e, by,
                                correlation_id, clock_.now(), write_timeout);
}

result<created_token> token_writer::issue_locked(std::string role, std::string center,
                                                 std::string unit,
                                                 std::optional<timestamp> expires_at,
                                                 const events::actor& by,
                                                 const std::string& correlation_id) {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1)
    return make_error(events::errc::fatal, "no random bytes for a token");
  created_token out;
  out.secret =
      std::string(secret_prefix) +
      events::to_hex(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
  const std::string hash = hash_key(out.secret);
  out.info = token_info{hash.substr(0, 12), std::move(role), std::move(center),
                        std::move(unit),    clock_.now(),    expires_at};
  const core::token_issued e{out.info.id,        hash,
                             out.info.role,      center_code{out.info.center},
                             out.info.unit,      out.info.created_at,
                             out.info.expires_at};
  auto pos = append(core::registry_event{e}, by, correlation_id);
  if (!pos) return pos.error();
  out.position = pos.value();
  return out;
}

result<created_token> token_writer::issue(std::string role, std::string center, std::string unit,
                                          std::optional<timestamp> expires_at,
                                          const events::actor& by,
                                          const std::string& correlation_id) {
  std::lock_guard lk(mu_);
  if (auto ok = catch_up_stream(log_, runner_, stream_key, write_timeout); !ok) return ok.error();
  return issue_locked(std::move(role), std::move(center), std::move(unit), expires_at, by,
                      correlation_id);
}

result<std::optional<created_token>> token_writer::issue_first(std::string role, std::string center,
                                                               std::optional<timestamp> expires_at,
                                                               const events::actor& by) {
  std::lock_guard lk(mu_);
  if (auto ok = catch_up_stream(log_, runner_, stream_key, write_timeout); !ok) return ok.error();
  if (tokens_.head().sequence != 0) return std::optional<created_token>{};
  auto t = issue_locked(std::move(role), std::move(center), "", expires_at, by, "bootstrap");
  if (!t) return t.error();
  return std::optional<created_token>{std::move(t).value()};
}

result<std::optional<events::log_position>> token_writer::revoke(
    std::string_view id, const events::actor& by, const std::string& correlation_id) {
  std::lock_guard lk(mu_);
  if (auto ok = catch_up_stream(log_, runner_, stream_key, write_timeout); !ok) return ok.error();
  if (!tokens_.hash_of(id)) return std::optional<events::log_position>{};
  auto pos = append(core::registry_event{core::token_revoked{std::string(id), clock_.now()}}, by,
                    correlation_id);
  if (!pos) return pos.error();
  return std::optional<events::log_position>{pos.value()};
}

result<std::size_t> token_writer::publish_unlogged(store& s, const events::actor& by) {
  const std::string prefix(server_state_key::unlogged_token_prefix);
  std::vector<std::pair<std::string, token_info>> aside;  // hash, token
  auto scanned = storage::scan(
      s.db(), s.cf(family::server_state), {prefix, {}, {}}, "read unlogged tokens",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        auto t = decode(value);
        if (!t) return t.error();
        aside.emplace_back(std::string(key.substr(prefix.size())), std::move(t).value());
        return storage::scan_step::next;
      });
  if (!scanned) return scanned.error();
  if (aside.empty()) return std::size_t{0};
  std::lock_guard lk(mu_);
  if (auto ok = catch_up_stream(log_, runner_, stream_key, write_timeout); !ok) return ok.error();
  std::size_t published = 0;
  for (const auto& [hash, t] : aside) {
    // Published already when a start was cut short between the append and the delete below.
    if (tokens_.hash_of(t.id) != hash) {
      const core::token_issued e{t.id,   hash,         t.role,      center_code{t.center},
                                 t.unit, t.created_at, t.expires_at};
      if (auto ok = append(core::registry_event{e}, by, "unlogged-token"); !ok) return ok.error();
      ++published;
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    const auto st = s.db().Delete(wo, s.cf(family::server_state), prefix + hash);
    if (!st.ok()) return storage::from_rocksdb(st, "delete an unlogged token");
  }
  return published;
}

// --- the read side -------------------------------------------------------------------------------

result<created_token> token_store::create(std::string role, std::string center, std::string unit,
                                          std::optional<timestamp> expires_at,
                                          const events::actor& by,
                                          const std::string& correlation_id) {
  if (writer_ == nullptr) return make_error(events::errc::unavailable, "tokens are read-only here");
  return writer_->issue(std::move(role), std::move(center), std::move(unit), expires_at, by,
                        correlation_id);
}

result<std::optional<token_info>> token_store::find(std::string_view secret) const {
  if (writer_ == nullptr) return read(secret);
  // Read before the row: a change applied after this read moves the generation past it, and
  // the entry filled below is then never used.
  const std::uint64_t generation = writer_->projection().generation();
  {
    std::lock_guard lk(cache_mu_);
    if (const auto it = cache_.find(std::string(secret)); it != cache_.end()) {
      if (it->second.generation == generation) return std::optional<token_info>{it->second.info};
      cache_.erase(it);
    }
  }
  auto found = read(secret);
  if (!found || !found.value()) return found;
  std::lock_guard lk(cache_mu_);
  if (cache_.size() >= cache_capacity) cache_.erase(cache_.begin());
  cache_.insert_or_assign(std::string(secret), cached{*found.value(), generation});
  return found;
}

result<std::optional<token_info>> token_store::read(std::string_view secret) const {
  if (!secret.starts_with(secret_prefix) || secret.size() != secret_prefix.size() + 64)
    return std::optional<token_info>{};
  auto value = storage::get(store_.db(), store_.cf(family::tokens), hash_key(secret), "read token");
  if (!value) return value.error();
  if (!value.value()) return std::optional<token_info>{};
  auto t = decode(*value.value());
  if (!t) return t.error();
  return std::optional<token_info>{std::move(t).value()};
}

result<std::vector<token_info>> token_store::list() const {
  std::vector<token_info> out;
  auto r = storage::scan(
      store_.db(), store_.cf(family::tokens), {}, "list tokens",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        if (key == meta_key) return storage::scan_step::next;
        auto t = decode(value);
        if (!t) return t.error();
        out.push_back(std::move(t).value());
        return storage::scan_step::next;
      });
  if (!r) return r.error();
  return out;
}

result<std::optional<events::log_position>> token_store::revoke(std::string_view id,
                                                                const events::actor& by,
                                                                const std::string& correlation_id) {
  if (writer_ == nullptr) return make_error(events::errc::unavailable, "tokens are read-only here");
  return writer_->revoke(id, by, correlation_id);
}

// --- the upgrade ---------------------------------------------------------------------------------

result<std::size_t> set_aside_unlogged_tokens(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* tokens,
                                              rocksdb::ColumnFamilyHandle* server_state) {
  rocksdb::WriteBatch batch;
  std::size_t n = 0;
  auto scanned = storage::scan(
      db, tokens, {}, "read tokens",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        if (key == meta_key) return storage::scan_step::next;
        std::uint32_t version = 0;
        if (auto t = decode(value, &version); !t) return t.error();
        if (version >= logged_row_version) return storage::scan_step::next;
        batch.Put(server_state,
                  std::string(server_state_key::unlogged_token_prefix) + std::string(key), value);
        batch.Delete(tokens, key);
        ++n;
        return storage::scan_step::next;
      });
  if (!scanned) return scanned.error();
  if (n == 0) return n;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const auto st = db.Write(wo, &batch);
  if (!st.ok()) return storage::from_rocksdb(st, "set aside unlogged tokens");
  return n;
}

}  // namespace caseline::projections
