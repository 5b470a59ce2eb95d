#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "projections/store.h"

namespace caseline::projections {

// One read of a case's personal data (caller name, phone, content) by a token.
struct access_entry {
  timestamp at;
  std::string token_id;
  std::string role;
  std::string case_id;
  std::string route;           // "/v1/cases/{id}", ...
  std::string correlation_id;
};

class access_batch;

// The record of who read which case's personal data, in the `access_log` family, ordered by
// time. Not a log event: it is about reads, and must not grow the case streams.
// Thread-safe; holds a reference to the store, which must outlive it.
class access_log {
 public:
  explicit access_log(store& s) : store_(s) {}

  // Written at once (one Put: in the store's WAL when it returns), unless an access_batch of the
  // same store is open on the calling thread: then the entry joins that batch's single write.
  result<void> record(const access_entry& e);
  // The entries about one case, oldest first (a scan: for audits, not for hot paths).
  result<std::vector<access_entry>> of_case(const std::string& case_id) const;

 private:
  store& store_;
};

// A run of answers on one thread (the writer's answers of one group commit of the log) whose
// reads are recorded with one write instead of one Put each. While it is open, access_log::record
// on this thread only stages the entry, and after_recorded() holds each answer back until
// commit() has written every staged entry: an answer never leaves before its access entry is in
// the store's WAL (as with a single Put), so no answered read goes unrecorded; a failed write
// fails every answer of the batch instead.
//
// Lifecycle: opened and committed on one thread; commit() closes it (the destructor commits a
// batch still open), so the answers it runs record their own reads at once. Batches nest: the
// innermost takes the reads. Not thread-safe; holds a reference to the store.
class access_batch {
 public:
  using answer = std::function<void(result<void> recorded)>;

  explicit access_batch(store& s);
  ~access_batch();
  access_batch(const access_batch&) = delete;
  access_batch& operator=(const access_batch&) = delete;

  // Closes the batch, writes the staged entries (one WriteBatch), then runs the held answers
  // with the write's outcome. Idempotent.
  void commit();

  // Runs `a` once the reads recorded so far on this thread are written: at once (with success)
  // when no batch is open here, else from the open batch's commit().
  static void after_recorded(answer a);

 private:
  friend class access_log;
  // The batch open on this thread for s, if any.
  static access_batch* open_for(const store& s);

  store& store_;
  std::vector<std::pair<std::string, std::string>> staged_;  // key, value
  std::vector<answer> held_;
  access_batch* outer_;  // the batch that was open here before (one per thread at a time)
  bool committed_{false};
};

// Reads recorded from several threads and written together: the gateway's I/O threads stage
// the entries of the reads their loops have ready, each with the answer that must wait for it,
// and one write() — which the stager of the first entry arranges to run behind them — writes
// every entry staged so far with one WriteBatch (in the store's WAL when it returns, as a single
// Put is), then runs their answers with its outcome: no answer leaves before its entry is
// written, and a failed write fails every answer it held.
//
// Lifecycle: made with the api, over its store (which must outlive it). Answers still held
// when it is destroyed are dropped unanswered, their entries unwritten (the server stopped
// first: its answers would be dropped too). Thread-safe: stage() and write() from any thread.
class access_gatherer {
 public:
  using answer = std::function<void(result<void> recorded)>;

  explicit access_gatherer(store& s) : store_(s) {}

  // Queues `e` and holds `a` for the next write(). True when nothing was queued before: the
  // caller arranges a write().
  bool stage(const access_entry& e, answer a);
  // Writes what is queued, then runs the answers it held. Nothing queued: nothing happens.
  void write();

 private:
  store& store_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> staged_;  // key, value; guarded by mu_
  std::vector<answer> held_;                                 // guarded by mu_
};

}  // namespace caseline::projections
