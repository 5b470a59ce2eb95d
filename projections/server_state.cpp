#include "projections/server_state.h"

#include <rocksdb/db.h>

#include "events/storage/scan.h"
#include "events/storage/status.h"
#include "projections/sla_index.h"

namespace caseline::projections {

result<std::optional<std::string>> read_server_state(store& s, std::string_view key) {
  return detail::read_bytes(s, family::server_state, std::string(key), "server state");
}

result<void> write_server_state(store& s, std::string_view key, std::string_view value) {
  rocksdb::WriteOptions options;
  options.sync = true;
  const auto st = s.db().Put(options, s.cf(family::server_state), rocksdb::Slice(key.data(), key.size()),
                             rocksdb::Slice(value.data(), value.size()));
  if (!st.ok()) return storage::from_rocksdb(st, "write server state");
  return success();
}

result<void> erase_server_state(store& s, std::string_view key) {
  rocksdb::WriteOptions options;
  options.sync = true;
  const auto st =
      s.db().Delete(options, s.cf(family::server_state), rocksdb::Slice(key.data(), key.size()));
  if (!st.ok()) return storage::from_rocksdb(st, "erase server state");
  return success();
}

result<std::vector<std::pair<std::string, std::string>>> read_server_states(
    store& s, std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  auto r = storage::scan(
      s.db(), s.cf(family::server_state), {std::string(prefix), {}, {}}, "read server state",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        out.emplace_back(std::string(key), std::string(value));
        return storage::scan_step::next;
      });
  if (!r) return r.error();
  return out;
}

}  // namespace caseline::projections
