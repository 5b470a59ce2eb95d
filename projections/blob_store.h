#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace caseline::projections {

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

 private:
  std::string dir_;
};

// 64 lower-case hex digits?
bool is_sha256_hex(std::string_view s);

}  // namespace caseline::projections
