#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "events/event_log.h"

namespace caseline::events {

// A data key as the journal holds it: the key's name (a case id) and the key wrapped by the
// master key (never the key in the clear).
struct journaled_key {
  std::string id;
  std::string wrapped;
};

// A log that writes a new case's wrapped data key in the same durable write as the case's first
// record, so that one WAL sync makes both durable (the embedded log: its own column family, in
// the same WriteBatch as the record). The key store is the journal's reader: it copies every
// journaled key into itself, makes the copy durable, then erases the journal's entry; at start
// it copies what a crash left in the journal. A record is thus never durable without its key,
// and an answer waits for one sync instead of two in series.
//
// Crypto-shredding: the journal is a second copy of a key for a short time (until the key
// store's next sync), and its bytes may stay in the log database's files after the erase (the
// WAL until the records' memtable is flushed, an SST until compaction). purge() removes them:
// a shred calls it after deleting the key from the key store.
//
// Thread-safety: every member from any thread. Lives as long as its log (journal_of in
// events/embedded_event_log.h).
class key_journal {
 public:
  // Runs on the log's writer thread after each durable write that held keys, with those keys,
  // before that write's append handlers run. It must not block for long (the next write waits).
  using durable_handler = std::function<void(std::span<const journaled_key>)>;

  virtual ~key_journal() = default;

  // event_log::append, with `k` written in the same durable write as the record.
  virtual void append_with_key(std::string key, std::string value, journaled_key k,
                               event_log::append_handler handler) = 0;
  // Sets (or, with an empty function, clears) the handler; clearing waits for a running call.
  virtual void on_durable(durable_handler handler) = 0;
  // Every entry written and not erased yet (after a crash: keys the key store may not hold).
  virtual result<std::vector<journaled_key>> pending() = 0;
  // Drops entries that the key store holds durably. Not synced: an erase lost in a crash only
  // leaves an entry that is copied again.
  virtual result<void> erase(std::span<const std::string> ids) = 0;
  // Deletes entries for ever (a shred): a synced delete, then a flush of every column family and
  // a compaction of the journal's, so that no file of the log database holds those keys' bytes.
  virtual result<void> purge(std::span<const std::string> ids) = 0;
};

}  // namespace caseline::events

// The Kafka log with a group is a key journal too: a new case's wrapped key goes to the group's
// keys topic in the same transaction as the case's first record, and the key store takes it once
// committed and visible. There pending() and erase() have nothing to do (the key replica applies
// the keys topic from its stored offsets at start), and a shred is the keys topic's tombstone,
// the group's one design for every key; purge() does nothing.
