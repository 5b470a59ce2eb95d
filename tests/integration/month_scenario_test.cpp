// One month of a center through the API: October 2025 at the Zhengzhou center (410100), with the
// National Day and Mid-Autumn holidays (1-8 October, make-up working days 28 September and
// 11 October) taken from the real calendar. About 300 matters of every channel, domain and
// category are received, answered at once, not accepted, redirected, classified and transferred
// to several units, escalated to the provincial center (whose handling figures they become),
// returned within the window, extended, replied on time and late, revisited (reached or not,
// satisfied or not, reopened), archived, flagged major-urgent, or left open at month end.
// September 2025 and October 2024 give the growth figures, and a few matters of the Luoyang
// center (410300) the province-wide totals and the assessment (Art. 45).
//
// The matters come from a fixed seed. The expected figures of the monthly report are counted in
// this file from the scenario's own plan, by the definitions of the top-level README ("Statutory
// reports") and the articles (Art. 23, 33-34, 39, 45), with the working days counted by this
// file's own reading of the State Council notice — never read back from a projection. Then the
// report is fetched through the API and every figure compared, and the log replayed into a fresh
// store must equal the live projections (`caseline rebuild --verify`).
//
// To add a figure: give the plan what it needs (`matter`, `cycle`), enact it (`enact`), count it
// in `expected_figures` (or next to it for a new section), and compare it in `compare_report`.
// A figure the report gives that this file does not expect fails the test, naming it.

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "core/time.h"
#include "tests/gateway/gateway_test_support.h"

namespace caseline::gwtest {
namespace {

// --- the working days, as the State Council notices give them ------------------------------------

civil_date day(const char* text) { return *civil_date::parse(text); }

// Art. 33-34 count working days; this is the State Council notices' own list (for 2025 and 2026,
// the notices core/data/cn-workdays.txt cites) for the days the scenario reaches, written here
// apart from the product's calendar.
bool working(civil_date d) {
  static const std::set<civil_date> makeup{day("2025-09-28"), day("2025-10-11"),
                                           day("2026-01-04")};
  if (makeup.contains(d)) return true;
  if (d >= day("2025-10-01") && d <= day("2025-10-08")) return false;  // 国庆节、中秋节
  if (d >= day("2026-01-01") && d <= day("2026-01-03")) return false;  // 元旦
  return d.iso_weekday() < 5;
}

// Civil Code Art. 201: the start day is not counted; the Nth working day after it.
civil_date add_wd(civil_date from, int n) {
  civil_date d = from;
  while (n > 0) {
    d = d.plus_days(1);
    if (working(d)) --n;
  }
  return d;
}

int reply_days(const std::string& cat) {  // Art. 33
  return cat == "inquiry" ? 5 : cat == "suggestion" ? 10 : 30;
}

// --- the plan ----------------------------------------------------------------------------------

struct span {
  civil_date from, to;
  bool contains(civil_date d) const { return from <= d && d <= to; }
};
const span october{day("2025-10-01"), day("2025-10-31")};
const span september{day("2025-09-01"), day("2025-09-30")};
const span october_2024{day("2024-10-01"), day("2024-10-31")};

const civil_date scenario_end = day("2025-11-05");  // the report is read this day
constexpr const char* provincial_center = "410000";

struct revisit_plan {
  civil_date on;
  bool reached{false};
  std::string view;  // satisfied | basically_satisfied | dissatisfied, when reached
  bool further{false};
};

// One handling cycle: a transfer (or a reopening after a revisit) until the reply.
struct cycle {
  std::string unit;
  civil_date from;        // the transfer, or the revisit that reopened it
  bool reopened{false};
  std::optional<civil_date> returned_on;  // given back within 2 wd (Art. 32): the cycle is dropped
  std::optional<civil_date> flagged_on;   // flagged major-urgent while with the unit
  std::optional<civil_date> extended_on;  // Art. 34
  int extension_days{0};
  std::optional<civil_date> replied_on;
  std::optional<revisit_plan> revisit;

  civil_date due(const std::string& cat) const {
    return add_wd(from, reply_days(cat) + extension_days);
  }
};

enum class intake { answered, not_accepted, redirected, left_open, classified_only, transferred };

struct matter {
  std::string center{own_center};
  std::string channel{"phone"};
  civil_date recorded_on;   // when it is keyed in
  civil_date received_on;   // when it came (Art. 27: occurred_at when earlier)
  intake how{intake::answered};
  std::optional<std::pair<std::string, std::string>> at_intake;  // category, domain (Art. 39)
  bool classify{false};  // by the agent: after answering, or before not accepting or transferring
  std::string cat, dom;  // as classified (what the report counts by)
  std::vector<std::string> topics;
  bool urgent_at_intake{false};
  // Escalated to the upper center (Art. 27), which transfers it: the handling is its own.
  bool escalated{false};
  std::vector<cycle> cycles;
  std::optional<civil_date> archived_on;
  std::string id;  // given by the server

  std::string final_cat() const {
    if (classify) return cat;
    return at_intake ? at_intake->first : "unclassified";
  }
  std::string final_dom() const {
    if (classify) return dom;
    return at_intake ? at_intake->second : "unclassified";
  }
  // The center whose the handling cycles are: the one that transferred the matter.
  std::string handling_center() const {
    return escalated ? std::string(provincial_center) : center;
  }
  std::optional<civil_date> flagged_on() const {
    if (urgent_at_intake) return recorded_on;
    for (const auto& c : cycles)
      if (c.flagged_on) return c.flagged_on;
    return std::nullopt;
  }
};

// A deterministic generator: std::mt19937's sequence is fixed by the standard; the reductions
// are plain modulo, so every platform draws the same plan.
struct draw {
  std::mt19937 gen;
  explicit draw(std::uint32_t seed) : gen(seed) {}
  unsigned operator()(unsigned n) { return static_cast<unsigned>(gen() % n); }
  bool chance(unsigned percent) { return (*this)(100) < percent; }
  template <class T>
  const T& of(const std::vector<T>& v) { return v[(*this)(static_cast<unsigned>(v.size()))]; }
};

const std::vector<std::string> channels{"phone",  "website", "sms", "wechat",
                                        "app",    "email",   "fax", "other_hotline"};
const std::vector<std::string> categories{"complaint", "inquiry", "suggestion"};
const std::vector<std::string> domains{"highway",  "waterway",       "road_transport",
                                       "maritime", "rescue_salvage", "work_safety"};
const std::vector<std::string> tags{"公交", "出租车", "网约车", "超限",   "路面",
                                    "客运站", "港口", "渡口",   "驾培", "停车"};
const std::vector<std::string> zz_units{"zz-transit", "zz-taxi", "zz-highway", "zz-port",
                                        "zz-safety"};

std::string unit_for(const std::string& dom, unsigned pick) {
  if (dom == "road_transport") return pick % 2 ? "zz-taxi" : "zz-transit";
  if (dom == "highway") return "zz-highway";
  if (dom == "waterway" || dom == "maritime") return "zz-port";
  return "zz-safety";
}

// The revisit of a replied cycle, and what follows it; stops at the scenario's end.
void follow_up(draw& d, matter& m, std::size_t k, bool again) {
  cycle& c = m.cycles[k];
  if (!c.replied_on) return;
  const bool complaint = m.cat == "complaint";
  // Art. 23: every complaint, a sample of the rest.
  if (!complaint && !d.chance(again ? 60 : 45)) return;
  revisit_plan r;
  r.on = c.replied_on->plus_days(1 + d(3));
  if (r.on > scenario_end) return;
  r.reached = d.chance(85);
  if (r.reached) {
    const unsigned v = d(100);
    r.view = v < 55 ? "satisfied" : v < 80 ? "basically_satisfied" : "dissatisfied";
    r.further = r.view == "dissatisfied" && !again && d.chance(40);
  }
  c.revisit = r;
  if (r.further) {
    cycle next;
    next.unit = c.unit;
    next.from = r.on;
    next.reopened = true;
    if (d.chance(75)) {
      const civil_date due = next.due(m.cat);
      const civil_date on = d.chance(75) ? add_wd(next.from, 1 + d(static_cast<unsigned>(
                                                               std::min(reply_days(m.cat), 4))))
                                         : due.plus_days(1 + d(3));
      if (on <= scenario_end) next.replied_on = on;
    }
    m.cycles.push_back(next);
    follow_up(d, m, k + 1, true);
    return;
  }
  if (d.chance(60) && r.on.plus_days(1) <= scenario_end) m.archived_on = r.on.plus_days(1);
}

// One cycle with a unit from `from`: returned, flagged, extended, replied, as drawn.
void handle(draw& d, matter& m, civil_date from, std::string unit, bool may_return) {
  cycle c;
  c.unit = std::move(unit);
  c.from = from;
  if (may_return && d.chance(8)) {
    // Given back within the window of 2 wd (Art. 32), then transferred to another unit.
    c.returned_on = d.chance(50) ? from : add_wd(from, 1);
    m.cycles.push_back(c);
    if (*c.returned_on > scenario_end) {
      m.cycles.back().returned_on.reset();
      return;
    }
    const civil_date again = *c.returned_on;
    std::string other = zz_units[(std::find(zz_units.begin(), zz_units.end(), c.unit) -
                                  zz_units.begin() + 1 + d(4)) % zz_units.size()];
    handle(d, m, again, other, false);
    return;
  }
  const int days = reply_days(m.cat);
  if (d.chance(12)) {
    // Art. 34: extended before the deadline, from the next working day.
    const civil_date on = add_wd(from, 1);
    if (on <= scenario_end) {
      c.extended_on = on;
      c.extension_days = std::array{3, 5, 10}[d(3)];
    }
  }
  const civil_date due = c.due(m.cat);
  const unsigned roll = d(100);
  std::optional<civil_date> replied;
  if (roll < 62) {  // on time: within the (extended) limit, a quarter on its very last day
    const int span = std::min(days + c.extension_days, 12);
    const int k = (c.extended_on ? 2 : 0) + static_cast<int>(d(static_cast<unsigned>(span - 1)));
    replied = k == 0 ? from : add_wd(from, k);
    if (d.chance(25) || *replied > due) replied = due;
  } else if (roll < 85) {  // late, a third of them on the day after the deadline
    replied = d.chance(35) ? due.plus_days(1) : due.plus_days(1 + d(4));
  }
  if (replied && *replied <= scenario_end) c.replied_on = replied;
  m.cycles.push_back(c);
  follow_up(d, m, m.cycles.size() - 1, false);
}

matter draw_matter(draw& d, civil_date received, const std::string& center) {
  matter m;
  m.center = center;
  m.recorded_on = m.received_on = received;
  m.channel = d.chance(45) ? "phone" : channels[1 + d(7)];
  m.cat = d.of(categories);
  m.dom = d.of(domains);
  for (unsigned n = d(3), i = 0; i < n; ++i) {
    const auto& t = d.of(tags);
    if (std::find(m.topics.begin(), m.topics.end(), t) == m.topics.end()) m.topics.push_back(t);
  }
  const unsigned roll = d(100);
  m.how = roll < 34   ? intake::answered
          : roll < 39 ? intake::not_accepted
          : roll < 43 ? intake::redirected
          : roll < 46 ? intake::left_open
          : roll < 48 ? intake::classified_only
                      : intake::transferred;
  const auto intake_dims = [&] {
    return std::pair{d.of(categories), d.of(domains)};
  };
  switch (m.how) {
    case intake::answered: {
      // Art. 39: named at intake, classified after the answer, or neither (unclassified).
      const unsigned k = d(100);
      if (k < 40) m.at_intake = std::pair{m.cat, m.dom};
      m.classify = k >= 40 && k < 75;
      break;
    }
    case intake::not_accepted:
      m.classify = d.chance(50);
      if (!m.classify && d.chance(50)) m.at_intake = intake_dims();
      break;
    case intake::redirected:
    case intake::left_open:
      if (d.chance(50)) m.at_intake = intake_dims();
      break;
    case intake::classified_only:
      m.classify = true;
      break;
    case intake::transferred: {
      m.classify = true;
      if (d.chance(20)) m.at_intake = intake_dims();  // reclassified before the transfer
      const civil_date on = d.chance(70) ? received : add_wd(received, 1);
      if (on <= scenario_end) {
        const std::string unit =
            center == own_center ? unit_for(m.dom, d(2)) : std::string(other_unit);
        handle(d, m, on, unit, center == own_center);
      }
      break;
    }
  }
  if (!m.classify) m.topics.clear();  // topics come with the classification
  // Archived the next day (Art. 38). Matters answered at once are left as they are: whether
  // they are sampled for a revisit first (Art. 23(1)) is not this scenario's question.
  const bool closed_at_intake = m.how == intake::not_accepted || m.how == intake::redirected;
  if (closed_at_intake && d.chance(50) && received.plus_days(1) <= scenario_end)
    m.archived_on = received.plus_days(1);
  return m;
}

// A matter that came on `received`, recorded on `recorded` and answered at once.
matter answered_at_once(draw& d, civil_date received, civil_date recorded, std::string channel) {
  matter m = draw_matter(d, received, own_center);
  m.channel = std::move(channel);
  m.recorded_on = recorded;
  m.how = intake::answered;
  m.cycles.clear();
  m.archived_on.reset();
  return m;
}

struct plan {
  std::vector<matter> matters;
  // The days the service clock was set to while the plan was enacted (scenario::run): the
  // reminder scheduler reminds, and reports to the department (Art. 35), on the first of them
  // after a deadline passed, before anything else happens that day.
  std::set<civil_date> clock_days;
};

plan october_2025() {
  draw d(20251031);
  plan p;
  // October 2024 (year on year): closed at intake.
  for (int i = 0; i < 6; ++i) {
    matter m;
    m.recorded_on = m.received_on = day("2024-10-14").plus_days(i);
    m.channel = channels[static_cast<std::size_t>(i)];
    m.how = i % 3 == 0 ? intake::not_accepted : intake::answered;
    const auto k = static_cast<std::size_t>(i);
    m.at_intake = std::pair{categories[k % 3], domains[k]};
    p.matters.push_back(m);
  }
  // September 2025 (month on month): their replies and revisits fall partly in October, and
  // the complaints' deadlines of 30 wd run across the holiday into November.
  for (int i = 0; i < 45; ++i)
    p.matters.push_back(draw_matter(d, day("2025-09-01").plus_days(d(30)), own_center));
  // October 2025.
  for (int i = 0; i < 300; ++i)
    p.matters.push_back(draw_matter(d, day("2025-10-01").plus_days(d(31)), own_center));
  // Art. 27: matters that came before they were recorded count from when they came — one
  // from the last days of September, recorded in October, counts in September.
  p.matters.push_back(answered_at_once(d, day("2025-09-29"), day("2025-10-03"), "email"));
  p.matters.push_back(answered_at_once(d, day("2025-10-10"), day("2025-10-13"), "sms"));
  // Major-urgent (Art. 40(4), 43): one flagged at intake, one with the unit when the facts
  // became known.
  {
    matter m = answered_at_once(d, day("2025-10-05"), day("2025-10-05"), "phone");
    m.urgent_at_intake = true;
    p.matters.push_back(m);
    for (auto& t : p.matters) {
      if (t.center != own_center || t.received_on < day("2025-10-01") ||
          t.how != intake::transferred || t.cycles.empty() ||
          t.cycles[0].returned_on || t.cycles[0].extended_on)
        continue;
      const auto& c = t.cycles[0];
      if (c.replied_on && *c.replied_on <= c.from.plus_days(1)) continue;
      t.cycles[0].flagged_on = c.from.plus_days(1);
      break;
    }
  }
  // Escalated to the provincial center (Art. 27), which transfers them to a unit of its own.
  int escalated = 0;
  for (auto& t : p.matters) {
    if (escalated == 3) break;
    if (t.center != own_center || !october.contains(t.received_on) ||
        t.how != intake::transferred || t.cycles.empty() || t.cycles[0].returned_on ||
        t.cycles[0].flagged_on)
      continue;
    t.escalated = true;
    for (auto& c : t.cycles) c.unit = provincial_unit;
    ++escalated;
  }
  // Luoyang (410300): the province-wide totals and the assessment.
  for (int i = 0; i < 12; ++i)
    p.matters.push_back(draw_matter(d, day("2025-10-01").plus_days(d(31)), other_center));
  return p;
}

// --- enacting the plan through the API -----------------------------------------------------------

struct action {
  civil_date on;
  int slot{0};
  std::size_t matter{0};
  std::string what;
  std::function<void()> run;
};

std::string at(civil_date d, int slot) {
  return fmt::format("{}T{:02}:{:02}:00+08:00", d.to_string(), 8 + slot * 7 / 60, slot * 7 % 60);
}

struct scenario {
  test_server& s;
  plan& p;
  std::map<std::string, std::string> unit_tokens;
  std::map<std::string, std::string> head_tokens;  // the unit's head: extensions (Art. 34)

  const std::map<std::string, std::string>& tokens(const matter& m) const {
    return m.center == own_center ? s.own : s.other;
  }

  void must(const reply& r, int status, const std::string& what) {
    INFO(what << ": " << r.status << " " << r.body);
    REQUIRE(r.status == status);
  }
  reply command(matter& m, const std::string& verb, const std::string& body,
                const std::string& token, const std::string& what) {
    auto r = s.post("/v1/cases/" + m.id + "/" + verb, body, token);
    must(r, 200, what);
    return r;
  }
  static std::string classification(const std::string& cat, const std::string& dom) {
    return fmt::format(R"("category":"{}","domain":"{}")", cat, dom);
  }
  void check_reply_due(const reply& r, civil_date expected, const std::string& what) {
    // The product's deadline against the notice's working days (Art. 33-34).
    const auto& due = r.json().at("deadlines").at("reply_by").at("due");
    INFO(what);
    CHECK(due.as_string() == expected.to_string());
  }

  void receive(matter& m) {
    std::string body =
        fmt::format(R"({{"channel":"{}","center":"{}","content":"第{}件事","caller":)", m.channel,
                    m.center, &m - p.matters.data());
    body += m.channel == "phone" ? R"({"phone":"13800001234","name":"张三"})"
                                 : R"({"account":"acct-)" + m.channel + R"("})";
    if (m.at_intake) body += "," + classification(m.at_intake->first, m.at_intake->second);
    if (m.urgent_at_intake) body += R"(,"major_urgent_reason":"大面积滞留")";
    if (m.received_on < m.recorded_on)
      body += R"(,"occurred_at":")" + at(m.received_on, 60) + "\"";
    body += "}";
    auto r = s.post("/v1/cases", body, tokens(m).at("agent"));
    must(r, 201, "receive " + body);
    m.id = r.json().at("id").as_string().c_str();
  }

  void classify(matter& m) {
    json::array t;
    for (const auto& x : m.topics) t.emplace_back(x.c_str());
    command(m, "classify",
            "{" + classification(m.cat, m.dom) + R"(,"topics":)" + json::serialize(t) + "}",
            tokens(m).at("agent"), "classify " + m.id);
  }

  // The actions of one matter, in its own order; slots keep that order within a day. Each
  // action holds pointers into the plan, which does not change while the scenario runs.
  void enact(std::size_t index, std::vector<action>& out) {
    matter* m = &p.matters[index];
    const std::map<std::string, std::string>* tk = &tokens(*m);
    // The cycles' center: the transfer, the revisit and the archiving are its staff's.
    const std::map<std::string, std::string>* hc = m->escalated ? &s.provincial : tk;
    civil_date last = m->recorded_on;
    int slot = -1;
    const auto add = [&](civil_date on, std::string what, std::function<void()> f) {
      REQUIRE(on >= last);
      slot = on == last ? slot + 1 : 0;
      last = on;
      out.push_back(action{on, slot, index, std::move(what), std::move(f)});
    };
    const auto agent = [this, m, tk](const char* verb, std::string body) {
      command(*m, verb, body, tk->at("agent"), std::string(verb) + " " + m->id);
    };
    add(m->recorded_on, "receive", [this, m] { receive(*m); });
    switch (m->how) {
      case intake::answered:
        add(m->recorded_on, "answer",
            [agent] { agent("answer", R"({"answer":"已即时答复"})"); });
        if (m->classify) add(m->recorded_on, "classify", [this, m] { classify(*m); });
        break;
      case intake::not_accepted:
        if (m->classify) add(m->recorded_on, "classify", [this, m] { classify(*m); });
        add(m->recorded_on, "not-accept", [agent] {
          agent("not-accept",
                R"({"reason":"outside_remit","explanation":"不属于交通运输部门职责"})");
        });
        break;
      case intake::redirected:
        add(m->recorded_on, "redirect",
            [agent] { agent("redirect", R"({"to":"rail","number":"12306"})"); });
        break;
      case intake::left_open: break;
      case intake::classified_only:
      case intake::transferred:
        add(m->recorded_on, "classify", [this, m] { classify(*m); });
        if (m->escalated)  // by the center's supervisor
          add(m->recorded_on, "escalate", [this, m, tk] {
            command(*m, "escalate", R"({"to":"upper_center","reason":"cross_region"})",
                    tk->at("supervisor"), "escalate " + m->id);
          });
        break;
    }
    for (const cycle& cy : m->cycles) {
      const cycle* c = &cy;
      const std::string* unit = &unit_tokens.at(c->unit);
      if (!c->reopened)
        add(c->from, "transfer", [this, m, hc, c] {
          auto r = command(*m, "transfer", R"({"unit":")" + c->unit + "\"}", hc->at("agent"),
                           "transfer " + m->id);
          check_reply_due(r, add_wd(c->from, reply_days(m->cat)), "transfer " + m->id);
        });
      if (c->flagged_on)
        add(*c->flagged_on, "flag",
            [agent] { agent("flag-major-urgent", R"({"reason":"涉及群体性事件"})"); });
      if (c->returned_on) {
        add(*c->returned_on, "return", [this, m, unit] {
          command(*m, "return", R"({"reasons":"不属于本单位职责"})", *unit,
                  "return " + m->id);
        });
        continue;
      }
      if (c->extended_on)
        add(*c->extended_on, "extend", [this, m, c] {
          // Made by the unit's head (Art. 34): the approver is the token, not a field.
          auto r = command(*m, "extend",
                           fmt::format(R"({{"reason":"complex","working_days":{},)"
                                       R"("explanation":"需多方核查"}})",
                                       c->extension_days),
                           head_tokens.at(c->unit), "extend " + m->id);
          check_reply_due(r, c->due(m->cat), "extend " + m->id);
        });
      if (c->replied_on)
        add(*c->replied_on, "reply", [this, m, unit] {
          command(*m, "reply",
                  R"({"facts":"已核实","process":"已处理","basis":"《道路运输条例》",)"
                  R"("caller_reached":true})",
                  *unit, "reply " + m->id);
        });
      if (c->revisit)
        add(c->revisit->on, "revisit", [this, m, hc, c] {
          const auto& r = *c->revisit;
          std::string body = R"({"reached":)" + std::string(r.reached ? "true" : "false");
          if (r.reached) body += R"(,"satisfaction":")" + r.view + R"(","timeliness":"timely")";
          if (r.further) body += R"(,"further_handling":true)";
          body += "}";
          command(*m, "revisit", body, hc->at("revisit_officer"), "revisit " + m->id);
        });
    }
    if (m->archived_on)
      add(*m->archived_on, "archive", [this, m, hc] {
        command(*m, "archive", "{}", hc->at("supervisor"), "archive " + m->id);
      });
  }

  // After the clock moved: every deadline that passed is reminded (and a unit's reply deadline
  // reported to the department, Art. 35) before the day's first action, as the scheduler does
  // when the clock moves.
  void await_reminders(const std::string& t) {
    std::string pending;
    const bool settled = eventually(
        [&] {
          auto r = s.get("/v1/sla/overdue?limit=500", s.provincial["supervisor"]);
          if (r.status != 200) return false;
          REQUIRE(r.json().at("next_cursor").is_null());  // the whole list is on this page
          pending.clear();
          for (const auto& i : r.json().at("items").as_array())
            if (!i.at("reminded").as_bool())
              pending += std::string(i.at("case_id").as_string()) + " ";
          return pending.empty();
        },
        std::chrono::seconds(60));
    INFO("at " << t << " not reminded: " << pending);
    REQUIRE(settled);
  }

  void run() {
    std::vector<action> all;
    for (std::size_t i = 0; i < p.matters.size(); ++i) enact(i, all);
    std::stable_sort(all.begin(), all.end(), [](const action& a, const action& b) {
      return std::tie(a.on, a.slot) < std::tie(b.on, b.slot);
    });
    std::string now;
    for (auto& a : all) {
      const std::string t = at(a.on, a.slot);
      if (t != now) {
        must(s.post("/v1/admin/clock", R"({"now":")" + t + "\"}", s.own["admin"]), 200,
             "clock " + t);
        if (p.clock_days.insert(a.on).second) await_reminders(t);
        now = t;
      }
      INFO("matter " << a.matter << " " << a.what << " on " << a.on.to_string());
      a.run();
    }
    must(s.post("/v1/admin/clock", R"({"now":")" + at(scenario_end, 100) + "\"}", s.own["admin"]),
         200, "clock at the end");
    p.clock_days.insert(scenario_end);
    await_reminders("the end");
  }
};

// --- the expected figures, counted over the plan ------------------------------------------------

using tally = std::map<std::string, std::int64_t>;               // metric -> count
using dims = std::pair<std::string, std::string>;                // domain, category
using by_dims = std::map<dims, tally>;

// Art. 35: the day a cycle's reply deadline was reported to the department as passed unmet —
// the first day the clock was set to after it, unless the unit had replied by then — or none.
std::optional<civil_date> reported_on(const plan& p, const matter& m, const cycle& c) {
  if (c.returned_on) return std::nullopt;
  const civil_date due = c.due(m.cat);
  if (c.replied_on && *c.replied_on <= due) return std::nullopt;
  const auto next = p.clock_days.upper_bound(due);
  if (next == p.clock_days.end()) return std::nullopt;
  return *next;
}

// The counters of the top-level README ("What is counted, on which date, for which center"),
// over the period, for one center or (none) every center.
by_dims expected_figures(const plan& p, span period, const std::optional<std::string>& center) {
  by_dims out;
  for (const matter& m : p.matters) {
    const dims k{m.final_dom(), m.final_cat()};
    // Intake is the receiving center's, the handling cycles the transferring center's.
    bool ours = !center || m.center == *center;
    const auto add = [&](civil_date on, const char* metric) {
      if (ours && period.contains(on)) ++out[k][metric];
    };
    add(m.received_on, "received");
    if (m.how == intake::answered) add(m.received_on, "answered_immediately");
    if (m.how == intake::not_accepted) add(m.received_on, "not_accepted");
    if (m.how == intake::redirected) add(m.received_on, "redirected");
    ours = !center || m.handling_center() == *center;
    for (const cycle& c : m.cycles) {
      if (c.returned_on) continue;  // the unit's deadline, not the case's (Art. 32)
      const civil_date due = c.due(m.cat);
      if (auto r = reported_on(p, m, c)) add(*r, "overdue_reported");
      add(due, "reply_due");
      if (!c.replied_on) continue;
      if (*c.replied_on <= due) add(due, "replied_on_time");
      add(*c.replied_on, "replied");
      if (!c.revisit) continue;
      add(*c.replied_on, "replied_revisited");
      add(c.revisit->on, "revisits");
      if (!c.revisit->reached) continue;
      add(c.revisit->on, "revisits_reached");
      add(c.revisit->on, c.revisit->view.c_str());
    }
  }
  return out;
}

// Per handling unit (Art. 32-33), keyed by the center that transferred the matter and the unit:
// the cycles the unit was given, by their deadline, and its returns, by the day of the return.
// No return is late: a late one is refused (Art. 32), and the plan makes none.
using unit_key = std::pair<std::string, std::string>;
std::map<unit_key, tally> expected_units(const plan& p, span period,
                                         const std::optional<std::string>& center) {
  std::map<unit_key, tally> out;
  for (const matter& m : p.matters) {
    if (center && m.handling_center() != *center) continue;
    for (const cycle& c : m.cycles) {
      const unit_key k{m.handling_center(), c.unit};
      if (c.returned_on) {
        if (period.contains(*c.returned_on)) ++out[k]["returns"];
        continue;
      }
      if (auto r = reported_on(p, m, c); r && period.contains(*r)) ++out[k]["overdue_reported"];
      const civil_date due = c.due(m.cat);
      if (!period.contains(due)) continue;
      ++out[k]["reply_due"];
      if (c.replied_on && *c.replied_on <= due) ++out[k]["replied_on_time"];
    }
  }
  return out;
}

tally total(const by_dims& f) {
  tally t;
  for (const auto& [k, v] : f)
    for (const auto& [n, c] : v) t[n] += c;
  return t;
}

std::int64_t get(const tally& t, const char* n) {
  const auto it = t.find(n);
  return it == t.end() ? 0 : it->second;
}

double round4(double v) { return std::round(v * 10000.0) / 10000.0; }

std::optional<double> ratio(std::int64_t num, std::int64_t den) {
  if (den <= 0) return std::nullopt;
  return round4(static_cast<double>(num) / static_cast<double>(den));
}

// The rates of the README ("The rates"), from the counts.
std::map<std::string, std::optional<double>> rates(const tally& t) {
  const std::int64_t accepted = get(t, "received") - get(t, "not_accepted") - get(t, "redirected");
  return {{"immediate_answer_rate", ratio(get(t, "answered_immediately"), accepted)},
          {"on_time_rate", ratio(get(t, "replied_on_time"), get(t, "reply_due"))},
          {"revisit_rate", ratio(get(t, "replied_revisited"), get(t, "replied"))},
          {"satisfaction_rate",
           ratio(get(t, "satisfied") + get(t, "basically_satisfied"), get(t, "revisits_reached"))}};
}

std::map<std::string, std::int64_t> expected_topics(const plan& p, span period,
                                                    const std::string& center) {
  std::map<std::string, std::int64_t> out;
  for (const matter& m : p.matters) {
    if (m.center != center || !period.contains(m.received_on)) continue;
    for (const auto& t : std::set<std::string>(m.topics.begin(), m.topics.end())) ++out[t];
  }
  return out;
}

// --- comparing -----------------------------------------------------------------------------------

void check_rate(const json::value& got, std::optional<double> expected, const std::string& what) {
  INFO(what);
  if (!expected) {
    CHECK(got.is_null());
    return;
  }
  REQUIRE(got.is_number());
  CHECK(got.to_number<double>() == doctest::Approx(*expected).epsilon(1e-9));
}

// Every figure of a figures object: the counts, accepted and the rates. A count the report gives
// that this file does not count fails, naming it.
void check_figures(const json::value& got, const tally& expected, const std::string& what) {
  const auto& o = got.as_object();
  const auto r = rates(expected);
  std::set<std::string> seen;
  for (const auto& kv : o) {
    const std::string k(kv.key());
    const json::value& value = kv.value();
    seen.insert(k);
    INFO(what << " " << k);
    if (r.contains(k)) {
      check_rate(value, r.at(k), what + " " + k);
    } else if (k == "accepted") {
      CHECK(value.as_int64() == get(expected, "received") - get(expected, "not_accepted") -
                                    get(expected, "redirected"));
    } else {
      CHECK(value.as_int64() == get(expected, k.c_str()));
    }
  }
  for (const auto& kv : expected) {
    const std::string& k = kv.first;
    INFO(what << ": the report has no figure " << k);
    CHECK(seen.contains(k));
  }
  for (const auto& [k, v] : r) CHECK(seen.contains(k));
}

std::optional<double> growth(std::int64_t now, std::int64_t before) {
  if (before <= 0) return std::nullopt;
  return round4(static_cast<double>(now - before) / static_cast<double>(before));
}


// The monthly report of one center (or the province) against the plan.
void compare_report(const plan& p, const json::value& rep,
                    const std::optional<std::string>& center) {
  const std::string who = center ? *center : "province";
  const auto cur = expected_figures(p, october, center);
  const auto prev = expected_figures(p, september, center);
  const auto year_before = expected_figures(p, october_2024, center);
  CHECK(rep.at("label").as_string() == "2025-10");
  CHECK(rep.at("center").as_string() == who.c_str());
  CHECK(rep.at("due").as_string() == "2025-11-02");  // before the 3rd (Art. 40(1))
  check_figures(rep.at("totals"), total(cur), who + " totals");
  check_figures(rep.at("previous_totals"), total(prev), who + " previous totals");
  check_figures(rep.at("year_before_totals"), total(year_before), who + " year-before totals");
  const std::int64_t received = get(total(cur), "received");
  check_rate(rep.at("growth").at("month_on_month"), growth(received, get(total(prev), "received")),
             who + " month on month");
  check_rate(rep.at("growth").at("year_on_year"),
             growth(received, get(total(year_before), "received")), who + " year on year");

  // By domain × category (Art. 39): a row for every pair counted this month or the last.
  std::set<dims> keys;
  for (const auto& [k, v] : cur) keys.insert(k);
  for (const auto& [k, v] : prev) keys.insert(k);
  std::set<dims> got_keys;
  for (const auto& row : rep.at("by_domain_category").as_array()) {
    const dims k{row.at("domain").as_string().c_str(), row.at("category").as_string().c_str()};
    got_keys.insert(k);
    const std::string what = who + " " + k.first + "/" + k.second;
    check_figures(row.at("figures"), cur.contains(k) ? cur.at(k) : tally{}, what);
    check_figures(row.at("previous"), prev.contains(k) ? prev.at(k) : tally{}, what + " previous");
  }
  CHECK(got_keys == keys);

  // Complaints are revisited in full (Art. 23(3)).
  tally complaints;
  for (const auto& [k, v] : cur)
    if (k.second == "complaint")
      for (const auto& [n, c] : v) complaints[n] += c;
  const auto& c = rep.at("complaints");
  CHECK(c.at("replied").as_int64() == get(complaints, "replied"));
  CHECK(c.at("revisited").as_int64() == get(complaints, "replied_revisited"));
  check_rate(c.at("revisit_rate"), rates(complaints).at("revisit_rate"), who + " complaints");

  // Per handling unit (Art. 32-33): a row for every unit with a figure this month, and nothing
  // the plan does not count.
  const auto units = expected_units(p, october, center);
  std::set<unit_key> unit_keys, got_unit_keys;
  for (const auto& [k, t] : units) unit_keys.insert(k);
  for (const auto& row : rep.at("units").as_array()) {
    const unit_key k{row.at("center").as_string().c_str(), row.at("unit").as_string().c_str()};
    got_unit_keys.insert(k);
    const tally t = units.contains(k) ? units.at(k) : tally{};
    const std::string what = who + " unit " + k.first + "/" + k.second;
    for (const auto& kv : row.as_object()) {
      const std::string n(kv.key());
      INFO(what << " " << n);
      if (n == "center" || n == "unit" || n == "name") continue;
      if (n == "on_time_rate") {
        check_rate(kv.value(), ratio(get(t, "replied_on_time"), get(t, "reply_due")),
                   what + " on-time rate");
        continue;
      }
      CHECK((n == "reply_due" || n == "replied_on_time" || n == "returns" || n == "late_returns" ||
             n == "overdue_reported"));
      CHECK(kv.value().as_int64() == get(t, n.c_str()));
    }
  }
  CHECK(got_unit_keys == unit_keys);

  // Major-urgent matters of the month (Art. 40(4)).
  std::set<std::string> urgent, got_urgent;
  for (const matter& m : p.matters)
    if ((!center || m.center == *center) && m.flagged_on() && october.contains(*m.flagged_on()))
      urgent.insert(m.id);
  for (const auto& u : rep.at("major_urgent").as_array())
    got_urgent.insert(u.at("case_id").as_string().c_str());
  CHECK(got_urgent == urgent);

  // Reported to the department as overdue this month (Art. 35): each matter and deadline, the
  // unit, the day reported, and the unit's reply of that cycle if there was one by the end.
  using overdue_row = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  std::set<overdue_row> overdue, got_overdue;
  for (const matter& m : p.matters) {
    if (center && m.handling_center() != *center) continue;
    for (const cycle& cy : m.cycles) {
      const auto r = reported_on(p, m, cy);
      if (!r || !october.contains(*r)) continue;
      overdue.emplace(m.id, cy.unit, cy.due(m.cat).to_string(), r->to_string(),
                      cy.replied_on ? cy.replied_on->to_string() : "-");
    }
  }
  for (const auto& o : rep.at("overdue_reported").as_array())
    got_overdue.emplace(
        o.at("case_id").as_string().c_str(), o.at("unit").as_string().c_str(),
        o.at("due").as_string().c_str(), o.at("reported_on").as_string().c_str(),
        o.at("replied_on").is_null() ? "-" : o.at("replied_on").as_string().c_str());
  MESSAGE(who << ": " << overdue.size() << " matters reported overdue in October");
  CHECK_FALSE(overdue.empty());  // the plan has late and unreplied cycles: a month has some
  CHECK(got_overdue == overdue);
  CHECK_FALSE(rep.at("overdue_reported_truncated").as_bool());
}

// The hot topics of a center: the 10 most frequent tags, ties in byte order, with last month's
// count and the change.
void compare_hot_topics(const plan& p, const json::value& rep, const std::string& center) {
  const auto now = expected_topics(p, october, center);
  const auto before = expected_topics(p, september, center);
  std::vector<std::pair<std::string, std::int64_t>> ranked(now.begin(), now.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (ranked.size() > 10) ranked.resize(10);
  const auto& got = rep.at("hot_topics").as_array();
  REQUIRE(got.size() == ranked.size());
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    INFO("hot topic " << i << " " << ranked[i].first);
    CHECK(got[i].at("topic").as_string() == ranked[i].first.c_str());
    CHECK(got[i].at("count").as_int64() == ranked[i].second);
    const std::int64_t prev = before.contains(ranked[i].first) ? before.at(ranked[i].first) : 0;
    CHECK(got[i].at("previous").as_int64() == prev);
    check_rate(got[i].at("change"), growth(ranked[i].second, prev), "change " + ranked[i].first);
  }
}

// Art. 45: each city/county center's four rates and the score, the plain mean of the defined
// rates under the default weights, ranked.
void compare_assessment(const plan& p, const json::value& rep) {
  std::map<std::string, std::optional<double>> scores;
  for (const char* center : {own_center, other_center}) {
    const auto r = rates(total(expected_figures(p, october, std::string(center))));
    double sum = 0;
    int n = 0;
    for (const auto& [k, v] : r)
      if (v) {
        sum += *v;
        ++n;
      }
    scores[center] = n ? std::optional<double>(round4(sum / n)) : std::nullopt;
    bool found = false;
    for (const auto& row : rep.at("assessment").as_array()) {
      if (row.at("center").as_string() != center) continue;
      found = true;
      for (const auto& [k, v] : r)
        check_rate(row.at(k), v, std::string(center) + " assessment " + k);
      check_rate(row.at("score"), scores[center], std::string(center) + " score");
    }
    CHECK(found);
  }
  // The two centers with cases lead the ranking; every other center has no score.
  REQUIRE(scores.at(own_center));
  REQUIRE(scores.at(other_center));
  const double a = *scores.at(own_center), b = *scores.at(other_center);
  for (const auto& row : rep.at("assessment").as_array()) {
    const std::string c(row.at("center").as_string());
    const int rank = static_cast<int>(row.at("rank").as_int64());
    if (c == own_center) CHECK(rank == (a >= b ? 1 : 2));
    else if (c == other_center) CHECK(rank == (b >= a ? 1 : 2));
    else CHECK(row.at("score").is_null());
  }
}

}  // namespace

TEST_CASE("a month of a center through the API: the monthly report's figures as counted by hand, "
          "and a rebuild equals the live projections") {
  plan p = october_2025();
  {
    // The plan covers what a month holds: every channel, domain, category and outcome.
    std::set<std::string> ch, cats;
    std::set<dims> pairs;
    std::set<intake> hows;
    int returned = 0, extended = 0, late = 0, reopened = 0, unreached = 0, open_at_end = 0;
    for (const auto& m : p.matters) {
      if (m.center != own_center || !october.contains(m.received_on)) continue;
      ch.insert(m.channel);
      pairs.insert({m.final_dom(), m.final_cat()});
      hows.insert(m.how);
      for (const auto& c : m.cycles) {
        returned += c.returned_on.has_value();
        extended += c.extended_on.has_value();
        late += c.replied_on && *c.replied_on > c.due(m.cat);
        reopened += c.reopened;
        unreached += c.revisit && !c.revisit->reached;
      }
      open_at_end +=
          !m.cycles.empty() && !m.cycles.back().replied_on && !m.cycles.back().returned_on;
    }
    CHECK(ch.size() == channels.size());
    CHECK(pairs.size() >= categories.size() * domains.size());  // and unclassified
    CHECK(hows.size() == 6);
    CHECK(returned > 0);
    CHECK(extended > 0);
    CHECK(late > 0);
    CHECK(reopened > 0);
    CHECK(unreached > 0);
    CHECK(open_at_end > 0);
    CHECK(std::count_if(p.matters.begin(), p.matters.end(),
                        [](const matter& m) { return m.escalated; }) == 3);
  }

  test_server s;
  scenario sc{s, p, {}, {}};
  for (const auto& u : zz_units) {
    if (u != own_unit) REQUIRE(s.put_unit(u, own_center).status == 200);
    sc.unit_tokens[u] = s.token("unit", own_center, u);
    sc.head_tokens[u] = s.token("unit_head", own_center, u);
  }
  sc.unit_tokens[other_unit] = s.other.at("unit");
  sc.unit_tokens[provincial_unit] = s.provincial.at("unit");
  sc.head_tokens[other_unit] = s.other.at("unit_head");
  sc.head_tokens[provincial_unit] = s.provincial.at("unit_head");
  sc.run();

  // The center's monthly report (one run of the month, so no SUBCASE: each would replay it).
  const auto center_report = s.get("/v1/reports/monthly/2025-10?center=410100", s.own["analyst"]);
  REQUIRE(center_report.status == 200);
  compare_report(p, center_report.json(), std::string(own_center));
  compare_hot_topics(p, center_report.json(), own_center);
  // Province-wide, with the assessment (Art. 45).
  const auto province = s.get("/v1/reports/monthly/2025-10", s.provincial["analyst"]);
  REQUIRE(province.status == 200);
  compare_report(p, province.json(), std::nullopt);
  compare_assessment(p, province.json());

  // The log replayed into a fresh store equals the live projections, key by key.
  s.stack.reset();
  std::string output;
  CHECK(rebuild_verify(s, output) == 0);
  INFO(output);
  CHECK(output.find("verify: identical") != std::string::npos);
}

}  // namespace caseline::gwtest
