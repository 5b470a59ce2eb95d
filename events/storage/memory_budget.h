#pragma once

// One memory budget for the RocksDB databases of a process (the projection store, the embedded
// log, the key store): a single LRU block cache they share — data, index and filter blocks — and
// one WriteBufferManager that charges the memtables of every family of every database to that
// same cache. So what RocksDB holds is about the cache's size, however many databases and
// families there are and however large they grow (the cache is not strict: a read may pin a
// block over it for a moment). Kept apart from RocksDB's option headers so that the headers that
// name a budget need not include them.

#include <cstddef>
#include <memory>

namespace rocksdb {
class Cache;
class WriteBufferManager;
struct DBOptions;
struct ColumnFamilyOptions;
}  // namespace rocksdb

namespace caseline::storage {

// A value: copies share the one cache and write buffer manager. Thread-safe (RocksDB's cache and
// manager are); the options it sets keep them alive as long as a database uses them.
class memory_budget {
 public:
  // `cache_bytes` in all; the memtables of every database that uses it at most
  // `write_buffer_bytes` of that (then RocksDB flushes the largest).
  memory_budget(std::size_t cache_bytes, std::size_t write_buffer_bytes);

  std::size_t cache_bytes() const { return cache_bytes_; }
  const std::shared_ptr<rocksdb::Cache>& cache() const { return cache_; }

  // A database under the budget: its memtables are charged to the shared cache.
  void apply(rocksdb::DBOptions& db) const;
  // What a family's Bloom filters (10 bits an entry, in its tables and in its memtable) hold:
  // none; its whole keys, so that a read of a key that is not there costs no search of the files
  // (families read a key at a time); or the prefixes of its keys by the family's
  // `prefix_extractor`, which the caller sets, so that a scan of one prefix searches only the
  // files that hold it (families read a prefix at a time).
  enum class filter { none, whole_keys, prefixes };

  // A family under the budget: memtables of `write_buffer` bytes before a flush, its tables read
  // through the shared cache with their index and filter blocks in it (those of level 0 pinned),
  // partitioned in blocks of 4 KiB under a pinned top level, so that a large table's are cached;
  // Bloom filters as `f` says.
  void apply(rocksdb::ColumnFamilyOptions& family, std::size_t write_buffer, filter f) const;

 private:
  std::size_t cache_bytes_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
};

}  // namespace caseline::storage
