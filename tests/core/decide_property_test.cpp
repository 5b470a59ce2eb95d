#include "core/decide.h"

#include <doctest/doctest.h>

#include <random>

#include "core/codec.h"
#include "core/errc.h"
#include "tests/core/test_support.h"

using namespace caseline;
using namespace caseline::core;
using caseline::core::testing::world;

// Random command sequences (seeded, so a failure reproduces): whatever is decided, the state
// never breaks a rule, and folding the produced events, after an encode/decode round trip,
// reproduces the state decide was working from.

namespace {

const world w;
const char* const units[] = {"u-zz-yg", "u-zz-gl", "u-kf-yg", "u-prov-gs"};

template <class T>
T pick(std::mt19937_64& rng, std::initializer_list<T> values) {
  std::uniform_int_distribution<std::size_t> d(0, values.size() - 1);
  return *(values.begin() + d(rng));
}

std::string maybe_blank(std::mt19937_64& rng, const char* text) {
  return rng() % 10 == 0 ? std::string{} : std::string{text};
}

command random_command(std::mt19937_64& rng, const case_state& s, civil_date today) {
  switch (rng() % 14) {
    case 0: return receive{channel::phone, center_code{"410100"}, caller_info{"138", "张三"}, "内容",
                           std::nullopt, case_id{"410100-x-" + std::to_string(rng() % 100000)},
                           rng() % 4 == 0 ? "事故" : ""};
    case 1: return answer_immediately{maybe_blank(rng, "答复")};
    case 2: return not_accept{pick(rng, {not_accepted_reason::outside_remit, not_accepted_reason::excluded_by_law}),
                              maybe_blank(rng, "理由")};
    case 3: return redirect{redirect_target::rail, maybe_blank(rng, "12306"), false};
    case 4: {
      const domain dom = pick(rng, {domain::highway, domain::waterway, domain::road_transport});
      return classify{pick(rng, {category::complaint, category::inquiry, category::suggestion}), dom,
                      {}, rng() % 3 == 0, rng() % 6 == 0 ? "急" : ""};
    }
    case 5: return transfer{unit_id{units[rng() % 4]}};
    case 6: return escalate{pick(rng, {escalation_target::upper_center, escalation_target::department}),
                            escalation_reason::cross_region, ""};
    case 7:
      if (rng() % 3 == 0) return accept_late_return{maybe_blank(rng, "逾期退回，确非其职责"), "非本单位职责"};
      return return_case{maybe_blank(rng, "非本单位职责")};
    case 8:
      if (rng() % 3 == 0) return approve_extension{};
      return extend{extension_reason::complex, working_days{static_cast<int>(rng() % 35)}, "复杂"};
    case 9: {
      const auto ds = deadlines(s, core::testing::world{}.at(today, world::agent()).now);
      if (!ds.empty() && rng() % 4 != 0) return remind{ds[rng() % ds.size()].kind, ds[rng() % ds.size()].due};
      return remind{deadline_kind::reply, today};
    }
    case 10: return reply{"事实", maybe_blank(rng, "过程"), "依据", rng() % 2 == 0};
    case 11: {
      const bool reached = rng() % 3 != 0;
      return revisit{reached, reached ? std::optional{satisfaction::satisfied} : std::nullopt,
                     std::nullopt, rng() % 3 == 0, ""};
    }
    case 12: return archive{};
    default: return flag_major_urgent{maybe_blank(rng, "重大")};
  }
}

// Mostly the actor the rules want for the command, sometimes a wrong one.
actor random_actor(std::mt19937_64& rng, const case_state& s, const command& c) {
  if (rng() % 8 == 0)
    return pick(rng, {world::agent("410200"), world::unit_member("u-kf-yg"), world::revisit_officer()});
  const std::string center = s.owner_center().empty() ? "410100" : s.owner_center();
  if (std::holds_alternative<return_case>(c) || std::holds_alternative<extend>(c) ||
      std::holds_alternative<reply>(c) || std::holds_alternative<approve_extension>(c))
    return world::unit_member(s.unit ? (*s.unit)().c_str() : "u-zz-yg",
                              rng() % 2 == 0 ? role::unit_head : role::unit_staff);
  if (std::holds_alternative<revisit>(c)) return world::revisit_officer(center.c_str());
  if (std::holds_alternative<accept_late_return>(c))
    return actor{user_id{"lead@" + center}, role::shift_lead, center_code{center}, {}};
  return world::agent(center.c_str());
}

// The rules a state must never break; the empty string when it keeps them all.
std::string forbidden(const case_state& s, const std::vector<event>& history) {
  if (s.version != history.size()) return "version is not the number of events";
  if (s.status == case_status::none) return "a case with events has no status";
  if (s.expressway && (s.dom != domain::highway || s.owner_center() != "410000"))
    return "an expressway matter outside the provincial center (Art. 5)";
  if (s.extension_days < 0 || s.extension_days > 30) return "more than 30 wd of extension (Art. 34)";
  if ((s.status == case_status::transferred || s.status == case_status::reopened) &&
      (!s.unit || !s.reply_due || !s.cat))
    return "with a unit but no unit, deadline or category";
  if (s.unit) {
    const unit_info* u = w.reg.unit(*s.unit);
    if (u == nullptr || u->center != s.owner_center) return "a unit not registered with the center (Art. 30)";
  }
  // A unit's reply deadline counts from its first transfer to it (Art. 32-33), which may lie
  // before the current transfer when the unit had returned the matter.
  if (s.reply_due && s.reply_from && *s.reply_due <= *s.reply_from)
    return "reply due before the day it counts from";
  if (s.replied_on && s.cat == category::complaint && !s.revisit_required)
    return "a complaint without a revisit (Art. 23)";
  if (s.status == case_status::archived && s.replied_on && s.revisit_required && !s.revisited)
    return "archived before the required revisit (Art. 38)";
  // Not accepting stays possible after a unit returned the matter; answering at once does not.
  if ((s.status == case_status::answered || s.status == case_status::redirected) && s.first_transferred_on)
    return "answered at once or redirected after a transfer (Art. 26, 29)";
  std::size_t reminders = s.reminders.size();
  for (std::size_t i = 0; i < reminders; ++i)
    for (std::size_t j = i + 1; j < reminders; ++j)
      if (s.reminders[i] == s.reminders[j]) return "the same deadline reminded twice (Art. 35)";
  return {};
}

}  // namespace

TEST_CASE("random command sequences keep the rules and replay to the same state") {
  std::mt19937_64 rng(20261129);
  int accepted = 0, rejected = 0, archived_cases = 0;
  for (int run = 0; run < 2000; ++run) {
    CAPTURE(run);
    case_state s;
    std::vector<std::pair<encoded_event, timestamp>> log;
    std::vector<event> history;
    civil_date today{2018 + static_cast<int>(rng() % 8), 1 + static_cast<unsigned>(rng() % 12), 1};
    // A first receive most of the time; otherwise random commands on an empty case.
    for (int i = 0; i < 40; ++i) {
      today = today.plus_days(static_cast<std::int64_t>(rng() % 5));
      const command c = i == 0 && rng() % 10 != 0
                            ? command{receive{channel::phone, center_code{"410100"}, caller_info{"138", ""}, "x",
                                              std::nullopt, case_id{"410100-p-" + std::to_string(run)}, ""}}
                            : random_command(rng, s, today);
      const context ctx = w.at(today, random_actor(rng, s, c));
      auto decided = decide(s, c, ctx);
      if (!decided) {
        ++rejected;
        CHECK(decided.error().code.category() == core::error_category());
        continue;
      }
      ++accepted;
      for (const event& e : decided.value()) {
        s = evolve(std::move(s), e, ctx.now);
        history.push_back(e);
        log.emplace_back(encode(e), ctx.now);
      }
      const std::string broken = forbidden(s, history);
      REQUIRE_MESSAGE(broken.empty(), broken << " after " << command_name(c) << " in " << to_string(s.status));
    }
    // Replay the stored events from scratch.
    case_state replayed;
    for (const auto& [enc, at] : log) {
      auto e = decode(enc.type_id, enc.version, enc.bytes);
      REQUIRE(e);
      replayed = evolve(std::move(replayed), e.value(), at);
    }
    CHECK(replayed == s);
    archived_cases += s.status == case_status::archived;
  }
  // The generator reaches deep enough into the life of a case to mean something.
  CHECK(accepted > 5000);
  CHECK(rejected > 10000);
  CHECK(archived_cases > 50);
}
