#pragma once

// The hand-computed scenario of the queue and report tests: October 2026 at the Zhengzhou center
// (410100), with September 2026 and October 2025 cases for the growth figures and one Kaifeng
// (410200) case for the province-wide totals and the assessment. The expected figures are
// worked out by hand in the tests, from this data and the calendar (1-7 October are holidays).
// The stack's revisit sample is 100%: every matter replied or answered at once is revisited
// before it is archived (Art. 23, 46); a revisit of a matter answered at once is in no report
// figure.

#include <vector>

#include "tests/projections/projection_test_support.h"

namespace caseline::projections::testing {

inline std::vector<step> october_scenario() {
  using core::category;
  using core::domain;
  using core::satisfaction;
  const auto agent = world::agent("410100");
  const auto kf = world::agent("410200");
  const auto rv = world::revisit_officer("410100");
  const auto yg = world::unit_member("u-zz-yg");
  const auto gl = world::unit_member("u-zz-gl");
  const auto yg_head = world::unit_member("u-zz-yg", core::role::unit_head);
  const char* zz = "410100";
  return {
      // October 2025 (year-on-year): one case, answered at once.
      {"2025-10-15", "M", recv(zz), agent},
      {"2025-10-15", "M", answer(), agent},
      {"2025-10-16", "M", revisit(satisfaction::satisfied), rv},  // picked by the sample (Art. 23(1))
      {"2025-10-16", "M", archive(), agent},
      // September 2026 (month-on-month, previous hot topics): two cases.
      {"2026-09-15", "L1", recv(zz), agent},
      {"2026-09-15", "L1", classify(category::inquiry, domain::road_transport, {"出租车"}), agent},
      {"2026-09-15", "L1", not_accept(), agent},
      {"2026-09-16", "L1", archive(), agent},
      {"2026-09-15", "L2", recv(zz), agent},
      {"2026-09-15", "L2", answer(), agent},
      {"2026-09-16", "L2", revisit(satisfaction::satisfied), rv},
      {"2026-09-16", "L2", archive(), agent},
      // October 2026.
      {"2026-10-12", "A", recv(zz), agent},
      {"2026-10-12", "A", answer(), agent},
      {"2026-10-12", "A", revisit(satisfaction::satisfied), rv},  // answered at once, revisited
      {"2026-10-12", "B", recv(zz), agent},
      {"2026-10-12", "B", not_accept(), agent},
      {"2026-10-12", "C", recv(zz), agent},
      {"2026-10-12", "C", redirect(), agent},
      {"2026-10-12", "D", recv(zz), agent},
      {"2026-10-12", "D", classify(category::inquiry, domain::road_transport, {"出租车"}), agent},
      {"2026-10-12", "D", transfer("u-zz-yg"), agent},  // reply due 10-19
      {"2026-10-12", "E", recv(zz), agent},
      {"2026-10-12", "E", classify(category::complaint, domain::highway, {"超限", "路面"}), agent},
      {"2026-10-12", "E", transfer("u-zz-gl"), agent},  // reply due in November (30 wd)
      {"2026-10-12", "G", recv(zz), agent},
      {"2026-10-12", "G", classify(category::inquiry, domain::road_transport, {"出租车"}), agent},
      {"2026-10-12", "G", transfer("u-zz-yg"), agent},  // reply due 10-19
      {"2026-10-12", "N", recv("410200"), kf},
      {"2026-10-12", "N", answer(), kf},
      {"2026-10-12", "N", revisit(std::nullopt), world::revisit_officer("410200")},
      {"2026-10-13", "F", recv(zz), agent},
      {"2026-10-13", "F", classify(category::suggestion, domain::waterway, {"出租车"}), agent},
      {"2026-10-13", "F", transfer("u-zz-gl"), agent},  // reply due 10-27 (10 wd)
      {"2026-10-14", "D", reply(), yg},                 // on time
      {"2026-10-14", "H", recv(zz, "大面积滞留 mass stranding"), agent},
      {"2026-10-14", "H", classify(category::complaint, domain::road_transport, {"滞留"}), agent},
      {"2026-10-14", "H", transfer("u-zz-yg"), agent},  // reply due in November
      {"2026-10-15", "G", extend(3), yg_head},          // reply due 10-19 -> 10-22 (Art. 34)
      {"2026-10-15", "I", recv(zz), agent},
      {"2026-10-15", "I", classify(category::inquiry, domain::road_transport, {}), agent},
      {"2026-10-15", "I", transfer("u-zz-yg"), agent},  // reply due 10-22, never replied
      {"2026-10-16", "J", recv(zz), agent},
      {"2026-10-16", "J", classify(category::complaint, domain::road_transport, {}), agent},
      {"2026-10-16", "J", transfer("u-zz-yg"), agent},
      {"2026-10-19", "J", give_back(), yg},             // the cycle is dropped
      {"2026-10-20", "J", transfer("u-zz-gl"), agent},  // reply due in December
      {"2026-10-20", "E", reply(), gl},
      {"2026-10-21", "E", revisit(satisfaction::satisfied), rv},
      {"2026-10-22", "G", reply(), yg},                 // on time (extended deadline)
      {"2026-10-23", "G", revisit(std::nullopt), rv},   // caller not reached
      {"2026-10-28", "F", reply(), gl},                 // late: due 10-27
      {"2026-10-29", "F", revisit(satisfaction::dissatisfied), rv},
      {"2026-10-30", "K", recv(zz), agent},             // transfer due 11-04
  };
}

}  // namespace caseline::projections::testing
