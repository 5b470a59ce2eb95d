#include "projections/store.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "events/errc.h"
#include "events/storage/key.h"
#include "events/storage/scan.h"
#include "projections/case_projection.h"
#include "projections/row_keys.h"
#include "tests/projections/october_scenario.h"
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

// A history row as the case projection writes it: the event's location (partition 0, offset
// `sequence`, index 0), then its stored bytes.
void put_history(store& s, const std::string& id, std::uint64_t sequence) {
  put(s, s.cf(family::case_events), keys::case_history{id, sequence}.encode(),
      storage::key_builder().be32(0).be64(sequence).be32(0).str() + "event " +
          std::to_string(sequence));
}

std::vector<std::uint64_t> history_of(store& s, const std::string& id) {
  auto h = case_reader(s).history(case_id{id});
  REQUIRE(h.has_value());
  std::vector<std::uint64_t> out;
  for (const auto& e : h.value()) {
    CHECK(e.stored_bytes == "event " + std::to_string(e.location.position.offset()));
    out.push_back(static_cast<std::uint64_t>(e.location.position.offset()));
  }
  return out;
}

void flush(store& s) { REQUIRE(s.flush().has_value()); }

}  // namespace

TEST_CASE("a case's history is every row of its own, in the memtable and in every table") {
  temp_dir dir;
  const std::string a = "410100-20260101-1", a10 = "410100-20260101-10", b = "410100-20260102-2";
  {
    // A table written before the family had its prefix filters: none in it.
    auto s = store::open(dir.sub("store"));
    REQUIRE(s.has_value());
  }
  {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.sub("store"), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.reserve(names.size());
    for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.sub("store"), cfs, &handles, &raw).ok());
    const std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* events = nullptr;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == "case_events") events = handles[i];
    REQUIRE(events != nullptr);
    REQUIRE(db->Put(rocksdb::WriteOptions(), events, keys::case_history{a, 1}.encode(),
                    storage::key_builder().be32(0).be64(1).be32(0).str() + "event 1")
                .ok());
    REQUIRE(db->Flush(rocksdb::FlushOptions(), events).ok());
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  }
  auto s = store::open(dir.sub("store"));
  REQUIRE(s.has_value());
  store& st = *s.value();
  // A case whose id starts with a's, and a case of the next day, beside a's rows in every table.
  put_history(st, a, 2);
  put_history(st, a10, 1);
  flush(st);
  put_history(st, b, 1);
  put_history(st, a, 3);
  flush(st);
  put_history(st, a, 4);  // in the memtable
  put_history(st, a10, 2);

  CHECK(history_of(st, a) == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK(history_of(st, a10) == std::vector<std::uint64_t>{1, 2});
  CHECK(history_of(st, b) == std::vector<std::uint64_t>{1});
  CHECK(history_of(st, "410100-20260101-2").empty());
  // Every row of the family, in key order, for the scans that read it whole.
  CHECK(rows(st, family::case_events) == 7);

  SUBCASE("and after a compaction and a reopen") {
    rocksdb::CompactRangeOptions all;
    all.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    REQUIRE(st.db().CompactRange(all, st.cf(family::case_events), nullptr, nullptr).ok());
    s.value().reset();
    auto again = store::open(dir.sub("store"));
    REQUIRE(again.has_value());
    CHECK(history_of(*again.value(), a) == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(history_of(*again.value(), a10) == std::vector<std::uint64_t>{1, 2});
    CHECK(history_of(*again.value(), b) == std::vector<std::uint64_t>{1});
  }
}

TEST_CASE("a case's history reads the data of the tables that hold its rows, not of the others") {
  temp_dir dir;
  {
    auto s = store::open(dir.sub("store"));
    REQUIRE(s.has_value());
    // Three tables on level 0, the first with a's rows; the two others sort after it, so that
    // a search of them for a's rows would read a data block of each.
    put_history(*s.value(), "410100-20260101-1", 1);
    put_history(*s.value(), "410100-20260101-1", 2);
    flush(*s.value());
    put_history(*s.value(), "410100-20260102-1", 1);
    flush(*s.value());
    put_history(*s.value(), "410100-20260103-1", 1);
    flush(*s.value());
  }
  // Reopened: nothing of the tables' data in its cache.
  auto s = store::open(dir.sub("store"));
  REQUIRE(s.has_value());
  std::string files;
  REQUIRE(s.value()->db().GetProperty(s.value()->cf(family::case_events),
                                      "rocksdb.num-files-at-level0", &files));
  REQUIRE(files == "3");
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  auto* const reads = rocksdb::get_perf_context();
  reads->Reset();
  const auto history = history_of(*s.value(), "410100-20260101-1");
  const auto data_blocks =
      reads->block_read_count - reads->index_block_read_count - reads->filter_block_read_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  CHECK(history == std::vector<std::uint64_t>{1, 2});
  CHECK(data_blocks == 1);
}

TEST_CASE("a case's history folds to its row's state: the state its readers are checked on") {
  testing::stack s;
  const auto ids = testing::play(s, testing::october_scenario());
  REQUIRE(ids.size() > 10);
  std::set<core::case_status> statuses;
  std::size_t at_units = 0;
  for (const auto& entry : ids) {
    const std::string& label = entry.first;
    const case_id& id = entry.second;
    CAPTURE(label);
    auto history = case_reader(s.db()).history(id);
    REQUIRE(history.has_value());
    auto decoded = decode_history(id, history.value());
    REQUIRE(decoded.has_value());
    auto row = case_reader(s.db()).get(id);
    REQUIRE(row.has_value());
    REQUIRE(row.value().has_value());
    const core::case_state& state = row.value()->state;
    CHECK(decoded.value().folded == state);
    CHECK(decoded.value().events.size() == state.version);
    statuses.insert(state.status);
    if (state.unit) ++at_units;
  }
  // The scenario's cases end in many states, some with a unit: their scopes differ.
  CHECK(statuses.size() >= 4);
  CHECK(at_units >= 3);

  SUBCASE("an event that does not decode fails the fold") {
    const case_id id = ids.begin()->second;
    auto history = case_reader(s.db()).history(id);
    REQUIRE(history.has_value());
    REQUIRE_FALSE(history.value().empty());
    history.value().back().stored_bytes.resize(3);
    auto decoded = decode_history(id, history.value());
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().code == events::errc::corrupt_record);
  }
}

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
