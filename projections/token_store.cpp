#include "projections/token_store.h"

#include <memory>

#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/storage/scan.h"
#include "events/storage/status.h"

namespace caseline::projections {

namespace {

constexpr std::string_view secret_prefix = "clt_";

std::string hash_key(std::string_view secret) { return events::to_hex(events::sha256(secret)); }

std::string encode(const token_info& t) {
  const std::uint32_t version = 2;  // 2: expires_at (0: never)
  return core::binary_encode(version, t.id, t.role, t.center, t.unit, t.created_at.ms,
                             t.expires_at ? t.expires_at->ms : std::int64_t{0});
}

result<token_info> decode(const std::string& bytes) {
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
    return t;
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("stored token: ") + ex.what());
  }
}

}  // namespace

bool expired(const token_info& t, timestamp now) {
  return t.expires_at && now.ms >= t.expires_at->ms;
}

result<created_token> token_store::create(std::string role, std::string center, std::string unit,
                                          timestamp now, std::optional<timestamp> expires_at) {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1)
    return make_error(events::errc::fatal, "no random bytes for a token");
  created_token out;
  out.secret =
      std::string(secret_prefix) +
      events::to_hex(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
  const std::string key = hash_key(out.secret);
  out.info = token_info{key.substr(0, 12), std::move(role), std::move(center), std::move(unit), now,
                        expires_at};
  rocksdb::WriteOptions wo;
  wo.sync = true;  // a token handed out must survive a crash
  const auto s = store_.db().Put(wo, store_.cf(family::tokens), key, encode(out.info));
  if (!s.ok()) return storage::from_rocksdb(s, "store token");
  return out;
}

result<std::optional<token_info>> token_store::find(std::string_view secret) const {
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
  auto r =
      storage::scan(store_.db(), store_.cf(family::tokens), {}, "list tokens",
                    [&](std::string_view, std::string_view value) -> result<storage::scan_step> {
                      auto t = decode(std::string(value));
                      if (!t) return t.error();
                      out.push_back(std::move(t).value());
                      return storage::scan_step::next;
                    });
  if (!r) return r.error();
  return out;
}

result<bool> token_store::revoke(std::string_view id) {
  // The id is the first 12 hex digits of the key (the hash): one prefix seek finds it.
  if (id.size() != 12 || id.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return false;
  std::string key;
  auto found = storage::scan(store_.db(), store_.cf(family::tokens), {std::string(id), {}, {}},
                             "find token", [&](std::string_view k, std::string_view) {
                               key = k;
                               return storage::scan_step::stop;
                             });
  if (!found) return found.error();
  if (key.empty()) return false;
  rocksdb::WriteOptions wo;
  wo.sync = true;  // a revocation must survive a crash
  const auto s = store_.db().Delete(wo, store_.cf(family::tokens), key);
  if (!s.ok()) return storage::from_rocksdb(s, "revoke token");
  return true;
}

}  // namespace caseline::projections
