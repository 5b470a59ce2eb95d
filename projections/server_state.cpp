#include "projections/server_state.h"

#include <rocksdb/db.h>

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

}  // namespace caseline::projections
