#include "events/storage/ordered_batch.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "events/storage/counter_merge.h"
#include "events/storage/key.h"
#include "tests/support/temp_dir.h"

namespace caseline::storage {

namespace {

// A real RocksDB in a temporary folder with two families besides the default one, the second
// with the counter merge operator; closed by the destructor.
struct two_family_db {
  explicit two_family_db(const std::string& dir) {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    rocksdb::ColumnFamilyOptions counters;
    counters.merge_operator = counter_add_operator();
    const std::vector<rocksdb::ColumnFamilyDescriptor> cfs{
        {rocksdb::kDefaultColumnFamilyName, {}}, {"rows", {}}, {"counters", counters}};
    rocksdb::DB* raw = nullptr;
    const auto s = rocksdb::DB::Open(options, dir, cfs, &handles, &raw);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    db.reset(raw);
  }
  ~two_family_db() {
    // Closing: nothing to do about a failure.
    for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  }
  // Every family's keys and values, in order.
  std::map<std::pair<std::size_t, std::string>, std::string> contents() {
    std::map<std::pair<std::size_t, std::string>, std::string> out;
    for (std::size_t f = 0; f < handles.size(); ++f) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[f]));
      for (it->SeekToFirst(); it->Valid(); it->Next())
        out[{f, it->key().ToString()}] = it->value().ToString();
      REQUIRE(it->status().ok());
    }
    return out;
  }
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

// The batch's entries in the order they are applied: (family id, key).
std::vector<std::pair<std::uint32_t, std::string>> entries_of(rocksdb::WriteBatch& b) {
  struct lister final : rocksdb::WriteBatch::Handler {
    std::vector<std::pair<std::uint32_t, std::string>> out;
    rocksdb::Status PutCF(std::uint32_t cf, const rocksdb::Slice& k,
                          const rocksdb::Slice&) override {
      out.emplace_back(cf, k.ToString());
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(std::uint32_t cf, const rocksdb::Slice& k) override {
      out.emplace_back(cf, k.ToString());
      return rocksdb::Status::OK();
    }
    rocksdb::Status MergeCF(std::uint32_t cf, const rocksdb::Slice& k,
                            const rocksdb::Slice&) override {
      out.emplace_back(cf, k.ToString());
      return rocksdb::Status::OK();
    }
  } l;
  REQUIRE(b.Iterate(&l).ok());
  return l.out;
}

// Scattered keys in both families, and keys written more than once: a Put then a Delete, a
// Delete then a Put, Merges around a Put. Only their relative order decides what is stored.
void fill(rocksdb::WriteBatch& b, const two_family_db& db) {
  auto* rows = db.handles[1];
  auto* counters = db.handles[2];
  REQUIRE(b.Put(rows, "m", "1").ok());
  REQUIRE(b.Merge(counters, "d/2026-03-01", be64_delta(2)).ok());
  REQUIRE(b.Put(rows, "c", "first").ok());
  REQUIRE(b.Delete(rows, "x").ok());
  REQUIRE(b.Merge(counters, "d/2026-01-09", be64_delta(1)).ok());
  REQUIRE(b.Put(rows, "a", "gone").ok());
  REQUIRE(b.Put(rows, "x", "back").ok());
  REQUIRE(b.Delete(rows, "a").ok());
  REQUIRE(b.Put(counters, "d/2026-03-01", be64_value(10)).ok());
  REQUIRE(b.Put(rows, "c", "second").ok());
  REQUIRE(b.Merge(counters, "d/2026-03-01", be64_delta(5)).ok());
  REQUIRE(b.Put(db.handles[0], "z", "default").ok());
}

}  // namespace

TEST_CASE(
    "an ordered batch comes in family and key order and stores what the batch as built stores") {
  test::temp_dir dir;
  two_family_db as_built(dir.sub("as_built"));
  two_family_db ordered(dir.sub("ordered"));
  rocksdb::WriteBatch b1, b2;
  fill(b1, as_built);
  fill(b2, ordered);
  key_ordered_batch orderer;
  REQUIRE(orderer.order(b2, ordered.handles));
  CHECK(b2.Count() == b1.Count());

  const auto order = entries_of(b2);
  for (std::size_t i = 1; i < order.size(); ++i) {
    INFO(order[i - 1].second << " before " << order[i].second);
    CHECK(order[i - 1] <= order[i]);
  }
  // The same key keeps its entries' order: "c" first, then second.
  REQUIRE(as_built.db->Write(rocksdb::WriteOptions(), &b1).ok());
  REQUIRE(ordered.db->Write(rocksdb::WriteOptions(), &b2).ok());
  const auto expected = as_built.contents();
  CHECK(expected.at({1, "c"}) == "second");
  CHECK(expected.at({1, "x"}) == "back");
  CHECK_FALSE(expected.contains({1, "a"}));
  CHECK(expected.at({2, "d/2026-03-01"}) == be64_value(15));
  CHECK(ordered.contents() == expected);

  SUBCASE("its buffers serve the next batch") {
    rocksdb::WriteBatch again;
    REQUIRE(again.Put(ordered.handles[1], "b", "2").ok());
    REQUIRE(again.Put(ordered.handles[1], "a", "1").ok());
    REQUIRE(orderer.order(again, ordered.handles));
    CHECK(entries_of(again) ==
          std::vector<std::pair<std::uint32_t, std::string>>{{ordered.handles[1]->GetID(), "a"},
                                                             {ordered.handles[1]->GetID(), "b"}});
  }
}

TEST_CASE("a batch with an entry it does not reorder, or of an unknown family, is left as built") {
  test::temp_dir dir;
  two_family_db db(dir.sub("db"));
  key_ordered_batch orderer;
  rocksdb::WriteBatch ranged;
  REQUIRE(ranged.Put(db.handles[1], "b", "2").ok());
  REQUIRE(ranged.DeleteRange(db.handles[1], "c", "d").ok());
  REQUIRE(ranged.Put(db.handles[1], "a", "1").ok());
  const std::string before = ranged.Data();
  CHECK_FALSE(orderer.order(ranged, db.handles));
  CHECK(ranged.Data() == before);

  rocksdb::WriteBatch other_family;
  REQUIRE(other_family.Put(db.handles[2], "b", "2").ok());
  REQUIRE(other_family.Put(db.handles[1], "a", "1").ok());
  const std::string was = other_family.Data();
  const std::vector<rocksdb::ColumnFamilyHandle*> only_rows{db.handles[1]};
  CHECK_FALSE(orderer.order(other_family, only_rows));
  CHECK(other_family.Data() == was);
}

}  // namespace caseline::storage
