#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/ids.h"
#include "core/result.h"
#include "projections/blob_store.h"
#include "projections/key_store.h"

namespace caseline::projections {

// The key store ids of staging keys begin with this (then the audio's SHA-256). They stay in the
// server's own key store (a single server's staged audio; a group derives its staging keys).
inline constexpr std::string_view staging_key_prefix = "recording:";

// How a group shares its call audio (projections/audio_replica.h), as the recordings see it:
// every copy of a recording file, sealed (never plain audio), goes to the group's audio topic and
// every server applies it into its own blob store. Thread-safety: every member from any thread.
class audio_replication {
 public:
  virtual ~audio_replication() = default;
  // Publishes a staged file (sealed under its derived staging key); returns once acknowledged.
  virtual result<void> publish_staged(std::string_view sha256_hex, std::string_view file) = 0;
  // Commits the claimed file through the fenced writer of `owner`'s partition, then deletes the
  // staged copy (`staged_size` bytes) from the topic. Returns at once; `done` runs on a log thread
  // with the outcome (events::errc::not_owner, fenced, ... as for an append).
  virtual void commit_claimed(const case_id& owner, std::string_view sha256_hex,
                              std::string_view file, std::size_t staged_size,
                              std::function<void(result<void>)> done) = 0;
  // Deletes every copy from the topic (tombstones: the claimed one, `file_size` bytes or 0 when
  // unknown, through `owner`'s partition's fenced writer; the staged one); returns once committed.
  virtual result<void> purge(const case_id& owner, std::string_view sha256_hex,
                             std::size_t file_size) = 0;
  // Returns once this server has applied, up to their end now, the topic's partitions that hold
  // the recording's copies (the staged one's, and `owner`'s when not empty), or the deadline
  // passed: a recording missing then is missing in the group.
  virtual result<void> await(std::string_view sha256_hex, const case_id& owner,
                             std::chrono::steady_clock::time_point deadline) = 0;
};

// Is this recording file (as the blob store holds it) a claimed copy? Staged and plain ones are
// not.
bool is_claimed_recording(std::string_view file);

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
// In a group (blob_store::replication() set) every server holds every recording: a staged file
// is sealed under a key derived from the master key and the audio's SHA-256 (HKDF; the same on
// every server, so nothing but the sealed audio is published) and published to the audio topic
// before the upload is answered; the claim commits the claimed file through the case's partition's
// fenced writer, then deletes the staged copy; a recording not here yet is waited for (up to 5 s)
// before it is "not there"; purge deletes every server's copy.
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
  // Art. 38: deletes the case's recording, here and (in a group, through the owner of the case's
  // partition: events::errc::not_owner elsewhere) on every server. Idempotent. Its case's purge
  // event is the caller's.
  result<void> purge(std::string_view sha256_hex, const case_id& owner);

  // The blob store the files are in (whether a recording is still stored here).
  const blob_store& blobs() const { return blobs_; }

  // How long a read or a claim waits for a group's audio topic before "not there".
  static constexpr std::chrono::seconds replica_wait{5};

 private:
  // The file, waiting for the group's audio topic when it is not here yet.
  result<std::string> read(std::string_view sha256_hex, const case_id& owner);

  blob_store& blobs_;
  key_store& keys_;
};

}  // namespace caseline::projections
