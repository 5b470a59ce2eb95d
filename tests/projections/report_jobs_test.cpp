#include "tools/report_cmd.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/projections/october_scenario.h"
#include "tests/projections/report_text.h"
#include "tests/support/eventually.h"

namespace caseline::projections::testing {
namespace {

// The complete lines of the outbox's manifest (a line still being appended is left out).
std::vector<std::string> manifest(const std::filesystem::path& outbox) {
  std::ifstream in(outbox / "manifest.jsonl");
  std::stringstream all;
  all << in.rdbuf();
  std::vector<std::string> lines;
  std::string l;
  for (std::istringstream text(all.str()); std::getline(text, l);)
    if (!text.eof()) lines.push_back(l);
  return lines;
}

TEST_CASE("report jobs write each due report once, across restarts and a crash in between") {
  stack s;
  const auto ids = play(s, october_scenario());
  const auto& cal = core::testing::repo_calendar();
  const auto outbox = s.dir().path() / "outbox";
  const std::vector<report_format> formats{report_format::json, report_format::html};
  const auto& reg = s.world().reg;

  // 2 November: September and October have ended (plus October 2025 .. August 2026), the
  // National Day period has ended, H's day (10-14) is past. 2025 has ended: annual reports too.
  auto first = tools::run_report_jobs(s.db(), reg, cal, outbox.string(), at(date("2026-11-02")), formats);
  REQUIRE_MESSAGE(first, (first ? "" : first.error().message()));
  const std::size_t centers = reg.centers().size() + 1;  // and the province
  const std::size_t months = 13;                         // 2025-10 .. 2026-10
  const std::size_t expected_files = 2 * (months * centers + centers /* annual 2025 */ + 1 /* urgent 10-14 */ +
                                          0);
  CHECK(first.value().written.size() >= expected_files);
  CHECK(std::filesystem::exists(outbox / "monthly-2026-10-410100.json"));
  CHECK(std::filesystem::exists(outbox / "monthly-2026-10-province.html"));
  CHECK(std::filesystem::exists(outbox / ("urgent-2026-10-14-" + ids.at("H")() + "-province.json")));
  CHECK(std::filesystem::exists(outbox / "annual-2025-province.json"));
  CHECK(std::filesystem::exists(outbox / "period-2026-10-01-2026-10-07-province.json"));
  CHECK_FALSE(std::filesystem::exists(outbox / "monthly-2026-11-province.json"));  // not ended
  CHECK(manifest(outbox).size() == first.value().written.size());

  // The October report in the outbox is the one the route computes.
  {
    std::ifstream in(outbox / "monthly-2026-10-410100.json");
    std::stringstream buf;
    buf << in.rdbuf();
    auto route = monthly_text(s.db(), reg, "2026-10", "410100");
    REQUIRE(route);
    CHECK(buf.str() == route.value());
  }

  // A restart the same day: nothing is written again.
  auto again = tools::run_report_jobs(s.db(), reg, cal, outbox.string(), at(date("2026-11-02"), 5), formats);
  REQUIRE(again);
  CHECK(again.value().written.empty());
  CHECK(again.value().present == first.value().written.size());
  CHECK(manifest(outbox).size() == first.value().written.size());

  // A crash after a file was renamed into place but before its manifest line: simulated by
  // dropping the last line. The next run records it, and does not write it again.
  auto lines = manifest(outbox);
  {
    std::ofstream out(outbox / "manifest.jsonl", std::ios::trunc);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) out << lines[i] << "\n";
  }
  auto recovered = tools::run_report_jobs(s.db(), reg, cal, outbox.string(), at(date("2026-11-03")), formats);
  REQUIRE(recovered);
  CHECK(recovered.value().written.empty());
  CHECK(recovered.value().recovered == 1);
  CHECK(manifest(outbox).size() == lines.size());
}

// Art. 45: the jobs score the assessment with the configured weights and state them; files
// already written keep theirs (they are never rewritten).
TEST_CASE("report jobs use the configured assessment weights; written files are not rewritten") {
  stack s;
  (void)play(s, october_scenario());
  const auto& cal = core::testing::repo_calendar();
  const auto outbox = s.dir().path() / "outbox";
  const auto& reg = s.world().reg;
  const std::vector<report_format> formats{report_format::json};
  const auto read = [&](const char* name) {
    std::ifstream in(outbox / name);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
  };
  auto w = parse_assessment_weights("immediate_answer=0,on_time=2");
  REQUIRE(w);
  auto first = tools::run_report_jobs(s.db(), reg, cal, outbox.string(), at(date("2026-11-02")),
                                      formats, w.value());
  REQUIRE_MESSAGE(first, (first ? "" : first.error().message()));
  const auto written = read("monthly-2026-10-province.json");
  CHECK(written == monthly_text(s.db(), reg, "2026-10", "", w.value()).value());
  CHECK(written.find(R"("assessment_weights":{"immediate_answer":0,"on_time":2,"revisit":1,"satisfaction":1})") !=
        std::string::npos);
  CHECK(written.find(R"("score":0.5625})") != std::string::npos);  // 410100, as in reports_test

  // Other weights afterwards: the file stays as written, the route computes with the new ones.
  auto again = tools::run_report_jobs(s.db(), reg, cal, outbox.string(), at(date("2026-11-03")),
                                      formats, assessment_weights{});
  REQUIRE(again);
  CHECK(read("monthly-2026-10-province.json") == written);
  CHECK(monthly_text(s.db(), reg, "2026-10", "").value() != written);
}

// Art. 40(4): the special report of a major-urgent matter is due the day it is flagged. The
// report task runs once an hour here, so only the wake on the event can write it in time.
TEST_CASE("Art. 40(4) — a major-urgent matter's special report is written the day it is flagged") {
  stack s;
  const auto& reg = s.world().reg;
  const auto outbox = s.dir().path() / "outbox";
  const civil_date day = date("2026-10-14");
  s.clock().set(at(day));
  auto jobs = tools::start_report_jobs(s.db(), reg, core::testing::repo_calendar(), outbox.string(),
                                       s.clock(), std::chrono::hours(1), [&s] {
                                         (void)s.runner().catch_up(60s);  // checked below
                                         return true;
                                       });
  s.writer().set_appended_observer([wake = jobs.poker()](const command_outcome& o) {
    for (const auto& e : o.events)
      if (e.type_id == core::flagged_major_urgent::type_id) return wake();
  });
  const auto agent = world::agent();
  const struct {
    const char* name;
    std::vector<core::command> before;  // the steps before the flag
  } table[] = {
      {"flagged at intake", {}},
      {"flagged with the unit, after transfer",
       {classify(core::category::complaint, core::domain::road_transport, {"滞留"}),
        transfer("u-zz-yg")}},
  };
  for (const auto& row : table) {
    CAPTURE(row.name);
    auto r = s.run(std::nullopt, recv("410100", row.before.empty() ? "隧道火灾" : ""), agent, at(day, 1));
    REQUIRE(r);
    const case_id id = r.value().state.id;
    for (const auto& c : row.before) REQUIRE(s.run(id, c, agent, at(day, 2)));
    if (!row.before.empty())
      REQUIRE(s.run(id, core::flag_major_urgent{"桥梁垮塌"}, agent, at(day, 3)));
    const auto file = outbox / ("urgent-2026-10-14-" + id() + "-province.json");
    // The file is renamed into place first, then its manifest line is appended: wait for both.
    const auto listed = [&](const std::vector<std::string>& lines) {
      return std::find_if(lines.begin(), lines.end(), [&](const std::string& l) {
        return l.find(id() + "-province.json") != std::string::npos;
      });
    };
    std::vector<std::string> lines;
    test::eventually(
        [&] {
          lines = manifest(outbox);
          return listed(lines) != lines.end();
        },
        60s);
    REQUIRE(std::filesystem::exists(file));
    // Written the day it was due: not late, and it lists the matter.
    const auto line = listed(lines);
    REQUIRE(line != lines.end());
    CHECK(line->find("\"late\":false") != std::string::npos);
    CHECK(line->find("\"due\":\"2026-10-14\"") != std::string::npos);
    std::ifstream in(file);
    std::stringstream body;
    body << in.rdbuf();
    CHECK(body.str().find(id()) != std::string::npos);
  }
}

TEST_CASE("report jobs a server must not run (another owns partition 0) write nothing") {
  stack s;
  play(s, october_scenario());
  const auto outbox = s.dir().path() / "outbox";
  s.clock().set(at(date("2026-11-02")));  // October's monthly reports (and others) are due
  std::atomic<int> asked{0};
  {
    auto jobs = tools::start_report_jobs(s.db(), s.world().reg, core::testing::repo_calendar(),
                                         outbox.string(), s.clock(), std::chrono::hours(1), [&] {
                                           ++asked;
                                           return false;
                                         });
    REQUIRE(test::eventually([&] { return asked.load() >= 1; }, 60s));  // the run at start
  }  // stopped: no run is in progress any more
  CHECK_FALSE(std::filesystem::exists(outbox / "manifest.jsonl"));
  // The same jobs allowed to run write the due reports.
  {
    auto jobs = tools::start_report_jobs(s.db(), s.world().reg, core::testing::repo_calendar(),
                                         outbox.string(), s.clock(), std::chrono::hours(1),
                                         [] { return true; });
    REQUIRE(test::eventually([&] { return !manifest(outbox).empty(); }, 60s));
  }
}

}  // namespace
}  // namespace caseline::projections::testing
