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
#include "events/key_journal.h"
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
  // `state` with its personal fields in the clear, when the writer had every one of them before
  // sealing (a new case): its answer needs no decryption.
  std::optional<core::case_state> shown;
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
// Ownership (a Kafka consumer group, events::event_log::join). By default the writer decides for
// every partition of the log. After enable_ownership() it decides for none until the log's group
// assigns it one: pass the writer to `log.join` (it is the ownership_listener). An assigned
// partition is taken once the projection has applied everything it holds (on the writer's own
// handover thread; retried until it succeeds or the partition is revoked): the cached state of
// its cases, its id counters and its revisit tallies are then dropped, so every decision reads
// what the previous owner wrote. A revoked partition is refused at once: its queued commands
// fail with events::errc::not_owner, and the revocation returns once the commands already
// decided have their append's outcome (bounded: revoke_timeout). A command for a partition the
// writer does not accept fails with not_owner before any decision.
//
// Case ids are unique across the group: the ids of partition p (those that partition_for puts in
// p) are given out only by p's owner, each the smallest above the highest p holds for the center
// and day (the case projection keeps it per partition). A receive without a partition takes the
// smallest such id over the accepted partitions: with every partition accepted, that is the
// dense sequence 1, 2, 3 ...
//
// Lifecycle: construct after the runner has caught up with the log; destroy after the gateway
// stopped submitting (the destructor waits for commands in flight) and after leaving the group.
// Thread-safe.
class case_writer final : public events::ownership_listener {
 public:
  using done_handler = std::function<void(result<command_outcome>)>;

  // `privacy` seals the personal fields of every command's events before they are appended
  // (field encryption, crypto-shredding); borrowed, it must outlive the writer. Null means the
  // events carry their text in the clear: only tests of other modules pass it (the server
  // never does: tools/serve.cpp).
  case_writer(events::event_log& log, store& s, projection_runner& runner, personal_data* privacy,
              core::context base, const clock& clk, unsigned threads = 2);
  ~case_writer() override;

  // `done` runs exactly once, and must not block: on a writer thread or the log's, or before
  // submit returns on the calling thread when refused ahead of the log. A command that can be
  // decided without waiting (no command of its case before it, the outcome of its case's last
  // append known, not a closing command) is decided on the calling thread: submit never waits,
  // and a new case costs no hop to a writer thread.
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
  // Called on the answering thread with each command's outcome once the log has acknowledged its
  // record, before the command's own handler: jobs that wake on an event (the same-day
  // major-urgent report, Art. 40(4)). It must not block. Set before the first submit.
  using appended_observer = std::function<void(const command_outcome&)>;
  void set_appended_observer(appended_observer o) { appended_observer_ = std::move(o); }
  // Stops taking commands and waits (up to timeout) for those in flight. True if all finished.
  bool drain(std::chrono::milliseconds timeout);

  // Group mode: from now on the writer decides for no partition until partition_assigned. Call
  // before the first submit (and before log.join).
  void enable_ownership();
  // Deletes the keys of new cases stored ahead of a record that was never written (the key
  // store's marks: a refused or failed append, a crash before its outcome) whose ids the log now
  // gives to another writer's cases, which another server may have written while this one was
  // away: this key store must not keep a key that is not theirs. A partition's are checked
  // before it accepts commands again (partition_assigned); call this at start, once the log is
  // applied to its end and before the first submit, for what a crash left.
  void drop_foreign_keys();
  // Group mode: after the projections, a partition assigned here also waits for `gate(p,
  // timeout)` (the data keys' replica applying p's keys) before its commands are taken, retried
  // like the catch-up. Call before log.join.
  using handover_gate =
      std::function<result<void>(events::partition_id, std::chrono::milliseconds)>;
  void set_handover_gate(handover_gate gate) { handover_gate_ = std::move(gate); }
  // A writer alone on Kafka: asked before every append whether this server may still write
  // (events::single_writer_claim::current); false refuses the command with not_owner, nothing
  // appended. Must not block. Set before the first submit.
  using write_lease = std::function<bool()>;
  void set_write_lease(write_lease lease) { write_lease_ = std::move(lease); }
  // Whether commands for p's cases are decided here now (false while p is caught up after its
  // assignment). For the gateway (forwarding) and /readyz.
  bool accepts(events::partition_id p) const;
  // The partition of the log that holds a case's records.
  events::partition_id partition_of(const std::string& id) const;
  // The partitions accepted now, ascending.
  std::vector<events::partition_id> accepting() const;
  // Waits (up to timeout) until p is accepted. True if it is.
  bool wait_accepts(events::partition_id p, std::chrono::milliseconds timeout) const;
  // events::ownership_listener, called on the log's group thread. partition_assigned returns at
  // once (the catch-up runs on the writer's handover thread); partition_revoked returns once no
  // decided command of p awaits its append's outcome, or after revoke_timeout.
  void partition_assigned(events::partition_id p) override;
  void partition_revoked(events::partition_id p, bool lost) override;
  static constexpr std::chrono::seconds revoke_timeout{30};

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
    std::uint64_t term{0};  // the partition's term it was decided in (ownership::term)
    bool gated{false};                             // holds the partition's sample gate
    std::optional<core::sampled_closure> closure;  // the tally it joins, if a sample closure
    done_handler done;
    command_outcome outcome;
    case_row row;  // the case after the command
    std::optional<events::secret_key> new_key;  // a new case's, appended in the key journal
    bool key_stored{false};  // a new case's key is in the key store before its record
  };

  // Whether this writer decides for a partition. Each assignment and each revocation starts a new
  // term: a command decided in an earlier term is not appended (its partition may have moved to
  // another writer and back meanwhile, so the state it was decided on may be stale).
  struct ownership {
    bool accepting{true};
    std::uint64_t term{0};
    std::size_t appending{0};  // decided commands whose append's outcome is not known yet
    // New cases of this term whose key is being stored ahead of its record (a server alone on
    // Kafka): a handover checks the marked keys once these are stored (take_over).
    std::size_t storing{0};
  };

  // A command whose append's outcome is known, waiting for a writer thread to answer it.
  struct completion {
    std::shared_ptr<decided_command> c;
    result<events::log_position> r;
  };

  void post(std::function<void()> task);
  // Answers the completions queued so far, and those queued meanwhile, on the log's thread after
  // a group commit's last handler (events/acknowledgements.h), else on one writer thread: once
  // per burst of acknowledgements; the reads their answers record are written with one write per
  // burst (access_batch). The bursts' answers are sent one burst at a time: a done handler must
  // not block on another command's answer, which would wait behind it for good.
  void complete();
  // Updates the case's slot and runs the done handler; returns the case id (finish() is the
  // caller's, once the burst's answers are sent).
  std::string answer(completion& done);
  // Appends the command's record; its handler runs on a writer thread once the log answered.
  // With `journaled`, a new case's wrapped key is written in the same durable write
  // (events/key_journal.h).
  void append(std::shared_ptr<decided_command> c, std::string record,
              std::optional<events::journaled_key> journaled = std::nullopt);
  // Waits until no closing command of p is in flight, then takes p's gate and returns the tally
  // of the center's month. On error the gate is not taken.
  result<core::revisit_tally> enter_sample(events::partition_id p, const center_code& center,
                                           const std::string& month);
  // Releases p's gate; `appended`: whether the record is certainly in the log.
  void leave_sample(events::partition_id p, const std::optional<core::sampled_closure>& closure,
                    bool appended);
  void run_next(const std::string& id);
  void finish(const std::string& id);
  result<std::string> allocate_id(const command_request& request);
  void sweep_locked();
  // Catches p up and accepts it, unless the term moved on meanwhile (handover thread).
  void take_over(events::partition_id p, std::uint64_t term);
  // drop_foreign_keys() for p alone (none: every partition).
  void drop_foreign_keys(std::optional<events::partition_id> only);
  // Forgets what this writer knew of p's cases: cached states, id counters, revisit tallies.
  void forget_locked(events::partition_id p);

  events::event_log& log_;
  store& store_;
  case_reader reader_;
  projection_runner& runner_;
  core::context base_;  // calendar, registry, policy; `now` and the actor are set per command
  const clock& clock_;
  registry_source registry_source_;
  calendar_source calendar_source_;
  personal_data* const personal_data_;
  appended_observer appended_observer_;
  handover_gate handover_gate_;
  write_lease write_lease_;

  mutable std::mutex mu_;
  mutable std::condition_variable idle_cv_;  // in flight, appending, accepting: all on mu_
  std::unordered_map<std::string, slot> slots_;
  std::size_t sweep_at_{4096};  // the next sweep, when slots_ reaches this size
  // "<center>-<YYYYMMDD>" -> by partition, the highest sequence given out in it (none: not read
  // from the store yet)
  std::map<std::string, std::vector<std::optional<std::uint64_t>>, std::less<>> counters_;
  std::vector<std::int64_t> last_acked_;
  std::vector<ownership> owned_;  // by partition
  bool stopping_{false};          // the destructor runs: handovers give up
  std::mutex sample_mu_;
  std::condition_variable sample_cv_;
  std::vector<sample_gate> gates_;  // by partition
  std::size_t in_flight_{0};
  bool draining_{false};
  std::vector<completion> completions_;  // acknowledged, to be answered by complete()
  bool completing_{false};               // a complete() task is posted or runs

  events::thread_pool handover_{1, "handover"};  // catches up assigned partitions
  events::thread_pool pool_;         // last: destroyed (joined) first
};

}  // namespace caseline::projections
