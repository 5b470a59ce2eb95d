#pragma once

// `caseline simulate rebalance`: a deterministic model of the scale-out ownership protocol
// (events/event_log.h's ownership_listener, one transactional producer per partition) with a
// checker that runs after every step. It is the check behind docs/scaling.md's claim that no
// partition is ever written by two instances, and the test (tests/events/scaling_sim_test.cpp)
// runs it over many seeds.
//
// The model, one step at a time (time is the step counter; every choice comes from the seed):
// - N instances in one consumer group, P partitions. The group coordinator removes a member that
//   sent no heartbeat for `session_timeout` steps, or that left; it reassigns cooperatively and
//   stickily: a partition that must move is first revoked from its owner, and assigned in a
//   later round, once the owner has said it let go; a removed member's partitions are free at
//   once. The assignment is balanced (P / members, the remainder to those that hold most).
// - Per partition a transactional epoch kept by the broker (Kafka's transaction coordinator for
//   transactional.id "caseline.<group>.<topic>.<p>"). An instance given a partition runs init
//   (epoch + 1; the previous holder's open transaction is aborted), reads the partition's
//   committed records (read_committed: the writes it must not repeat) and only then decides.
//   A commit succeeds only with the current epoch; otherwise it is refused (fenced). Each init
//   also writes a claim record; an owner that reads a newer claim in a partition it owns, or
//   whose commit is refused, lets the partition go and hands it back to the coordinator (a
//   zombie waking with an assignment it had not acted on inits it and fences the rightful
//   owner, which would otherwise stay named the owner with no way to write).
// - Clients send writes, each with an id (its idempotency key), to any instance; they reach the
//   partition's owner as the coordinator knows it (forwarding), are written in the owner's open
//   transaction and acknowledged one step after their commit. A refused or failed write, or one
//   not answered within a timeout, is sent again.
// - Faults: kill -9 (the member stays until its session times out), pauses (SIGSTOP: longer
//   than the session timeout they make zombies that still believe they own partitions and try
//   to commit), graceful leave (drain, then leave the group), restart as a new member, and a
//   broker restart (coordinator failover: nothing commits while it is down, then every member
//   rejoins and a rebalance runs). Each step the instances act in a random order, and each does
//   its heartbeat, its coordinator messages, its commits and its reading of claims in a random
//   order.
// - The last `quiet_tail` steps inject no fault and no new write: every dead instance restarts,
//   and every write sent must be acknowledged by the end.
//
// The checker keeps its own account of inits, commits and acknowledgements and asserts at every
// step (`sim_violation::invariant`):
// - "single-writer": for each partition, at most one instance believes it owns it with an epoch
//   the broker would accept a commit from; and every commit comes from the instance whose init
//   made the current epoch;
// - "fenced-commit": nothing is committed with an epoch older than the partition's latest init;
// - "exactly-once": no write is committed twice, and every acknowledged write is committed;
// - "ownership-bound": while the broker is up and an instance runs, no partition stays without
//   a running owner for more than `ownership_bound()` steps after the last fault;
// - "liveness": at the end of the quiet tail every write has been acknowledged.
//
// `model_fencing`, `model_session_timeouts`, `model_idempotency` and `model_claims` each switch
// one mechanism off, to prove the checker catches the broken model (the test requires it). Pure
// computation: no I/O, no clock; one call is single-threaded and calls are independent.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace caseline::tools {

struct sim_options {
  int instances = 3;
  int partitions = 12;
  std::uint64_t steps = 10'000;  // the quiet tail included
  std::uint64_t seed = 1;
  std::uint64_t session_timeout = 10;  // steps without a heartbeat before a member is removed
  std::uint64_t broker_down_steps = 5;
  std::uint64_t max_pause = 30;       // a pause lasts 1..max_pause steps
  std::uint64_t request_timeout = 5;  // steps a client waits for an answer before sending again
  std::uint64_t quiet_tail = 200;
  int writes_per_step = 3;
  // Fault rates, per million steps.
  std::uint32_t kill_ppm = 5'000;
  std::uint32_t pause_ppm = 5'000;
  std::uint32_t leave_ppm = 3'000;
  std::uint32_t restart_ppm = 30'000;  // for a dead instance, each step
  std::uint32_t broker_restart_ppm = 1'000;
  // The mechanisms; each off is a broken model the checker must catch.
  bool model_fencing = true;           // commits need the partition's current epoch
  bool model_session_timeouts = true;  // the coordinator removes silent members
  bool model_idempotency = true;       // an owner skips writes its partition already holds
  bool model_claims = true;            // an init writes a claim record; an owner that reads a
                                       // newer one hands the partition back

  // The checked bound of "ownership-bound": detection of a dead member (session_timeout + 1),
  // then a revocation round, an assignment round and the new owner's init.
  std::uint64_t ownership_bound() const { return session_timeout + 4; }
};

struct sim_violation {
  std::uint64_t step = 0;
  std::string invariant;  // single-writer, fenced-commit, exactly-once, ownership-bound, liveness
  std::string detail;
};

struct sim_summary {
  std::uint64_t steps = 0;
  std::uint64_t rebalances = 0;   // assignments the coordinator computed (generations)
  std::uint64_t moves = 0;        // partitions assigned to a member (initial ones included)
  std::uint64_t revocations = 0;  // partitions taken back from a running member
  std::uint64_t inits = 0;        // transactional inits (epoch bumps)
  std::uint64_t superseded = 0;   // partitions handed back on reading a newer claim
  std::uint64_t kills = 0, pauses = 0, leaves = 0, restarts = 0, broker_restarts = 0;
  std::uint64_t zombie_pauses = 0;            // pauses that outlived the session timeout
  std::uint64_t writes = 0;                   // distinct writes the clients sent
  std::uint64_t acknowledged = 0;             // distinct writes acknowledged
  std::uint64_t commits = 0;                  // writes committed
  std::uint64_t deduplicated = 0;             // retries answered from the log, not written again
  std::uint64_t fenced_refused = 0;           // commit attempts the broker refused (stale epoch)
  std::uint64_t max_unowned_steps = 0;        // longest a partition was without a running owner
  std::uint64_t max_unowned_after_fault = 0;  // the same, counted from the last fault (checked)
  std::uint64_t violation_count = 0;
  std::vector<sim_violation> violations;  // the first few
};

// Runs the model for o.steps steps from o.seed, the checker after each step.
sim_summary simulate_rebalance(const sim_options& o);

// `caseline simulate rebalance`: runs `seeds` seeds from o.seed on, prints one summary line per
// seed and the totals, and the first violations if any. Returns 0 when none, 1 otherwise, 2 for
// options out of range.
int run_simulate_rebalance(const sim_options& o, std::uint64_t seeds, std::ostream& out,
                           std::ostream& err);

}  // namespace caseline::tools
