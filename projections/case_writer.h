#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/commands.h"
#include "core/decide.h"
#include "core/result.h"
#include "events/event_log.h"
#include "events/record.h"
#include "events/thread_pool.h"
#include "projections/case_projection.h"
#include "projections/clock.h"
#include "projections/personal_data.h"
#include "projections/runner.h"

namespace caseline::projections {

struct command_request {
  std::optional<case_id> id;  // absent for receive: the writer assigns the case id
  core::command cmd;
  core::actor who;
  std::string correlation_id;
  std::optional<std::uint64_t> if_match;  // the version the client saw
  std::optional<timestamp> occurred_at;
  // The Idempotency-Key the command was sent with: its record carries it, and the key index
  // (idempotency_index.h) finds the write after any outcome, a crash included.
  std::optional<events::idempotency_mark> idempotency;
  // For receive in a Kafka group: the partition the new case goes to, one this writer owns (the
  // gateway picks it: partition_for(idempotency key hash) when keyed, so a retry on any server
  // reaches the same writer). Absent: the writer picks among the partitions it owns.
  std::optional<events::partition_id> partition;
};

struct command_outcome {
  core::case_state state;  // after the command
  // Of the record that holds its events; none when the command decided no event (a reminder
  // that was already sent).
  std::optional<events::log_position> position;
  std::vector<events::envelope> events;
};

// The write side: decides commands against each case's current state and appends their events,
// one record per command. Commands for one case run one at a time, in arrival order, and each
// sees the previous one's acknowledged result (even before the projection has applied it);
// commands for different cases run concurrently and are batched by the log.
//
// An append error is the log's: events::errc::outcome_unknown when the record may be in the log,
// any other code when it certainly is not (errors before the append are never outcome_unknown).
// After an append whose outcome is unknown (error or timeout: it may still be in the log), the
// case's next command first waits for the projection to catch up with the log and reloads the
// state from it, so no decision is made against a state that may be stale.
//
// The revisit sample (Art. 23, 46; core/sla.h) is decided here, on a tally of the closures so far
// of the case's center and month in the case's partition of the log. A closing command (a reply
// or an immediate answer) holds its partition's sample gate from its decision until its append's
// outcome is known, so the closures of one partition are decided one at a time, each on the
// tally of all those before it in log order; the pick is stored in the closing event, and the
// case projection counts the same tally again from the log (what a restart starts from). After
// an append whose outcome is unknown, the partition's tallies are read again from the store
// once the projection has caught up with the log.
//
// Lifecycle: construct after the runner has caught up with the log; destroy after the gateway
// stopped submitting (the destructor waits for commands in flight). Thread-safe.
class case_writer {
 public:
  using done_handler = std::function<void(result<command_outcome>)>;

  // `privacy` seals the personal fields of every command's events before they are appended
  // (field encryption, crypto-shredding); borrowed, it must outlive the writer. Null means the
  // events carry their text in the clear: only tests of other modules pass it (the server
  // never does: tools/serve.cpp).
  case_writer(events::event_log& log, store& s, projection_runner& runner, personal_data* privacy,
              core::context base, const clock& clk, unsigned threads = 2);
  ~case_writer();

  // `done` runs exactly once, on a writer thread.
  void submit(command_request request, done_handler done);
  // The offset of the last record this writer appended to p and saw acknowledged (-1: none).
  std::int64_t last_acked(events::partition_id p) const;
  // Where decisions read the registry from: each decision takes the current snapshot (the
  // registry projection's), instead of base.reg. Set before the first submit.
  using registry_source = std::function<std::shared_ptr<const core::registry>()>;
  void set_registry_source(registry_source source) { registry_source_ = std::move(source); }
  // Where decisions read the working-day calendar from (the calendar projection's snapshot, so
  // deadlines are counted on what the log has published), instead of base.cal. A source that
  // returns null falls back to base.cal. Set before the first submit.
  using calendar_source = std::function<std::shared_ptr<const core::calendar>()>;
  void set_calendar_source(calendar_source source) { calendar_source_ = std::move(source); }
  // Called on a writer thread with each command's outcome once the log has acknowledged its
  // record, before the command's own handler: jobs that wake on an event (the same-day
  // major-urgent report, Art. 40(4)). It must not block. Set before the first submit.
  using appended_observer = std::function<void(const command_outcome&)>;
  void set_appended_observer(appended_observer o) { appended_observer_ = std::move(o); }
  // Stops taking commands and waits (up to timeout) for those in flight. True if all finished.
  bool drain(std::chrono::milliseconds timeout);

 private:
  struct pending {
    command_request request;
    done_handler done;
  };
  struct slot {
    std::deque<pending> queue;
    bool busy{false};
    bool uncertain{false};            // the last append's outcome is unknown
    std::optional<case_row> cached;   // state after this writer's last acknowledged command
    std::optional<events::log_position> position;
  };

  // One per partition: whether a closing command is between decision and outcome, and the
  // tallies of the sample ("<center>/<YYYY-MM>").
  struct sample_gate {
    bool busy{false};
    bool uncertain{false};  // a closing append's outcome is unknown: reload from the store
    std::map<std::string, core::revisit_tally> tallies;
  };

  // A command decided and encoded, on its way into the log (shared by the handlers it passes
  // through: the key store's for a new case, the log's, then a writer task).
  struct decided_command {
    std::string id;
    events::partition_id partition{0};
    bool gated{false};                             // holds the partition's sample gate
    std::optional<core::sampled_closure> closure;  // the tally it joins, if a sample closure
    done_handler done;
    command_outcome outcome;
    case_row row;  // the case after the command
  };

  void post(std::function<void()> task);
  // Appends the command's record; its handler runs on a writer thread once the log answered.
  void append(std::shared_ptr<decided_command> c, std::string record);
  // Waits until no closing command of p is in flight, then takes p's gate and returns the tally
  // of the center's month. On error the gate is not taken.
  result<core::revisit_tally> enter_sample(events::partition_id p, const center_code& center,
                                           const std::string& month);
  // Releases p's gate; `appended`: whether the record is certainly in the log.
  void leave_sample(events::partition_id p, const std::optional<core::sampled_closure>& closure,
                    bool appended);
  void run_next(const std::string& id);
  void finish(const std::string& id);
  result<std::string> allocate_id(const core::command& cmd);
  void sweep_locked();

  events::event_log& log_;
  case_reader reader_;
  projection_runner& runner_;
  core::context base_;  // calendar, registry, policy; `now` and the actor are set per command
  const clock& clock_;
  registry_source registry_source_;
  calendar_source calendar_source_;
  personal_data* const personal_data_;
  appended_observer appended_observer_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::unordered_map<std::string, slot> slots_;
  std::map<std::string, std::uint64_t> counters_;  // "<center>-<YYYYMMDD>" -> last sequence
  std::vector<std::int64_t> last_acked_;
  std::mutex sample_mu_;
  std::condition_variable sample_cv_;
  std::vector<sample_gate> gates_;  // by partition
  std::size_t in_flight_{0};
  bool draining_{false};

  events::thread_pool pool_;  // last: destroyed (joined) first
};

}  // namespace caseline::projections
