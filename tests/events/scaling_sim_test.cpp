#include "tools/scaling_sim.h"

#include <sstream>
#include <string>

#include <doctest/doctest.h>

namespace {

using caseline::tools::sim_options;
using caseline::tools::sim_summary;
using caseline::tools::simulate_rebalance;

// Sums of the runs over seeds [first, first + seeds), and whether a named invariant was broken.
struct seeds_result {
  sim_summary total;
  std::uint64_t failed_seeds = 0;
  bool broke(const std::string& invariant) const {
    for (const auto& v : total.violations)
      if (v.invariant == invariant) return true;
    return false;
  }
};

// The sweep over many seeds runs whole in the regular suite; under AddressSanitizer (the sanitize
// run of the unit tests, about ten times slower) it runs a fifth of the seeds: the sanitizer is
// there for the simulation's memory use, which every seed exercises alike.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t sweep_divisor = 5;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::uint64_t sweep_divisor = 5;
#else
constexpr std::uint64_t sweep_divisor = 1;
#endif
#else
constexpr std::uint64_t sweep_divisor = 1;
#endif

enum class sweep { all_seeds, until_a_seed_fails };

seeds_result run_seeds(sim_options o, std::uint64_t seeds, sweep how = sweep::all_seeds) {
  seeds_result r;
  const auto first = o.seed;
  for (std::uint64_t k = 0; k < seeds; ++k) {
    o.seed = first + k;
    const auto s = simulate_rebalance(o);
    auto& t = r.total;
    t.kills += s.kills;
    t.zombie_pauses += s.zombie_pauses;
    t.leaves += s.leaves;
    t.restarts += s.restarts;
    t.broker_restarts += s.broker_restarts;
    t.revocations += s.revocations;
    t.writes += s.writes;
    t.acknowledged += s.acknowledged;
    t.deduplicated += s.deduplicated;
    t.fenced_refused += s.fenced_refused;
    t.violation_count += s.violation_count;
    t.violations.insert(t.violations.end(), s.violations.begin(), s.violations.end());
    if (s.violation_count > 0) ++r.failed_seeds;
    if (how == sweep::until_a_seed_fails && r.failed_seeds > 0) break;
  }
  return r;
}

std::string first_violations(const seeds_result& r) {
  std::string text;
  for (const auto& v : r.total.violations)
    text += "step " + std::to_string(v.step) + ": " + v.invariant + ": " + v.detail + "\n";
  return text;
}

}  // namespace

TEST_CASE("no partition is writable by two instances, whatever fails, over many seeds") {
  struct shape {
    int instances, partitions;
  };
  for (const auto& sh : {shape{3, 12}, shape{2, 4}, shape{5, 16}, shape{6, 48}}) {
    CAPTURE(sh.instances);
    CAPTURE(sh.partitions);
    sim_options o;
    o.instances = sh.instances;
    o.partitions = sh.partitions;
    o.steps = 4'000;
    const auto r = run_seeds(o, (sh.partitions > 16 ? 20 : 50) / sweep_divisor);
    INFO(first_violations(r));
    CHECK(r.total.violation_count == 0);
    // Every write sent was acknowledged (liveness is checked per seed, this is its sum).
    CHECK(r.total.acknowledged == r.total.writes);
    // The runs went through what the invariants are about; without it they would prove nothing.
    CHECK(r.total.kills > 0);
    CHECK(r.total.zombie_pauses > 0);
    CHECK(r.total.leaves > 0);
    CHECK(r.total.broker_restarts > 0);
    CHECK(r.total.revocations > 0);
    CHECK(r.total.fenced_refused > 0);  // zombies did try to commit
    CHECK(r.total.deduplicated > 0);    // retries of committed writes were answered from the log
  }
}

TEST_CASE("the checker catches each broken mechanism") {
  sim_options o;
  o.steps = 4'000;
  SUBCASE("commits that ignore the epoch: a zombie writes after the new owner's init") {
    o.model_fencing = false;
    const auto r = run_seeds(o, 25, sweep::until_a_seed_fails);
    CHECK(r.failed_seeds > 0);
    CHECK((r.broke("fenced-commit") || r.broke("single-writer")));
  }
  SUBCASE("a coordinator that never removes a silent member: its partitions stay unowned") {
    o.model_session_timeouts = false;
    const auto r = run_seeds(o, 25, sweep::until_a_seed_fails);
    CHECK(r.failed_seeds > 0);
    CHECK((r.broke("ownership-bound") || r.broke("liveness")));
  }
  SUBCASE(
      "an owner that never reads the claims: a zombie's stale init leaves it fenced, unawares") {
    o.model_claims = false;
    const auto r = run_seeds(o, 25, sweep::until_a_seed_fails);
    CHECK(r.failed_seeds > 0);
    CHECK(r.broke("ownership-bound"));
    CHECK(r.total.fenced_refused > 0);
  }
  SUBCASE("an owner that does not look for a retried write in the log writes it twice") {
    o.model_idempotency = false;
    const auto r = run_seeds(o, 25, sweep::until_a_seed_fails);
    CHECK(r.failed_seeds > 0);
    CHECK(r.broke("exactly-once"));
  }
}

TEST_CASE("a seed gives the same run every time") {
  sim_options o;
  o.instances = 4;
  o.partitions = 10;
  o.steps = 3'000;
  o.seed = 42;
  const auto a = simulate_rebalance(o);
  const auto b = simulate_rebalance(o);
  CHECK(a.rebalances == b.rebalances);
  CHECK(a.moves == b.moves);
  CHECK(a.inits == b.inits);
  CHECK(a.commits == b.commits);
  CHECK(a.fenced_refused == b.fenced_refused);
  CHECK(a.max_unowned_steps == b.max_unowned_steps);
  o.seed = 43;
  const auto c = simulate_rebalance(o);
  CHECK((c.moves != a.moves || c.commits != a.commits || c.inits != a.inits));
}

TEST_CASE("caseline simulate rebalance: summary, and the exit code says whether it held") {
  sim_options o;
  o.steps = 2'000;
  std::ostringstream out, err;
  SUBCASE("the model as built holds") {
    CHECK(caseline::tools::run_simulate_rebalance(o, 3, out, err) == 0);
    CHECK(out.str().find("seed 3: ") != std::string::npos);
    CHECK(out.str().find("total over 3 seeds (6000 steps)") != std::string::npos);
    CHECK(out.str().find("no partition was ever writable by two instances") != std::string::npos);
  }
  SUBCASE("without fencing it does not, and the first violations are printed") {
    o.model_fencing = false;
    CHECK(caseline::tools::run_simulate_rebalance(o, 20, out, err) == 1);
    CHECK(out.str().find("fencing OFF") != std::string::npos);
    CHECK(out.str().find("seeds broke an invariant") != std::string::npos);
  }
  SUBCASE("options out of range") {
    o.partitions = 0;
    CHECK(caseline::tools::run_simulate_rebalance(o, 1, out, err) == 2);
    CHECK(err.str().find("--partitions") != std::string::npos);
  }
}
