// A hotline never refuses a citizen because a year's calendar is not out yet (Art. 25-27,
// 31-35 count in working days): deadlines counted on a provisional year are computed and say so,
// and the year's notice, once published, revises exactly the pending deadlines it changes.

#include "core/decide.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "core/errc.h"
#include "tests/core/test_support.h"
#include "tests/support/notice_2027.h"

using namespace caseline;
using caseline::testing::notice_2027;
using namespace caseline::core;
using caseline::core::testing::date;
using caseline::core::testing::repo_calendar;
using caseline::core::testing::source_dir;
using caseline::core::testing::step;
using caseline::core::testing::world;

namespace {

const world w;


calendar with_notice(const std::string& text_2027) {
  std::ifstream in(source_dir() + "/core/data/cn-workdays.txt");
  std::ostringstream text;
  text << in.rdbuf();
  auto blocks = calendar::split_years(text.str()).value();
  blocks[2027] = text_2027;
  auto cal = calendar::compose(blocks);
  REQUIRE(cal);
  return std::move(cal).value();
}

context at(const calendar& cal, civil_date day, actor who) {
  context ctx = w.at(day, std::move(who));
  ctx.cal = &cal;
  return ctx;
}

receive a_call(const char* id) {
  return receive{channel::phone, center_code{"410100"}, caller_info{"13800000000", "张三"},
                 "出租车拒载", std::nullopt, case_id{id}, ""};
}

case_state must(const result<case_state>& r) {
  if (!r) FAIL(r.error().message());
  return r.value();
}

std::vector<deadline_revised> revisions(const result<std::vector<event>>& r) {
  REQUIRE(r);
  std::vector<deadline_revised> out;
  for (const auto& e : r.value()) out.push_back(std::get<deadline_revised>(e));
  return out;
}

}  // namespace

TEST_CASE("Art. 27, 32, 33: intake and transfer at the turn of a year without its notice go on") {
  const calendar& cal = repo_calendar();
  const context agent_1230 = at(cal, date("2026-12-30"), world::agent());
  const context agent_1231 = at(cal, date("2026-12-31"), world::agent());
  case_state s = must(step({}, a_call("410100-20261230-000001"), agent_1230));
  // 3 wd (Art. 27): 12-31, then 2027: 01-01 is a statutory day, 01-04, 01-05.
  CHECK(s.transfer_due == date("2027-01-05"));
  CHECK(s.transfer_basis.provisional);
  CHECK(s.transfer_basis.calendar == cal.version());
  s = must(step(s, classify{category::complaint, domain::road_transport, {}, false, ""}, agent_1231));
  s = must(step(s, transfer{unit_id{"u-zz-yg"}}, agent_1231));
  CHECK(s.status == case_status::transferred);
  CHECK(s.return_by == date("2027-01-05"));  // 2 wd (Art. 32)
  CHECK(s.return_basis.provisional);
  CHECK(s.reply_due == date("2027-02-16"));  // 30 wd (Art. 33) over the provisional 2027
  CHECK(s.reply_basis.provisional);
  CHECK(s.reply_from == date("2026-12-31"));
  CHECK(s.reply_days == 30);
  const auto ds = deadlines(s, agent_1231.now);
  REQUIRE(ds.size() == 2);
  CHECK(ds[1].basis.provisional);

  // A deadline counted only over official days is not provisional.
  const case_state early = must(step({}, a_call("410100-20261201-000001"),
                                     at(cal, date("2026-12-01"), world::agent())));
  CHECK(early.transfer_due == date("2026-12-04"));
  CHECK_FALSE(early.transfer_basis.provisional);

  // An extension counted on from a provisional deadline stays provisional (Art. 34).
  const case_state extended_s =
      must(step(s, extend{extension_reason::complex, working_days{5}, "需调查"},
                at(cal, date("2027-01-10"), world::unit_member("u-zz-yg", role::unit_head))));
  CHECK(extended_s.reply_due == date("2027-02-23"));
  CHECK(extended_s.reply_basis.provisional);
  CHECK(extended_s.reply_days == 35);
}

TEST_CASE("the published notice revises exactly the pending deadlines it changes, once") {
  const calendar& provisional = repo_calendar();
  const calendar official = with_notice(notice_2027);
  REQUIRE(official.status(2027) == year_status::official);
  REQUIRE(official.version() != provisional.version());

  // Case A: received 12-30, transferred 12-31 (a complaint, 30 wd).
  case_state a = must(step({}, a_call("410100-20261230-000001"),
                           at(provisional, date("2026-12-30"), world::agent())));
  a = must(step(a, classify{category::complaint, domain::road_transport, {}, false, ""},
                at(provisional, date("2026-12-31"), world::agent())));
  a = must(step(a, transfer{unit_id{"u-zz-yg"}}, at(provisional, date("2026-12-31"), world::agent())));
  // Case B: received 12-30 and still waiting for its transfer.
  const case_state b = must(step({}, a_call("410100-20261230-000002"),
                                 at(provisional, date("2026-12-30"), world::agent())));
  // Case C: everything it counts lies in the official 2026.
  const case_state c = must(step({}, a_call("410100-20261201-000001"),
                                 at(provisional, date("2026-12-01"), world::agent())));

  SUBCASE("published on 2027-01-04: every pending deadline is looked at") {
    const context system = at(official, date("2027-01-04"), world::agent());
    const auto ra = revisions(decide(a, revise_deadlines{}, system));
    // The return window keeps its date and becomes official; the reply moves: the bridging days
    // 02-09 .. 02-11 are off, the make-up Saturday 02-13 is worked.
    REQUIRE(ra.size() == 2);
    CHECK(ra[0].kind == deadline_kind::return_window);
    CHECK(ra[0].previous_due == date("2027-01-05"));
    CHECK(ra[0].due == date("2027-01-05"));
    CHECK_FALSE(ra[0].basis.provisional);
    CHECK(ra[1].kind == deadline_kind::reply);
    CHECK(ra[1].previous_due == date("2027-02-16"));
    CHECK(ra[1].due == date("2027-02-18"));
    CHECK_FALSE(ra[1].basis.provisional);
    CHECK(ra[1].basis.calendar == official.version());
    CHECK(ra[1].revised_on == date("2027-01-04"));

    const auto rb = revisions(decide(b, revise_deadlines{}, system));
    REQUIRE(rb.size() == 1);
    CHECK(rb[0].kind == deadline_kind::transfer);
    CHECK(rb[0].due == date("2027-01-05"));
    // A deadline counted on the official year alone changes nothing.
    CHECK(revisions(decide(c, revise_deadlines{}, system)).empty());

    // The state follows the revision, and a second publication of the same lines revises nothing.
    case_state a2 = must(step(a, revise_deadlines{}, system));
    CHECK(a2.reply_due == date("2027-02-18"));
    CHECK_FALSE(a2.reply_basis.provisional);
    CHECK(deadlines(a2, system.now)[1].due == date("2027-02-18"));
    CHECK(revisions(decide(a2, revise_deadlines{}, system)).empty());
    const calendar same_again = with_notice(notice_2027);
    CHECK(revisions(decide(a2, revise_deadlines{}, at(same_again, date("2027-01-05"), world::agent())))
              .empty());
    // The unit replies on the revised deadline: on time (Art. 33).
    const case_state replied_s =
        must(step(a2, reply{"经查属实", "现场核查", "《道路运输条例》", true},
                  at(official, date("2027-02-18"), world::unit_member("u-zz-yg"))));
    CHECK(replied_s.replied_on_time);
  }

  SUBCASE("published on 2027-01-06: a deadline already passed stays as it was") {
    const context system = at(official, date("2027-01-06"), world::agent());
    CHECK(revisions(decide(b, revise_deadlines{}, system)).empty());  // transfer due 01-05, missed
    const auto ra = revisions(decide(a, revise_deadlines{}, system));
    REQUIRE(ra.size() == 1);  // the return window (01-05) has passed; the reply has not
    CHECK(ra[0].kind == deadline_kind::reply);
  }

  SUBCASE("a revision never moves a pending deadline to a day already past") {
    // A notice that makes 2027-01-02 (Sat) a make-up day: case B's transfer deadline would move
    // to 01-04; published on 01-05 it is due that day instead, not missed retroactively.
    const calendar earlier = with_notice("year 2027 covered x\n2027-01-01 holiday 元旦\n"
                                         "2027-01-02 makeup_workday 元旦\n");
    const auto rb = revisions(decide(b, revise_deadlines{}, at(earlier, date("2027-01-05"), world::agent())));
    REQUIRE(rb.size() == 1);
    CHECK(rb[0].due == date("2027-01-05"));
    CHECK_FALSE(rb[0].basis.provisional);
    const auto on_time = revisions(decide(b, revise_deadlines{}, at(earlier, date("2027-01-04"), world::agent())));
    REQUIRE(on_time.size() == 1);
    CHECK(on_time[0].due == date("2027-01-04"));
  }
}
