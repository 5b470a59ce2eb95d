#include "projections/idempotency_index.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/storage/scan.h"

namespace caseline::projections {

namespace {

constexpr std::uint32_t row_version = 1;

std::string encode_row(const keyed_write& w) {
  return core::binary_encode(row_version, w.id(), w.position.partition(), w.position.offset(),
                             w.request_hash);
}

result<keyed_write> decode_row(const std::string& bytes) {
  try {
    core::binary_input ar(bytes);
    std::uint32_t version = 0;
    std::string id;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::string hash;
    ar(version, id, partition, offset, hash);
    return keyed_write{case_id{std::move(id)},
                       {events::partition_id{partition}, events::log_offset{offset}},
                       std::move(hash)};
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record,
                      std::string("idempotency index row: ") + ex.what());
  }
}

result<bool> stored(store& s, const std::string& key_hash) {
  auto value =
      storage::get(s.db(), s.cf(family::idempotency_index), key_hash, "read idempotency index");
  if (!value) return value.error();
  return value.value().has_value();
}

}  // namespace

std::string request_hash(std::string_view method, std::string_view path, std::string_view body) {
  std::string text(method);
  text += '\n';
  text += path;
  text += '\n';
  text += body;
  return events::to_hex(events::sha256(text));
}

result<void> idempotency_projection::apply(const decoded_event& e, rocksdb::WriteBatch& batch) {
  // One row per record: its first event stands for the command.
  if (!e.idempotency || e.index != 0) return success();
  const std::string& key = e.idempotency->key_hash;
  if (batch_.contains(key)) return success();
  auto there = stored(store_, key);
  if (!there) return there.error();
  batch_[key] = true;
  if (there.value()) return success();  // the first write of the key stays the answer
  batch.Put(store_.cf(family::idempotency_index), key,
            encode_row({e.env.case_id, e.position, e.idempotency->request_hash}));
  return success();
}

result<std::optional<keyed_write>> idempotency_index::find(std::string_view key_hash) const {
  auto value = storage::get(store_.db(), store_.cf(family::idempotency_index), key_hash,
                            "read idempotency index");
  if (!value) return value.error();
  if (!value.value()) return std::optional<keyed_write>{};
  auto row = decode_row(*value.value());
  if (!row) return row.error();
  return std::optional<keyed_write>{std::move(row).value()};
}

}  // namespace caseline::projections
