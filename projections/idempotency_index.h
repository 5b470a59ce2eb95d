#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/ids.h"
#include "core/result.h"
#include "events/event_log.h"
#include "projections/projection.h"
#include "projections/store.h"

namespace caseline::projections {

// The first record of the log that carried an Idempotency-Key (events::idempotency_mark): the
// case it wrote, where it is in the log and the hash of the request that sent it. No personal
// data: the key is kept only as its hash with the token id, the request only as its hash.
struct keyed_write {
  ::caseline::case_id id;
  events::log_position position;
  std::string request_hash;

  friend bool operator==(const keyed_write&, const keyed_write&) = default;
};

// hex SHA-256 of method, path and body: what a retry under the same key must repeat exactly.
std::string request_hash(std::string_view method, std::string_view path, std::string_view body);

// The key index (family idempotency_index): key hash -> keyed_write, written by the runner in the
// same WriteBatch as the consumed offsets, so a key is indexed exactly when its record is
// applied, and a rebuild gives the same rows. When the log holds a key twice, the first record
// wins. Used by the runner's thread only.
class idempotency_projection final : public projection {
 public:
  explicit idempotency_projection(store& s) : store_(s) {}
  std::string_view name() const override { return "idempotency_index"; }
  void begin_batch() override { batch_.clear(); }
  result<void> apply(const decoded_event& e, rocksdb::WriteBatch& batch) override;
  void end_batch(bool /*committed*/) override { batch_.clear(); }

 private:
  store& store_;
  std::map<std::string, bool> batch_;  // keys indexed in the current batch (not committed yet)
};

// Reads the key index. Before trusting an absent key, the caller makes sure that every record
// that could carry it has been applied (projection_runner::catch_up). Thread-safe.
class idempotency_index {
 public:
  explicit idempotency_index(store& s) : store_(s) {}
  result<std::optional<keyed_write>> find(std::string_view key_hash) const;

 private:
  store& store_;
};

}  // namespace caseline::projections
