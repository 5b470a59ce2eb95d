#pragma once

#include <string>
#include <string_view>

#include "core/ids.h"
#include "core/result.h"
#include "projections/blob_store.h"
#include "projections/key_store.h"

namespace caseline::projections {

// The key store ids of staging keys begin with this (then the audio's SHA-256). They stay in the
// server's own key store, as the staged audio stays in its blob store.
inline constexpr std::string_view staging_key_prefix = "recording:";

// Call audio, sealed (AES-256-GCM) in the blob store, named by the SHA-256 of the audio.
//
// The audio is uploaded before its case exists, so it lives in two states:
// - staged: sealed under a key of its own, kept in the key store under "recording:<sha256>";
// - claimed: once the case that references it is in the log, re-sealed under that case's data
//   key (the file names the case), and the staging key deleted. Shredding the case's key then
//   makes its audio unreadable, wherever a copy of the file is; purging the recording (Art. 38)
//   deletes the file.
// A recording belongs to one case: a second case cannot claim it. Files written before audio
// was sealed (plain audio whose SHA-256 is their name) are still read, and sealed when claimed.
//
// Thread-safe for different recordings (files are replaced atomically, keys are in RocksDB);
// borrows the blob and key stores, which must outlive it.
class recording_store {
 public:
  recording_store(blob_store& blobs, key_store& keys) : blobs_(blobs), keys_(keys) {}

  // Stages audio; returns its SHA-256 (lower-case hex). Staging the same audio again is a no-op
  // while it is staged; audio a case has claimed is not staged again.
  result<std::string> stage(std::string_view audio);
  // May a case being received reference this recording? events::errc::not_found when there is
  // no such recording (or its staging key is gone), core::errc::invalid_argument when another
  // case has claimed it.
  result<void> claimable(std::string_view sha256_hex, const case_id& by);
  // Re-seals a staged (or plain) recording under the case's data key. Idempotent.
  result<void> claim(std::string_view sha256_hex, const case_id& owner);
  // The audio of the case's recording: claimed for it first if still staged (a crash between
  // the case's append and its claim). events::errc::not_found when it was purged, shredded,
  // or belongs to another case; events::errc::corrupt_record when the bytes fail their tag.
  result<std::string> open(std::string_view sha256_hex, const case_id& owner);

 private:
  blob_store& blobs_;
  key_store& keys_;
};

}  // namespace caseline::projections
