#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace caseline::projections {

class audio_replication;  // projections/recordings.h

// Call audio, content-addressed by SHA-256 under <data>/blobs/<first 2 hex>/<hex>. A blob is
// written atomically (temporary file, fsync, rename, fsync of the folder), so a crash leaves
// either the whole blob or none; a read checks the bytes against the name. Files only: safe to
// use from several processes and threads.
class blob_store {
 public:
  explicit blob_store(std::string dir) : dir_(std::move(dir)) {}

  // Stores the bytes; returns their SHA-256 (lower-case hex). Storing the same bytes twice is
  // a no-op.
  result<std::string> put(std::string_view bytes);
  // The bytes of a blob: events::errc::corrupt_record when they no longer match their hash,
  // events::errc::not_found when there is no such blob.
  result<std::string> get(std::string_view sha256_hex) const;
  bool exists(std::string_view sha256_hex) const;
  // The raw file layer under put/get, for content stored under the hash of something else (a
  // recording sealed under a key, named by the SHA-256 of its audio): `write` replaces the blob
  // atomically; `read` returns its bytes unchecked, events::errc::not_found when there is none.
  result<void> write(std::string_view sha256_hex, std::string_view bytes);
  result<std::string> read(std::string_view sha256_hex) const;
  // Deletes a blob (and syncs its folder). Deleting a missing blob is a no-op.
  result<void> remove(std::string_view sha256_hex);
  std::string path_of(std::string_view sha256_hex) const;
  // The names (SHA-256 hex) of every blob held now, sorted; the files beside them are not blobs.
  result<std::vector<std::string>> list() const;

  // Files beside the blobs that are not blobs (a group's audio replica: chunks still being
  // assembled, its offsets), by a path relative to the store's folder ("parts/x/0"): written
  // atomically like a blob, read whole (events::errc::not_found when missing), removed with
  // everything under them.
  result<void> write_file(std::string_view relative, std::string_view bytes);
  result<std::string> read_file(std::string_view relative) const;
  bool file_exists(std::string_view relative) const;
  result<void> remove_all(std::string_view relative);

  // In a group, the recordings (projections/recordings.h) share their copies through `r` from
  // now on; set before any other use, and `r` outlives the store's use (null: local only).
  void replicate(audio_replication* r) { replication_ = r; }
  audio_replication* replication() const { return replication_; }

 private:
  std::string dir_;
  audio_replication* replication_{nullptr};
};

// 64 lower-case hex digits?
bool is_sha256_hex(std::string_view s);

}  // namespace caseline::projections
