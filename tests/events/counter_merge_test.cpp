#include "events/storage/counter_merge.h"

#include <cstdint>
#include <memory>
#include <string>

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
    options.merge_operator = be64_add_operator();
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
  CHECK(std::string(be64_add_operator()->Name()) == "caseline.be64_add");
}

TEST_CASE("a counter or a difference that is not 8 bytes fails the read, never a made-up sum") {
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
