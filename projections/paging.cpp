#include "projections/paging.h"

#include <algorithm>

#include "core/errc.h"
#include "events/record.h"

namespace caseline::projections {

result<std::string> scan_page(store& s, family f, const storage::key_range& range,
                              std::string_view cursor, std::size_t limit, const std::string& what,
                              const page_row_visitor& visit, const rocksdb::Snapshot* at) {
  storage::key_range from_cursor = range;
  if (!cursor.empty()) {
    auto after = events::from_hex(cursor);
    const std::string& lowest = range.from.empty() ? range.prefix : range.from;
    if (!after || !after->starts_with(range.prefix) || *after < lowest ||
        (!range.until.empty() && *after >= range.until))
      return make_field_error(core::errc::invalid_argument, "cursor", "not a cursor of this list");
    after->push_back('\0');  // the least key above the cursor's
    from_cursor.from = std::max(lowest, *after);
  }
  std::string next_cursor;
  std::string last;
  std::size_t kept = 0;
  auto r = storage::scan(
      s.db(), s.cf(f), from_cursor, what,
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        if (kept == limit) {
          next_cursor = events::to_hex(last);
          return storage::scan_step::stop;
        }
        auto keep = visit(key, value);
        if (!keep) return keep.error();
        if (keep.value()) {
          ++kept;
          last = key;
        }
        return storage::scan_step::next;
      },
      at);
  if (!r) return r.error();
  return next_cursor;
}

}  // namespace caseline::projections
