#include "events/storage/key.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/write_batch.h>

#include "events/errc.h"
#include "events/storage/memory_budget.h"
#include "events/storage/scan.h"
#include "events/storage/status.h"
#include "tests/support/temp_dir.h"

namespace caseline::storage {

namespace {

using caseline::test::temp_dir;

// A real RocksDB in a temporary folder, default family only. Closed by the destructor.
struct test_db {
  explicit test_db(const std::filesystem::path& dir) {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    const auto s = rocksdb::DB::Open(options, dir.string(), &raw);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    db.reset(raw);
  }
  void put(std::string_view key, std::string_view value) {
    REQUIRE(db->Put(rocksdb::WriteOptions(), rocksdb::Slice(key.data(), key.size()),
                    rocksdb::Slice(value.data(), value.size()))
                .ok());
  }
  std::unique_ptr<rocksdb::DB> db;
};

std::vector<std::string> keys_of(rocksdb::DB& db, const key_range& range) {
  std::vector<std::string> out;
  auto r = scan(db, db.DefaultColumnFamily(), range, "scan", [&](std::string_view k, auto) {
    out.emplace_back(k);
    return scan_step::next;
  });
  REQUIRE(r);
  return out;
}

// "case-" and `n` in 8 digits, so that the keys sort by number.
std::string numbered_key(int n) {
  std::string digits = std::to_string(n);
  return "case-" + std::string(8 - digits.size(), '0') + digits;
}

}  // namespace

TEST_CASE("a key reads back the parts it was built from") {
  const std::string key = key_builder()
                              .literal("log/")
                              .field("case-1")
                              .field("2024", '/')
                              .be32(7)
                              .be64(1ull << 40)
                              .literal("tail")
                              .str();
  key_parser p(key);
  CHECK(p.literal("log/"));
  CHECK(p.field() == std::optional<std::string_view>("case-1"));
  CHECK(p.field('/') == std::optional<std::string_view>("2024"));
  CHECK(p.be32() == std::optional<std::uint32_t>(7));
  CHECK(p.be64() == std::optional<std::uint64_t>(1ull << 40));
  CHECK_FALSE(p.done());
  CHECK(p.rest() == "tail");
  CHECK(p.done());
}

TEST_CASE("a key without the part asked for fails to parse") {
  CHECK_FALSE(key_parser("log").literal("log/"));
  CHECK_FALSE(key_parser("no separator").field().has_value());
  CHECK_FALSE(key_parser(std::string_view("\0\0\0", 3)).be32().has_value());
  CHECK_FALSE(key_parser("seven b").be64().has_value());
  CHECK(parse_be64_value(be64_value(42)) == std::optional<std::uint64_t>(42));
  CHECK_FALSE(parse_be64_value("short").has_value());
  CHECK_FALSE(parse_be64_value("nine bytes").has_value());
}

TEST_CASE("keys sort as their parts do: numbers numerically, fields field by field") {
  const auto n32 = [](std::uint32_t v) { return key_builder().be32(v).str(); };
  const auto n64 = [](std::uint64_t v) { return key_builder().be64(v).str(); };
  CHECK(n32(1) < n32(255));
  CHECK(n32(255) < n32(256));
  CHECK(n32(65535) < n32(1u << 31));
  CHECK(n64(9) < n64(10));
  CHECK(n64(0xff) < n64(0x100));
  CHECK(n64(1ull << 32) < n64(~0ull));
  // A shorter field sorts before a longer one it begins, whatever follows.
  const auto row = [](std::string_view id, std::uint64_t seq) {
    return key_builder().field(id).be64(seq).str();
  };
  CHECK(row("a", 99) < row("ab", 0));
  CHECK(row("a", 1) < row("a", 2));
  CHECK(row("a", 255) < row("a", 256));
}

TEST_CASE("a prefix scan visits its prefix's rows in order and stops at the prefix end") {
  temp_dir dir;
  test_db t(dir.path());
  const std::string p = key_builder().field("case-1").str();
  for (std::uint64_t seq : {300, 2, 1, 256}) t.put(key_builder().literal(p).be64(seq).str(), "row");
  t.put("case-1", "shorter than the prefix");
  t.put(key_builder().field("case-10").be64(1).str(), "a longer field");
  t.put("case-1\x01", "right after the prefix");
  t.put("case-0\xff", "right before the prefix");
  const auto seq_key = [&](std::uint64_t seq) { return key_builder().literal(p).be64(seq).str(); };

  SUBCASE("every row of the prefix, nothing else") {
    CHECK(keys_of(*t.db, {p, {}, {}}) ==
          std::vector<std::string>{seq_key(1), seq_key(2), seq_key(256), seq_key(300)});
  }
  SUBCASE("from a key on, below another") {
    CHECK(keys_of(*t.db, {p, seq_key(2), seq_key(300)}) ==
          std::vector<std::string>{seq_key(2), seq_key(256)});
  }
  SUBCASE("a bound past the prefix's end is the prefix's end") {
    CHECK(keys_of(*t.db, {p, seq_key(256), "case-2"}) ==
          std::vector<std::string>{seq_key(256), seq_key(300)});
  }
  SUBCASE("a prefix that ends in 0xff bytes") {
    CHECK(keys_of(*t.db, {"case-0\xff", {}, {}}) == std::vector<std::string>{"case-0\xff"});
  }
  SUBCASE("an empty prefix is the whole family") { CHECK(keys_of(*t.db, {}).size() == 8); }
  SUBCASE("the visitor stops it") {
    std::vector<std::string> seen;
    auto r = scan(*t.db, t.db->DefaultColumnFamily(), {p, {}, {}}, "scan",
                  [&](std::string_view k, std::string_view) {
                    seen.emplace_back(k);
                    return seen.size() == 2 ? scan_step::stop : scan_step::next;
                  });
    CHECK(r);
    CHECK(seen == std::vector<std::string>{seq_key(1), seq_key(2)});
  }
  SUBCASE("the visitor's error ends it and is returned") {
    int visited = 0;
    auto r = scan(*t.db, t.db->DefaultColumnFamily(), {p, {}, {}}, "scan",
                  [&](std::string_view, std::string_view) -> result<scan_step> {
                    ++visited;
                    return make_error(events::errc::corrupt_record, "bad row");
                  });
    REQUIRE_FALSE(r);
    CHECK(r.error().code == events::errc::corrupt_record);
    CHECK(visited == 1);
  }
  SUBCASE("get: a value, or none") {
    auto v = get(*t.db, t.db->DefaultColumnFamily(), "case-1", "get");
    REQUIRE(v);
    CHECK(v.value() == std::optional<std::string>("shorter than the prefix"));
    auto none = get(*t.db, t.db->DefaultColumnFamily(), "case-2", "get");
    REQUIRE(none);
    CHECK_FALSE(none.value().has_value());
  }
}

TEST_CASE("a prefix scan over a damaged table reports the read error, not the end of the rows") {
  temp_dir dir;
  {
    test_db t(dir.path());
    // Enough rows for several data blocks, flushed into a table file.
    rocksdb::WriteBatch batch;
    for (std::uint64_t i = 0; i < 5000; ++i)
      batch.Put(key_builder().field("p").be64(i).str(), std::string(100, 'v'));
    REQUIRE(t.db->Write(rocksdb::WriteOptions(), &batch).ok());
    REQUIRE(t.db->Flush(rocksdb::FlushOptions()).ok());
  }
  std::filesystem::path table;
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))
    if (f.path().extension() == ".sst") table = f.path();
  REQUIRE_FALSE(table.empty());
  {
    // Overwrite bytes of the first data block (the index and footer at the end stay intact).
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    const std::string junk(256, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  test_db t(dir.path());
  std::size_t visited = 0;
  auto r = scan(*t.db, t.db->DefaultColumnFamily(), {key_builder().field("p").str(), {}, {}},
                "read the damaged rows", [&](std::string_view, std::string_view) {
                  ++visited;
                  return scan_step::next;
                });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == events::errc::fatal);
  CHECK(r.error().detail.starts_with("read the damaged rows: Corruption"));
  CHECK(visited < 5000);
}

TEST_CASE("RocksDB statuses translate into retriable and fatal errors") {
  CHECK(from_rocksdb(rocksdb::Status::Busy(), "write").code == events::errc::unavailable);
  CHECK(from_rocksdb(rocksdb::Status::TryAgain(), "write").code == events::errc::unavailable);
  CHECK(from_rocksdb(rocksdb::Status::TimedOut(), "write").code == events::errc::unavailable);
  CHECK(from_rocksdb(rocksdb::Status::Incomplete(), "write").code == events::errc::unavailable);
  const error e = from_rocksdb(rocksdb::Status::Corruption("bad block"), "read rows");
  CHECK(e.code == events::errc::fatal);
  CHECK(e.detail == "read rows: Corruption: bad block");
  CHECK(from_rocksdb(rocksdb::Status::IOError(), "read").code == events::errc::fatal);
}

TEST_CASE("under the memory budget a large table's index and filter stay cached between reads") {
  // A cache of 4 MiB is 8 shards of 512 KiB; the table below has 600,000 keys, so its Bloom
  // filter alone is some 730 KiB, more than a shard holds. Whole, it would be read from the file
  // again at every read.
  temp_dir dir;
  const memory_budget budget(4 << 20, 256 << 10);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.disable_auto_compactions = true;  // only the compaction below
  budget.apply(options);
  // Memtables of 1 MiB: an empty one's arena is charged to the cache as one 256 KiB entry. Of
  // 8 MiB, it would be four, and two in one shard leave no room for any block there.
  budget.apply(options, 1 << 20, memory_budget::filter::whole_keys);
  rocksdb::DB* raw = nullptr;
  const auto opened = rocksdb::DB::Open(options, dir.path().string(), &raw);
  REQUIRE_MESSAGE(opened.ok(), opened.ToString());
  const std::unique_ptr<rocksdb::DB> db(raw);
  for (int batch = 0; batch < 60; ++batch) {
    rocksdb::WriteBatch wb;
    for (int i = 0; i < 10'000; ++i) REQUIRE(wb.Put(numbered_key(batch * 10'000 + i), "v").ok());
    REQUIRE(db->Write(rocksdb::WriteOptions(), &wb).ok());
  }
  // One table below level 0 (whose metadata would be pinned).
  rocksdb::CompactRangeOptions all;
  all.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  REQUIRE(db->CompactRange(all, nullptr, nullptr).ok());
  std::string files;
  REQUIRE(db->GetProperty("rocksdb.num-files-at-level0", &files));
  CHECK(files == "0");

  // Blocks read from the file by this thread's reads only (RocksDB's perf context): a table
  // opened by a background thread meanwhile does not count.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  auto* const reads = rocksdb::get_perf_context();
  std::string value;
  REQUIRE(db->Get(rocksdb::ReadOptions(), "case-00300000", &value).ok());
  reads->Reset();
  REQUIRE(db->Get(rocksdb::ReadOptions(), "case-00300000", &value).ok());
  CHECK(db->Get(rocksdb::ReadOptions(), "case-00300000x", &value).IsNotFound());
  const auto index_reads = reads->index_block_read_count;
  const auto filter_reads = reads->filter_block_read_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  // The second read found the partitions it needs cached.
  CHECK(index_reads == 0);
  CHECK(filter_reads == 0);
}

}  // namespace caseline::storage
