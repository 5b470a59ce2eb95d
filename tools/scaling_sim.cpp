#include "tools/scaling_sim.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <fmt/ostream.h>

namespace caseline::tools {
namespace {

// splitmix64: the same sequence from a seed on every platform and standard library (the
// std:: distributions are not specified bit for bit).
class sim_rng {
 public:
  explicit sim_rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  bool chance(std::uint32_t ppm) { return below(1'000'000) < ppm; }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::uint64_t state_;
};

using write_id = std::uint64_t;
using member_id = std::uint64_t;
constexpr member_id no_member = 0;
constexpr std::size_t violations_kept = 10;

// The checker: its own account of inits, commits and acknowledgements, and the ownership the
// model reports after each step. It never asks the model whether something was allowed.
class sim_checker {
 public:
  sim_checker(const sim_options& o, sim_summary& s)
      : o_(o),
        s_(s),
        latest_init_(static_cast<std::size_t>(o.partitions)),
        unowned_(latest_init_.size(), 0),
        unowned_after_fault_(latest_init_.size(), 0) {}

  void on_init(std::uint64_t step, int p, std::uint32_t epoch, int instance) {
    auto& l = latest_init_[static_cast<std::size_t>(p)];
    if (epoch <= l.epoch)
      fail(step, "fenced-commit",
           fmt::format("partition {}: init by instance {} got epoch {}, not above {}", p, instance,
                       epoch, l.epoch));
    l = {epoch, instance};
  }

  void on_commit(std::uint64_t step, int p, std::uint32_t epoch, int instance, write_id id) {
    const auto& l = latest_init_[static_cast<std::size_t>(p)];
    if (epoch < l.epoch)
      fail(step, "fenced-commit",
           fmt::format("partition {}: instance {} committed write {} with epoch {} after the "
                       "init of epoch {} by instance {}",
                       p, instance, id, epoch, l.epoch, l.instance));
    else if (instance != l.instance)
      fail(step, "single-writer",
           fmt::format("partition {}: instance {} committed write {}, the current epoch {} is "
                       "instance {}'s",
                       p, instance, id, epoch, l.instance));
    if (++committed_[id] == 2)
      fail(step, "exactly-once", fmt::format("write {} committed twice (partition {})", id, p));
  }

  void on_ack(std::uint64_t step, write_id id) {
    if (committed_[id] == 0)
      fail(step, "exactly-once", fmt::format("write {} acknowledged, never committed", id));
  }

  // accepting[p]: instances alive that believe they own p with an epoch the broker accepts;
  // running_owner[p]: one of them runs now. counting: the broker is up and some instance runs.
  void end_of_step(std::uint64_t step, const std::vector<int>& accepting,
                   const std::vector<bool>& running_owner, bool counting, bool fault) {
    for (std::size_t p = 0; p < accepting.size(); ++p) {
      if (accepting[p] > 1)
        fail(step, "single-writer",
             fmt::format("partition {}: {} instances hold an epoch the broker accepts", p,
                         accepting[p]));
      if (running_owner[p]) {
        unowned_[p] = unowned_after_fault_[p] = 0;
        continue;
      }
      if (counting) s_.max_unowned_steps = std::max(s_.max_unowned_steps, ++unowned_[p]);
      if (fault || !counting) {
        unowned_after_fault_[p] = 0;
        continue;
      }
      const auto n = ++unowned_after_fault_[p];
      s_.max_unowned_after_fault = std::max(s_.max_unowned_after_fault, n);
      if (n == o_.ownership_bound() + 1)
        fail(step, "ownership-bound",
             fmt::format("partition {}: no running owner for {} steps since the last fault", p, n));
    }
  }

  void fail(std::uint64_t step, std::string invariant, std::string detail) {
    ++s_.violation_count;
    if (s_.violations.size() < violations_kept)
      s_.violations.push_back({step, std::move(invariant), std::move(detail)});
  }

 private:
  struct init {
    std::uint32_t epoch = 0;
    int instance = -1;
  };
  const sim_options& o_;
  sim_summary& s_;
  std::vector<init> latest_init_;
  std::unordered_map<write_id, int> committed_;
  std::vector<std::uint64_t> unowned_, unowned_after_fault_;
};

struct owned_partition {
  std::uint32_t epoch = 0;     // what this owner's init got
  std::vector<write_id> open;  // the open transaction
  std::set<write_id> known;    // in the partition, as this owner knows it (caught up + own)
};

enum class message_kind { assign, revoke };
struct message {
  message_kind kind;
  int partition;
  member_id member;  // the membership it was sent to; a restarted instance ignores it
};

struct instance {
  bool alive = false;
  std::uint64_t paused_until = 0;
  member_id member = no_member;
  std::map<int, owned_partition> owned;  // what it believes it owns
  std::deque<message> inbox;             // from the coordinator
  std::vector<write_id> acks_due, fails_due;

  bool running(std::uint64_t now) const { return alive && now >= paused_until; }
  void reset() {
    owned.clear();
    inbox.clear();
    acks_due.clear();
    fails_due.clear();
    member = no_member;
  }
};

struct membership {
  int instance;
  std::uint64_t last_heartbeat;
};

struct committed_write {
  write_id id;
  std::uint32_t epoch;
  int instance;
};

struct request {  // a write not acknowledged yet
  int partition = 0;
  bool in_flight = false;
  std::uint64_t sent_at = 0;
};

// The group, the broker's transaction state and the clients, advanced one step at a time.
class group_model {
 public:
  group_model(const sim_options& o, sim_summary& s)
      : o_(o),
        s_(s),
        rng_(o.seed),
        checker_(o, s),
        instances_(static_cast<std::size_t>(o.instances)),
        assignment_(static_cast<std::size_t>(o.partitions), no_member),
        revoking_(assignment_.size(), false),
        epoch_(assignment_.size(), 0),
        claim_epoch_(assignment_.size(), 0),
        log_(assignment_.size()) {
    for (int i = 0; i < o.instances; ++i) start(i);
  }

  void run() {
    for (now_ = 0; now_ < o_.steps; ++now_) step(now_ + o_.quiet_tail >= o_.steps);
    for (const auto& [id, r] : requests_) {
      checker_.fail(o_.steps, "liveness",
                    fmt::format("write {} (partition {}) not acknowledged at the end of the "
                                "quiet tail",
                                id, r.partition));
    }
    s_.steps = o_.steps;
  }

 private:
  bool broker_up() const { return now_ >= broker_up_at_; }
  instance& at(int i) { return instances_[static_cast<std::size_t>(i)]; }
  std::size_t idx(int p) const { return static_cast<std::size_t>(p); }

  void step(bool quiet) {
    fault_ = false;
    if (quiet)
      for (int i = 0; i < o_.instances; ++i) {
        if (!at(i).alive) restart(i);
      }
    else
      inject_faults();
    if (now_ == broker_up_at_ && now_ > 0) {
      // Coordinator failover: the new coordinator gives every member a fresh session and the
      // group rebalances.
      for (auto& [m, ms] : members_) ms.last_heartbeat = now_;
      rebalance_needed_ = true;
      fault_ = true;
    }
    if (broker_up()) coordinate();
    clients(quiet);
    std::vector<int> order(instances_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    rng_.shuffle(order);
    for (int i : order) act(i);
    report_ownership();
  }

  void inject_faults() {
    if (broker_up() && rng_.chance(o_.broker_restart_ppm)) {
      broker_up_at_ = now_ + o_.broker_down_steps;
      ++s_.broker_restarts;
      fault_ = true;
    }
    for (int i = 0; i < o_.instances; ++i) {
      auto& in = at(i);
      if (!in.alive) {
        if (rng_.chance(o_.restart_ppm)) restart(i);
      } else if (in.running(now_)) {
        if (rng_.chance(o_.kill_ppm))
          kill(i);
        else if (rng_.chance(o_.pause_ppm))
          pause(i);
        else if (broker_up() && rng_.chance(o_.leave_ppm))
          leave(i);
      }
    }
  }

  // --- faults ---
  void kill(int i) {  // kill -9: the member stays in the group until its session times out
    at(i).alive = false;
    at(i).reset();
    ++s_.kills;
    fault_ = true;
  }
  void pause(int i) {  // SIGSTOP: no heartbeat, no commit, and it still believes what it owned
    const auto d = 1 + rng_.below(o_.max_pause);
    at(i).paused_until = now_ + d;
    ++s_.pauses;
    if (d > o_.session_timeout) ++s_.zombie_pauses;
    fault_ = true;
  }
  void leave(int i) {  // SIGTERM: drain (commit, answer), then leave the group
    auto& in = at(i);
    std::vector<int> owned;
    for (const auto& [p, op] : in.owned) owned.push_back(p);
    for (int p : owned) commit(i, p);
    answer(i);
    drop_member(in.member);
    in.alive = false;
    in.reset();
    ++s_.leaves;
    fault_ = true;
  }
  void restart(int i) {
    at(i).alive = true;
    at(i).paused_until = 0;
    join(i);
    ++s_.restarts;
    fault_ = true;
  }
  void start(int i) {
    at(i).alive = true;
    join(i);
  }
  void join(int i) {
    at(i).member = next_member_++;
    members_[at(i).member] = {i, now_};
    rebalance_needed_ = true;
  }

  // --- the group coordinator ---
  void drop_member(member_id m) {
    members_.erase(m);
    for (std::size_t p = 0; p < assignment_.size(); ++p)
      if (assignment_[p] == m) {
        assignment_[p] = no_member;
        revoking_[p] = false;
      }
    rebalance_needed_ = true;
  }

  void coordinate() {
    if (o_.model_session_timeouts) {
      std::vector<member_id> expired;
      for (const auto& [m, ms] : members_)
        if (now_ - ms.last_heartbeat > o_.session_timeout) expired.push_back(m);
      for (auto m : expired) drop_member(m);
    }
    if (!rebalance_needed_ || members_.empty()) return;
    rebalance_needed_ = false;
    ++s_.rebalances;

    // Balanced and sticky: each member keeps up to its quota of what it holds (the members that
    // hold most get the remainder); the rest is revoked now and assigned in a later round,
    // while free partitions (a removed member's, or revoked ones let go) are assigned now.
    std::map<member_id, std::vector<int>> held;
    for (const auto& [m, ms] : members_) held[m];
    std::vector<int> free;
    for (int p = 0; p < o_.partitions; ++p) {
      if (revoking_[idx(p)]) continue;
      if (assignment_[idx(p)] == no_member)
        free.push_back(p);
      else
        held[assignment_[idx(p)]].push_back(p);
    }
    std::vector<member_id> by_load;
    by_load.reserve(held.size());
    for (const auto& [m, ps] : held) by_load.push_back(m);
    std::stable_sort(by_load.begin(), by_load.end(),
                     [&](member_id a, member_id b) { return held[a].size() > held[b].size(); });
    const auto n = static_cast<std::size_t>(members_.size());
    const auto base = idx(o_.partitions) / n, extra = idx(o_.partitions) % n;
    std::map<member_id, std::size_t> quota;
    for (std::size_t k = 0; k < by_load.size(); ++k) quota[by_load[k]] = base + (k < extra ? 1 : 0);
    for (auto& [m, ps] : held) {
      while (ps.size() > quota[m]) {
        const int p = ps.back();
        ps.pop_back();
        revoking_[idx(p)] = true;
        ++s_.revocations;
        send(m, {message_kind::revoke, p, m});
      }
    }
    std::size_t next = 0;
    for (auto& [m, ps] : held)
      while (ps.size() < quota[m] && next < free.size()) {
        const int p = free[next++];
        ps.push_back(p);
        assignment_[idx(p)] = m;
        ++s_.moves;
        send(m, {message_kind::assign, p, m});
      }
  }

  void send(member_id m, message msg) {
    auto& in = at(members_.at(m).instance);
    if (in.alive && in.member == m) in.inbox.push_back(msg);
  }

  // --- clients ---
  void clients(bool quiet) {
    if (!quiet)
      for (int k = 0; k < o_.writes_per_step; ++k) {
        const auto id = next_write_++;
        requests_[id].partition = static_cast<int>(rng_.below(idx(o_.partitions)));
        ++s_.writes;
      }
    for (auto& [id, r] : requests_) {
      if (r.in_flight && now_ - r.sent_at >= o_.request_timeout) r.in_flight = false;
      if (!r.in_flight) send_write(id, r);
    }
  }

  // Whichever instance the client reaches forwards to the owner the group metadata names; no
  // owner, or a dead one (connection refused), is an immediate 503 and the client sends again.
  void send_write(write_id id, request& r) {
    const auto m = assignment_[idx(r.partition)];
    if (m == no_member || revoking_[idx(r.partition)]) return;
    const int t = members_.at(m).instance;
    auto& in = at(t);
    if (!in.alive || in.member != m) return;
    r.in_flight = true;
    r.sent_at = now_;
    if (!in.running(now_)) return;  // paused: the request hangs until the client's timeout
    const auto it = in.owned.find(r.partition);
    if (it == in.owned.end()) {
      in.fails_due.push_back(id);  // not_owner yet: 503
      return;
    }
    auto& op = it->second;
    if (o_.model_idempotency && op.known.contains(id)) {
      in.acks_due.push_back(id);  // already in the partition: the stored answer
      ++s_.deduplicated;
    } else if (std::find(op.open.begin(), op.open.end(), id) == op.open.end()) {
      op.open.push_back(id);
    }
  }

  // --- an instance's step: answers first (one step after the commit), then heartbeat,
  // coordinator messages and commits in a random order ---
  void act(int i) {
    if (!at(i).running(now_)) return;
    answer(i);
    int actions[] = {0, 1, 2, 3};
    for (int k = 3; k > 0; --k) std::swap(actions[k], actions[rng_.below(idx(k) + 1)]);
    for (int a : actions) {
      if (a == 0) heartbeat(i);
      if (a == 1) read_inbox(i);
      if (a == 2) commit_some(i);
      if (a == 3) read_claims(i);
    }
  }

  void answer(int i) {
    auto& in = at(i);
    for (auto id : in.acks_due) {
      if (requests_.erase(id) == 0) continue;  // answered before, by another attempt
      ++s_.acknowledged;
      checker_.on_ack(now_, id);
    }
    for (auto id : in.fails_due)
      if (auto it = requests_.find(id); it != requests_.end()) it->second.in_flight = false;
    in.acks_due.clear();
    in.fails_due.clear();
  }

  void heartbeat(int i) {
    if (!broker_up()) return;
    auto& in = at(i);
    if (auto it = members_.find(in.member); it != members_.end()) {
      it->second.last_heartbeat = now_;
      return;
    }
    // Unknown member: it was removed while it did not answer. Everything it owned is lost
    // (partition_revoked with lost = true: nothing committed), and it joins again.
    for (auto& [p, op] : in.owned) fail_open(in, op);
    in.owned.clear();
    in.inbox.clear();
    join(i);
  }

  void read_inbox(int i) {
    auto& in = at(i);
    while (!in.inbox.empty() && broker_up()) {
      const auto msg = in.inbox.front();
      in.inbox.pop_front();
      if (msg.member != in.member) continue;
      if (msg.kind == message_kind::assign) {
        // init: a new epoch for the partition's transactional.id, then catch up on what is
        // committed in it before deciding anything.
        const auto epoch = ++epoch_[idx(msg.partition)];
        ++s_.inits;
        checker_.on_init(now_, msg.partition, epoch, i);
        if (o_.model_claims) claim_epoch_[idx(msg.partition)] = epoch;  // its claim record
        owned_partition op;
        op.epoch = epoch;
        if (o_.model_idempotency)
          for (const auto& w : log_[idx(msg.partition)]) op.known.insert(w.id);
        in.owned[msg.partition] = std::move(op);
      } else {
        // revoke: drain (commit what is open), let go, and tell the coordinator.
        if (in.owned.contains(msg.partition)) commit(i, msg.partition);
        in.owned.erase(msg.partition);
        if (members_.contains(msg.member) && assignment_[idx(msg.partition)] == msg.member) {
          assignment_[idx(msg.partition)] = no_member;
          revoking_[idx(msg.partition)] = false;
          rebalance_needed_ = true;
        }
      }
    }
  }

  // An owner whose partition another instance has initialised since (a zombie acting on an
  // assignment it received before its pause: the init fences the rightful owner) lets it go
  // and hands it back to the coordinator (a rejoin without it); otherwise the coordinator would
  // go on naming it the owner, and no one would write the partition until the next rebalance.
  void give_back(int i, int p) {
    auto& in = at(i);
    fail_open(in, in.owned.at(p));
    in.owned.erase(p);
    if (members_.contains(in.member) && assignment_[idx(p)] == in.member) {
      assignment_[idx(p)] = no_member;
      revoking_[idx(p)] = false;
      rebalance_needed_ = true;
    }
  }

  // Every instance reads every partition (its projections); a newer owner's claim record in a
  // partition it owns tells it it was fenced before it tries to commit.
  void read_claims(int i) {
    std::vector<int> superseded;
    for (const auto& [p, op] : at(i).owned)
      if (claim_epoch_[idx(p)] > op.epoch) superseded.push_back(p);
    for (int p : superseded) {
      ++s_.superseded;
      give_back(i, p);
    }
  }

  void commit_some(int i) {
    std::vector<int> open;
    for (const auto& [p, op] : at(i).owned)
      if (!op.open.empty()) open.push_back(p);
    for (int p : open)
      if (rng_.below(2) == 0) commit(i, p);
  }

  void fail_open(instance& in, owned_partition& op) {
    in.fails_due.insert(in.fails_due.end(), op.open.begin(), op.open.end());
    op.open.clear();
  }

  void commit(int i, int p) {
    auto& in = at(i);
    auto& op = in.owned.at(p);
    if (op.open.empty()) return;
    if (!broker_up()) {
      fail_open(in, op);  // the transaction aborts; the clients are answered 503
      return;
    }
    if (o_.model_fencing && op.epoch != epoch_[idx(p)]) {
      // ProducerFenced: a newer init took the partition.
      ++s_.fenced_refused;
      give_back(i, p);
      return;
    }
    for (auto id : op.open) {
      log_[idx(p)].push_back({id, op.epoch, i});
      op.known.insert(id);
      ++s_.commits;
      checker_.on_commit(now_, p, op.epoch, i, id);
      in.acks_due.push_back(id);
    }
    op.open.clear();
  }

  void report_ownership() {
    std::vector<int> accepting(assignment_.size(), 0);
    std::vector<bool> running_owner(assignment_.size(), false);
    bool any_running = false;
    for (const auto& in : instances_) {
      if (!in.alive) continue;
      any_running = any_running || in.running(now_);
      for (const auto& [p, op] : in.owned) {
        if (o_.model_fencing && op.epoch != epoch_[idx(p)]) continue;
        ++accepting[idx(p)];
        if (in.running(now_)) running_owner[idx(p)] = true;
      }
    }
    checker_.end_of_step(now_, accepting, running_owner, broker_up() && any_running, fault_);
  }

  const sim_options& o_;
  sim_summary& s_;
  sim_rng rng_;
  sim_checker checker_;
  std::vector<instance> instances_;
  std::map<member_id, membership> members_;
  member_id next_member_ = 1;
  std::vector<member_id> assignment_;  // the coordinator's: partition -> member
  std::vector<bool> revoking_;         // revoked, not yet let go
  bool rebalance_needed_ = true;
  std::vector<std::uint32_t> epoch_;               // the broker's, per partition
  std::vector<std::uint32_t> claim_epoch_;         // of the latest claim record, per partition
  std::vector<std::vector<committed_write>> log_;  // committed records, per partition
  std::uint64_t broker_up_at_ = 0;
  std::map<write_id, request> requests_;  // not acknowledged yet
  write_id next_write_ = 1;
  std::uint64_t now_ = 0;
  bool fault_ = false;
};

std::string options_error(const sim_options& o) {
  if (o.instances < 1 || o.instances > 1000) return "--instances must be 1..1000";
  if (o.partitions < 1 || o.partitions > 4096) return "--partitions must be 1..4096";
  if (o.steps <= o.quiet_tail) return "--steps must be more than the quiet tail";
  if (o.session_timeout < 1 || o.max_pause < 1 || o.request_timeout < 1)
    return "--session-timeout, --max-pause and the request timeout must be at least 1";
  if (o.writes_per_step < 0) return "--writes-per-step must not be negative";
  return {};
}

void print_summary(std::ostream& out, const std::string& label, const sim_summary& s,
                   const sim_options& o) {
  fmt::print(out,
             "{}: {} rebalances, {} partitions assigned, {} revoked, {} inits, {} handed back on a "
             "newer claim; faults: {} "
             "kill -9, {} pauses ({} past the session timeout), {} leaves, {} restarts, {} "
             "broker restarts; writes: {} sent, {} acknowledged, {} committed, {} answered from "
             "the log; {} fenced commit attempts refused; max steps without an owner {} ({} "
             "after the last fault, bound {}); violations {}\n",
             label, s.rebalances, s.moves, s.revocations, s.inits, s.superseded, s.kills, s.pauses,
             s.zombie_pauses, s.leaves, s.restarts, s.broker_restarts, s.writes, s.acknowledged,
             s.commits, s.deduplicated, s.fenced_refused, s.max_unowned_steps,
             s.max_unowned_after_fault, o.ownership_bound(), s.violation_count);
}

}  // namespace

sim_summary simulate_rebalance(const sim_options& o) {
  sim_summary s;
  group_model model(o, s);
  model.run();
  return s;
}

int run_simulate_rebalance(const sim_options& o, std::uint64_t seeds, std::ostream& out,
                           std::ostream& err) {
  if (auto e = options_error(o); !e.empty() || seeds < 1) {
    err << "caseline simulate rebalance: " << (e.empty() ? "--seeds must be at least 1" : e)
        << "\n";
    return 2;
  }
  fmt::print(out,
             "{} instances, {} partitions, {} steps per seed ({} quiet), session timeout {} "
             "steps; fencing {}, session timeouts {}, idempotency {}, claims {}\n",
             o.instances, o.partitions, o.steps, o.quiet_tail, o.session_timeout,
             o.model_fencing ? "on" : "OFF", o.model_session_timeouts ? "on" : "OFF",
             o.model_idempotency ? "on" : "OFF", o.model_claims ? "on" : "OFF");
  sim_summary total;
  std::uint64_t failed_seeds = 0;
  for (std::uint64_t k = 0; k < seeds; ++k) {
    auto run = o;
    run.seed = o.seed + k;
    const auto s = simulate_rebalance(run);
    print_summary(out, fmt::format("seed {}", run.seed), s, o);
    for (const auto& v : s.violations)
      fmt::print(out, "  step {}: {}: {}\n", v.step, v.invariant, v.detail);
    if (s.violation_count > 0) ++failed_seeds;
    total.steps += s.steps;
    total.rebalances += s.rebalances;
    total.moves += s.moves;
    total.revocations += s.revocations;
    total.inits += s.inits;
    total.superseded += s.superseded;
    total.kills += s.kills;
    total.pauses += s.pauses;
    total.zombie_pauses += s.zombie_pauses;
    total.leaves += s.leaves;
    total.restarts += s.restarts;
    total.broker_restarts += s.broker_restarts;
    total.writes += s.writes;
    total.acknowledged += s.acknowledged;
    total.commits += s.commits;
    total.deduplicated += s.deduplicated;
    total.fenced_refused += s.fenced_refused;
    total.max_unowned_steps = std::max(total.max_unowned_steps, s.max_unowned_steps);
    total.max_unowned_after_fault =
        std::max(total.max_unowned_after_fault, s.max_unowned_after_fault);
    total.violation_count += s.violation_count;
  }
  print_summary(out, fmt::format("total over {} seeds ({} steps)", seeds, total.steps), total, o);
  fmt::print(out, "{}\n",
             failed_seeds == 0
                 ? std::string("no partition was ever writable by two instances")
                 : fmt::format("{} of {} seeds broke an invariant", failed_seeds, seeds));
  return failed_seeds == 0 ? 0 : 1;
}

}  // namespace caseline::tools
