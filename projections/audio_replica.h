#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.h"
#include "core/result.h"
#include "events/event_log.h"
#include "events/key_log.h"
#include "projections/blob_store.h"
#include "projections/recordings.h"
#include "projections/replica_progress.h"

namespace caseline::projections {

// A group's call audio, shared through the audio topic ("<topic>.audio", compacted, beside the
// keys topic; events/key_log.h): this server's blob store kept in step with it, and the
// recordings' copies (recordings.h) published to it.
//
// Records hold recording files as the blob store holds them (sealed: never plain audio), in
// chunks of at most `chunk_size` bytes so that the broker's default message size limit holds:
// key "<sha256>/<s|c>/<n>" (s: the staged copy, c: the claimed copy, n from 0), value the number
// of chunks (4 bytes, big-endian), the SHA-256 of the whole file (32 bytes), then chunk n. A null
// value (tombstone) deletes the copy.
// - A staged copy goes to the partition of the audio's SHA-256, through a plain idempotent
//   producer (there is no case yet, so no owner); the staging key needs no publishing (derived
//   from the master key, recordings.h).
// - A claimed copy goes to the case's partition through that partition's fenced writer (a fenced
//   server commits none, so a zombie's copy is never applied), and only then the staged copy's
//   tombstones.
// - Applying: each chunk is kept in `<blobs>/parts/` until every chunk of its copy is there; the
//   whole file is then checked against its SHA-256 and written atomically as the blob. A staged
//   copy never replaces a claimed one; a staged tombstone deletes only a staged file, a claimed
//   one only a claimed file. The next offset of each partition is stored in `<blobs>/audio-offsets`
//   after the batch's files are written, so a restart resumes there (applying again is harmless).
//
// Back after an absence longer than the topic keeps its tombstones (options::away, from the time
// recorded in `seen_file`): start() reads the topic from its start (applying only what lies past
// the stored offsets), then, before it serves, deletes every recording it holds that the topic
// no longer names (a purged one whose tombstones compaction removed), except those it held
// before the group shared its audio (`local_file`).
//
// Lifecycle: start() subscribes from the stored offsets, applies every partition up to its end
// (for at most options::start: a new server with much audio to fetch goes on in the background,
// and a read waits for its own recording), then makes the blob store replicate through it; the
// destructor makes the blob store local again and stops the subscription. The log and the blob
// store must outlive it. Thread-safety: every member from any thread.
class audio_replica final : public audio_replication {
 public:
  struct options {
    std::chrono::milliseconds start{60'000};    // catching up at start
    std::chrono::milliseconds publish{30'000};  // a staged copy's or a purge's acknowledgements
    // Away longer than the topic's tombstones last (replica_progress.h): reading the topic from
    // its start instead, for at most `reconcile`.
    away_options away;
    std::chrono::milliseconds reconcile{1'800'000};
  };
  static constexpr std::size_t chunk_size = std::size_t{512} * 1024;
  // The largest recording file: the upload limit (32 MiB) and the file's header. A purge that does
  // not know a copy's size deletes this many chunks.
  static constexpr std::size_t max_file_size = std::size_t{32} * 1024 * 1024 + 4096;
  static constexpr std::string_view offsets_file = "audio-offsets";
  // When the topic was last applied here up to its end (milliseconds since the epoch, as text).
  static constexpr std::string_view seen_file = "audio-seen";
  // The recordings held at the first start in a group (one SHA-256 per line): never in the
  // topic, never dropped by a reconcile.
  static constexpr std::string_view local_file = "audio-local";

  static result<std::unique_ptr<audio_replica>> start(events::key_log& log, blob_store& blobs,
                                                      options o);
  static result<std::unique_ptr<audio_replica>> start(events::key_log& log, blob_store& blobs) {
    return start(log, blobs, options{});
  }
  ~audio_replica() override;
  audio_replica(const audio_replica&) = delete;
  audio_replica& operator=(const audio_replica&) = delete;

  result<void> publish_staged(std::string_view sha256_hex, std::string_view file) override;
  void commit_claimed(const case_id& owner, std::string_view sha256_hex, std::string_view file,
                      std::size_t staged_size, std::function<void(result<void>)> done) override;
  result<void> purge(const case_id& owner, std::string_view sha256_hex,
                     std::size_t file_size) override;
  result<void> await(std::string_view sha256_hex, const case_id& owner,
                     std::chrono::steady_clock::time_point deadline) override;
  // Returns once audio partition p is applied here up to the end it has now.
  result<void> catch_up(events::partition_id p, std::chrono::milliseconds timeout) {
    return progress_.catch_up(p, timeout);
  }
  // The error that stopped applying the audio topic, if any.
  std::optional<error> failure() const { return progress_.failure(); }
  // How many recordings start() deleted after an absence; none when there was no such read.
  std::optional<std::size_t> reconciled() const { return reconciled_; }

 private:
  audio_replica(events::key_log& log, blob_store& blobs, options o,
                const events::start_offsets& from, const events::start_offsets& stored,
                bool reconcile);
  result<std::size_t> drop_unnamed();
  result<void> on_batch(std::span<const events::log_record> records);
  result<void> apply(const events::log_record& r);
  result<void> store_offsets(events::partition_id p, std::int64_t next);

  events::key_log& log_;
  blob_store& blobs_;
  const options options_;
  std::mutex apply_mu_;               // one record applied at a time: a check-then-write of a blob
  std::vector<std::int64_t> stored_;  // guarded by apply_mu_: the offsets file's content
  std::vector<std::int64_t> resume_;  // the offsets file's content at start
  bool reconciling_;                  // guarded by apply_mu_: a read from the start under way
  std::set<std::string, std::less<>> named_;  // guarded by apply_mu_: the SHA-256s read so far
  std::optional<std::size_t> reconciled_;
  replica_progress progress_;         // last: its subscription calls on_batch
};

}  // namespace caseline::projections
