#include "events/storage/counter_merge.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

#include "events/storage/key.h"
#include "tests/support/temp_dir.h"

namespace caseline::storage {

namespace {

// A real RocksDB in a temporary folder with the counter merge operator; closed by the destructor.
struct counter_db {
  explicit counter_db(const std::string& dir) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.merge_operator = counter_add_operator();
    rocksdb::DB* raw = nullptr;
    const auto s = rocksdb::DB::Open(options, dir, &raw);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    db.reset(raw);
  }
  std::string get(const std::string& key) {
    std::string v;
    const auto s = db->Get(rocksdb::ReadOptions(), key, &v);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    return v;
  }
  std::unique_ptr<rocksdb::DB> db;
};

}  // namespace

TEST_CASE(
    "merged differences store the bytes a Put of their sum stores, before and after a compaction") {
  test::temp_dir dir;
  counter_db c(dir.sub("db"));
  const rocksdb::WriteOptions wo;
  // On nothing, on a value, and on a deleted value; a negative difference too.
  REQUIRE(c.db->Merge(wo, "fresh", be64_delta(3)).ok());
  REQUIRE(c.db->Merge(wo, "fresh", be64_delta(4)).ok());
  REQUIRE(c.db->Put(wo, "stored", be64_value(10)).ok());
  REQUIRE(c.db->Merge(wo, "stored", be64_delta(5)).ok());
  REQUIRE(c.db->Merge(wo, "stored", be64_delta(-2)).ok());
  REQUIRE(c.db->Put(wo, "deleted", be64_value(9)).ok());
  REQUIRE(c.db->Delete(wo, "deleted").ok());
  REQUIRE(c.db->Merge(wo, "deleted", be64_delta(1)).ok());
  for (int pass = 0; pass < 2; ++pass) {
    INFO("pass " << pass << (pass == 0 ? " (memtable)" : " (compacted)"));
    CHECK(c.get("fresh") == be64_value(7));
    CHECK(c.get("stored") == be64_value(13));
    CHECK(c.get("deleted") == be64_value(1));
    REQUIRE(c.db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  }
  CHECK(be64_delta(-1) == be64_value(~std::uint64_t{0}));
  CHECK(std::string(counter_add_operator()->Name()) == "caseline.counter_add");
}

namespace {

// Cells as literal bytes: (u8 cell, be64 count) pairs.
std::string cell(std::uint8_t i, std::uint64_t n) {
  std::string out(1, static_cast<char>(i));
  return out + be64_value(n);
}

}  // namespace

TEST_CASE("cells are stored as the non-zero cells in order, and read back what they encoded") {
  const std::int64_t cells[] = {2, 0, 0, 5, 0, -1};
  const std::string bytes = counter_cells_value(cells);
  CHECK(bytes == cell(0, 2) + cell(3, 5) + cell(5, ~std::uint64_t{0}));
  CHECK(counter_cells_value(std::vector<std::int64_t>(4, 0)).empty());
  std::int64_t into[6] = {1, 1, 1, 1, 1, 1};
  REQUIRE(add_counter_cells(bytes, into));
  CHECK(std::vector<std::int64_t>(std::begin(into), std::end(into)) ==
        std::vector<std::int64_t>{3, 1, 1, 6, 1, 0});
  // A cell past the reader's, cells out of order or repeated, and a torn pair are refused.
  std::int64_t four[4] = {};
  CHECK_FALSE(add_counter_cells(bytes, four));
  CHECK_FALSE(add_counter_cells(cell(3, 1) + cell(0, 1), into));
  CHECK_FALSE(add_counter_cells(cell(3, 1) + cell(3, 1), into));
  CHECK_FALSE(add_counter_cells(cell(0, 1).substr(0, 8), into));
}

TEST_CASE("merged cells store the bytes a Put of their sum stores, before and after a compaction") {
  test::temp_dir dir;
  counter_db c(dir.sub("db"));
  const rocksdb::WriteOptions wo;
  REQUIRE(c.db->Merge(wo, "fresh", cell(0, 1) + cell(1, 1)).ok());
  REQUIRE(c.db->Merge(wo, "fresh", cell(1, 2) + cell(13, 4)).ok());
  REQUIRE(c.db->Put(wo, "stored", cell(2, 10)).ok());
  REQUIRE(c.db->Merge(wo, "stored", cell(0, 5)).ok());
  // A difference that empties a cell: the cell is left out of the sum.
  REQUIRE(c.db->Merge(wo, "stored", cell(2, static_cast<std::uint64_t>(-10))).ok());
  REQUIRE(c.db->Put(wo, "deleted", cell(4, 9)).ok());
  REQUIRE(c.db->Delete(wo, "deleted").ok());
  REQUIRE(c.db->Merge(wo, "deleted", cell(7, 1)).ok());
  for (int pass = 0; pass < 2; ++pass) {
    INFO("pass " << pass << (pass == 0 ? " (memtable)" : " (compacted)"));
    CHECK(c.get("fresh") == cell(0, 1) + cell(1, 3) + cell(13, 4));
    CHECK(c.get("stored") == cell(0, 5));
    CHECK(c.get("deleted") == cell(7, 1));
    REQUIRE(c.db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  }
}

TEST_CASE("a counter merged back to zero stays a key of zero, in both shapes") {
  test::temp_dir dir;
  counter_db c(dir.sub("db"));
  const rocksdb::WriteOptions wo;
  REQUIRE(c.db->Merge(wo, "cells", cell(0, 1) + cell(3, 2)).ok());
  REQUIRE(
      c.db->Merge(wo, "cells",
                  cell(0, static_cast<std::uint64_t>(-1)) + cell(3, static_cast<std::uint64_t>(-2)))
          .ok());
  REQUIRE(c.db->Merge(wo, "count", be64_delta(4)).ok());
  REQUIRE(c.db->Merge(wo, "count", be64_delta(-4)).ok());
  for (int pass = 0; pass < 2; ++pass) {
    INFO("pass " << pass << (pass == 0 ? " (memtable)" : " (compacted)"));
    CHECK(c.get("cells").empty());
    CHECK(c.get("count") == be64_delta(0));
    CHECK(classify_counter(c.get("cells")) == counter_value::zero);
    CHECK(classify_counter(c.get("count")) == counter_value::zero);
    REQUIRE(c.db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  }
}

TEST_CASE("a stored counter is told zero, positive, below zero or malformed") {
  CHECK(classify_counter("") == counter_value::zero);
  CHECK(classify_counter(be64_delta(0)) == counter_value::zero);
  CHECK(classify_counter(be64_delta(3)) == counter_value::positive);
  CHECK(classify_counter(be64_delta(-1)) == counter_value::negative);
  CHECK(classify_counter(cell(0, 1) + cell(7, 2)) == counter_value::positive);
  CHECK(classify_counter(cell(0, 1) + cell(7, static_cast<std::uint64_t>(-1))) ==
        counter_value::negative);
  CHECK(classify_counter(cell(7, 1) + cell(0, 1)) == counter_value::malformed);  // out of order
  CHECK(classify_counter("abc") == counter_value::malformed);
}

TEST_CASE("a count merged into cells, or cells into a count, fails the read") {
  test::temp_dir dir;
  counter_db c(dir.sub("db"));
  const rocksdb::WriteOptions wo;
  REQUIRE(c.db->Put(wo, "count", be64_value(3)).ok());
  REQUIRE(c.db->Merge(wo, "count", cell(0, 1)).ok());
  REQUIRE(c.db->Put(wo, "cells", cell(0, 1)).ok());
  REQUIRE(c.db->Merge(wo, "cells", be64_delta(1)).ok());
  REQUIRE(c.db->Merge(wo, "unordered", cell(2, 1) + cell(1, 1)).ok());
  std::string v;
  CHECK(c.db->Get(rocksdb::ReadOptions(), "count", &v).IsCorruption());
  CHECK(c.db->Get(rocksdb::ReadOptions(), "cells", &v).IsCorruption());
  CHECK(c.db->Get(rocksdb::ReadOptions(), "unordered", &v).IsCorruption());
}

TEST_CASE("a counter or a difference of neither shape fails the read, never a made-up sum") {
  test::temp_dir dir;
  counter_db c(dir.sub("db"));
  const rocksdb::WriteOptions wo;
  REQUIRE(c.db->Put(wo, "short", "abc").ok());
  REQUIRE(c.db->Merge(wo, "short", be64_delta(1)).ok());
  REQUIRE(c.db->Merge(wo, "bad-operand", "xyz").ok());
  std::string v;
  CHECK(c.db->Get(rocksdb::ReadOptions(), "short", &v).IsCorruption());
  CHECK(c.db->Get(rocksdb::ReadOptions(), "bad-operand", &v).IsCorruption());
}

}  // namespace caseline::storage
