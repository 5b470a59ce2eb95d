#pragma once

#include <functional>
#include <vector>

namespace caseline::events {

// Work for a whole burst of acknowledgements, done on the log's own thread. Called from an
// append handler (event_log::append_handler), it keeps `f` and runs it on the same thread once
// every handler of the same durable write has run (the embedded log: one group commit), before
// the log's next write: one call for the burst, and no hop to another thread. Returns false, and
// drops `f`, when the calling thread is not running such handlers (the Kafka log, any other
// thread): the caller hands the work to a thread of its own then. `f` must not block, as an
// append handler must not.
bool after_acknowledgements(std::function<void()> f);

// The embedded log's side (events/embedded_event_log.cpp): while one is alive on a thread,
// after_acknowledgements there keeps work; run() closes the scope, then does the work kept,
// oldest first (the destructor runs what run() did not). Scopes nest: the innermost keeps. Not
// thread-safe: one thread.
class acknowledgement_scope {
 public:
  acknowledgement_scope();
  ~acknowledgement_scope();
  acknowledgement_scope(const acknowledgement_scope&) = delete;
  acknowledgement_scope& operator=(const acknowledgement_scope&) = delete;
  void run();

 private:
  friend bool after_acknowledgements(std::function<void()> f);
  std::vector<std::function<void()>> kept_;
  acknowledgement_scope* outer_;
};

}  // namespace caseline::events
