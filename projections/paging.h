#pragma once

// Keyset paging over one key range of the store, for the lists a client reads page by page
// (work queues, deadline lists, the overdue report). A page holds at most `limit` rows; its
// cursor is the hex of the last key it holds, and the next page starts strictly after that key,
// so a row added or removed between two pages neither repeats nor hides another. A cursor names
// its list: one that is not hex, or not a key of this list's range, is refused.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "events/storage/scan.h"
#include "projections/store.h"

namespace caseline::projections {

// Gets each row in key order; says whether it goes on the page (true) or is skipped (false), or
// fails, which fails the page.
using page_row_visitor = std::function<result<bool>(std::string_view key, std::string_view value)>;

// Visits the rows of `range` in family `f` that follow `cursor` (the next_cursor of the page
// before; empty for the first) until `limit` rows went on the page or the range ends. Returns the
// page's next_cursor: empty when the range ended, so this page is the last.
// core::errc::invalid_argument naming the field "cursor" for a cursor not of this range; a read
// error as storage::scan reports it. With `at`, the rows as of that snapshot.
result<std::string> scan_page(store& s, family f, const storage::key_range& range,
                              std::string_view cursor, std::size_t limit, const std::string& what,
                              const page_row_visitor& visit, const rocksdb::Snapshot* at = nullptr);

}  // namespace caseline::projections
