#pragma once

// The free space of the disk that holds a data folder, and the reserve a server keeps on it.
//
// A full disk fails RocksDB's writes in the middle of its work (a WAL append, a flush, a
// compaction), and a process that then writes again through the same file may be stopped by
// RocksDB itself. So the server refuses new writes before that point: while the free space under
// the data folder is below the reserve, every command is answered 503 disk-full (nothing
// written), reads go on, and the projections, the key store, RocksDB's flushes and compactions
// still have the reserve to finish what the log already holds. Writes resume by themselves once
// an operator has freed space (the guard reads the disk again at every refresh()).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/result.h"

namespace caseline::storage {

// Whether writes under `dir` are refused: free space below `reserve_bytes` (0: never). refresh()
// reads the disk (a periodic task of the server calls it); the rest read what it found last.
// Thread-safe: refresh() from one thread at a time, the rest from any.
class disk_guard {
 public:
  disk_guard(std::string dir, std::uint64_t reserve_bytes);

  // Reads the disk again. Returns whether writes were refused before and are not now, or the
  // other way round (the caller logs the change); a disk that cannot be read leaves the last
  // reading as it was.
  result<bool> refresh();
  bool refusing() const { return refusing_.load(std::memory_order_relaxed); }
  std::uint64_t free_bytes() const { return free_.load(std::memory_order_relaxed); }
  std::uint64_t reserve_bytes() const { return reserve_; }
  const std::string& dir() const { return dir_; }
  // errc::disk_full, naming the free space, the reserve and the folder.
  error refusal() const;

 private:
  const std::string dir_;
  const std::uint64_t reserve_;
  std::atomic<std::uint64_t> free_{0};
  std::atomic<bool> refusing_{false};
};

}  // namespace caseline::storage
