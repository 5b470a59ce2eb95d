#include "projections/store.h"

#include <string>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "events/storage/scan.h"
#include "tests/support/temp_dir.h"

namespace caseline::projections {
namespace {

using namespace std::string_literals;
using test::temp_dir;

void put(store& s, rocksdb::ColumnFamilyHandle* cf, const std::string& key,
         const std::string& value) {
  REQUIRE(s.db().Put(rocksdb::WriteOptions(), cf, key, value).ok());
}

std::size_t rows(store& s, family f) {
  std::size_t n = 0;
  REQUIRE(storage::scan(s.db(), s.cf(f), {}, "count", [&](auto, auto) {
            ++n;
            return storage::scan_step::next;
          }).has_value());
  return n;
}

// A store as the layout before the layout row was kept left it: applied offsets, a case's
// event as a location alone, a token as rows were before tokens were in the log (version 1).
void write_first_layout(const std::string& dir) {
  auto s = store::open(dir);
  REQUIRE(s.has_value());
  store& st = *s.value();
  REQUIRE(st.db().Delete(rocksdb::WriteOptions(), st.db().DefaultColumnFamily(), "layout").ok());
  put(st, st.cf(family::offsets), "log/\0\0\0\0"s, std::string(8, '\x01'));
  put(st, st.cf(family::case_events), "a\0"s + std::string(8, '\0'), std::string(16, '\0'));
  put(st, st.cf(family::cases), "a", "row");
  put(st, st.cf(family::registry), "unit/x", "u");
  put(st, st.cf(family::tokens), "hash",
      core::binary_encode(std::uint32_t{1}, "hashprefix"s, "agent"s, "410100"s, ""s,
                          std::int64_t{1}));
  put(st, st.cf(family::server_state), "manual_clock", "t");
}

}  // namespace

TEST_CASE("a store of an older layout is emptied of its log-derived rows at open, the rest kept") {
  temp_dir dir;
  write_first_layout(dir.sub("store"));
  auto s = store::open(dir.sub("store"));
  REQUIRE(s.has_value());
  store& st = *s.value();
  // Offsets gone: the runner replays the log from offset 0 into the emptied families.
  for (auto f : {family::offsets, family::case_events, family::cases, family::registry})
    CHECK(rows(st, f) == 0);
  // The token, written without a log event, waits aside to be published (token_store.h).
  CHECK(rows(st, family::tokens) == 0);
  CHECK(rows(st, family::server_state) == 2);

  SUBCASE("and a store of the current layout is opened as it is") {
    put(st, st.cf(family::offsets), "log/\0\0\0\0"s, std::string(8, '\x01'));
    put(st, st.cf(family::cases), "a", "row");
    s.value().reset();
    auto again = store::open(dir.sub("store"));
    REQUIRE(again.has_value());
    CHECK(rows(*again.value(), family::offsets) == 1);
    CHECK(rows(*again.value(), family::cases) == 1);
    CHECK(rows(*again.value(), family::server_state) == 2);
  }
}

TEST_CASE("a new store is opened with the current layout: nothing is emptied at its next open") {
  temp_dir dir;
  {
    auto s = store::open(dir.sub("store"));
    REQUIRE(s.has_value());
    put(*s.value(), s.value()->cf(family::offsets), "log/\0\0\0\0"s, std::string(8, '\x01'));
    put(*s.value(), s.value()->cf(family::case_events), "a", "event");
  }
  auto s = store::open(dir.sub("store"));
  REQUIRE(s.has_value());
  CHECK(rows(*s.value(), family::offsets) == 1);
  CHECK(rows(*s.value(), family::case_events) == 1);
}

}  // namespace caseline::projections
