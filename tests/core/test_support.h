#pragma once

// Shared by the core tests: the repository's calendar, found through CASELINE_SOURCE_DIR (set by
// ctest), and date literals.

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "core/calendar.h"
#include "core/decide.h"
#include "tests/support/environment.h"

namespace caseline::core::testing {

using test::source_dir;

inline const calendar& repo_calendar() {
  static const calendar cal = [] {
    auto loaded = calendar::load_file(source_dir() + "/core/data/cn-workdays.txt");
    if (!loaded) throw std::runtime_error(loaded.error().message());
    return std::move(loaded).value();
  }();
  return cal;
}

inline civil_date date(std::string_view text) {
  auto d = civil_date::parse(text);
  if (!d) throw std::invalid_argument("bad date literal " + std::string(text));
  return *d;
}

// Units registered with three centers, actors of each side, and contexts at 10:00 Shanghai time
// of a given day.
struct world {
  core::registry reg = core::registry::henan();
  core::sla_policy sla;
  // The center's revisit sample so far (Art. 23, 46): by default one closure, picked, so the next
  // non-complaint closure is not picked unless a test sets a tally that needs it.
  core::revisit_tally revisit_so_far{1, 1};

  world() {
    reg.apply(unit_registered{unit_id{"u-zz-yg"}, "郑州市道路运输管理局", center_code{"410100"},
                              unit_contact{"李四", "13900000001", "yg@zz.example", ""}});
    reg.apply(unit_registered{unit_id{"u-zz-gl"}, "郑州市公路事业发展中心", center_code{"410100"},
                              unit_contact{"王五", "13900000002", "", ""}});
    reg.apply(unit_registered{unit_id{"u-kf-yg"}, "开封市道路运输管理局", center_code{"410200"},
                              unit_contact{"赵六", "13900000003", "", ""}});
    reg.apply(unit_registered{unit_id{"u-prov-gs"}, "河南省高速公路管理中心", center_code{"410000"},
                              unit_contact{"钱七", "13900000004", "", ""}});
  }

  static actor agent(const char* center = "410100") {
    return actor{user_id{std::string("agent@") + center}, role::agent, center_code{center}, {}};
  }
  static actor revisit_officer(const char* center = "410100") {
    return actor{user_id{std::string("rv@") + center}, role::revisit_officer, center_code{center}, {}};
  }
  static actor unit_member(const char* unit, role r = role::unit_staff) {
    return actor{user_id{std::string("staff@") + unit}, r, {}, unit_id{unit}};
  }

  context at(civil_date day, actor who) const {
    return context{timestamp{shanghai_start_of_day(day).ms + 10LL * 3600 * 1000}, &repo_calendar(),
                   &reg, sla, std::move(who), retention_policy{}, revisit_so_far};
  }
};

// Decides and folds: the state after the command, or its error.
inline result<case_state> step(const case_state& s, const command& c, const context& ctx) {
  auto events = decide(s, c, ctx);
  if (!events) return events.error();
  case_state next = s;
  for (const auto& e : events.value()) next = evolve(std::move(next), e, ctx.now);
  return next;
}

}  // namespace caseline::core::testing

template <>
struct doctest::StringMaker<caseline::civil_date> {
  static doctest::String convert(const caseline::civil_date& d) { return d.to_string().c_str(); }
};
