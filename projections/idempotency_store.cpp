#include "projections/idempotency_store.h"

#include <rocksdb/db.h>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "core/binary.h"
#include "events/errc.h"
#include "events/storage/scan.h"
#include "events/storage/status.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace {

std::string row_key(std::string_view token_id, std::string_view key) {
  return keys::idempotency{std::string(token_id), std::string(key)}.encode();
}

}  // namespace

result<std::optional<stored_answer>> idempotency_store::find(std::string_view token_id,
                                                             std::string_view key) const {
  auto value = storage::get(store_.db(), store_.cf(family::idempotency), row_key(token_id, key),
                            "read idempotency key");
  if (!value) return value.error();
  if (!value.value()) return std::optional<stored_answer>{};
  try {
    core::binary_input ar(*value.value());
    std::uint32_t version = 0;
    stored_answer a;
    ar(version, a.request_hash, a.status, a.content_type, a.body, a.headers);
    return std::optional<stored_answer>{std::move(a)};
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("stored answer: ") + ex.what());
  }
}

result<void> idempotency_store::put(std::string_view token_id, std::string_view key,
                                    const stored_answer& a) {
  const std::uint32_t version = 1;
  std::string bytes =
      core::binary_encode(version, a.request_hash, a.status, a.content_type, a.body, a.headers);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const auto s = store_.db().Put(wo, store_.cf(family::idempotency), row_key(token_id, key), bytes);
  if (!s.ok()) return storage::from_rocksdb(s, "store idempotency key");
  return success();
}

}  // namespace caseline::projections
