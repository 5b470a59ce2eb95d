// The retention subcommands as the CLI runs them (library functions behind main.cpp), on a real
// store in a temporary folder.
#include "tools/retention_cmd.h"

#include <fstream>
#include <ostream>
#include <sstream>

#include <doctest/doctest.h>

#include "core/commands.h"
#include "projections/retention.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

TEST_CASE("caseline recording put, retention audit and retention purge") {
  test::temp_dir dir;
  const char* src = std::getenv("CASELINE_SOURCE_DIR");
  REQUIRE(src);
  tools::retention_options o;
  o.store.data_dir = dir.path();
  o.store.partitions = 2;
  o.store.calendar_file = std::string(src) + "/core/data/cn-workdays.txt";

  const std::string audio = dir.sub("call.wav");
  std::ofstream(audio, std::ios::binary) << "RIFF....WAVE fake call";
  std::ostringstream out, err;
  REQUIRE(tools::run_recording_put(o.store, audio, out, err) == 0);
  const std::string put = out.str();
  const auto at = put.find("\"sha256\":\"") + 10;
  const std::string sha = put.substr(at, 64);
  CHECK(put.find("blob:" + sha) != std::string::npos);
  CHECK(tools::run_recording_put(o.store, dir.sub("missing.wav"), out, err) == 2);

  std::string id;
  {
    tools::serve_options so;
    so.store = o.store;
    so.http = false;
    auto stack = tools::server_stack::open(so);
    REQUIRE_MESSAGE(stack, (stack ? "" : stack.error().message()));
    const core::actor agent{user_id{"a"}, core::role::agent, center_code{"410100"}, {}};
    auto r =
        projections::submit_and_wait(stack.value()->writer(),
                                     {std::nullopt,
                                      core::receive{core::channel::phone,
                                                    center_code{"410100"},
                                                    {"13811112222", "某"},
                                                    "问询",
                                                    core::recording_ref{"blob:" + sha, sha, 12},
                                                    {},
                                                    ""},
                                      agent,
                                      "t",
                                      {},
                                      {},
                                      {},
                                      {}},
                                     30s);
    REQUIRE(r);
    id = r.value().state.id();
    auto answered = projections::submit_and_wait(
        stack.value()->writer(),
        {case_id{id}, core::answer_immediately{"x"}, agent, "t", {}, {}, {}, {}}, 30s);
    REQUIRE(answered);
    if (answered.value().state.revisit_required) {  // picked by the sample (Art. 23(1), 46)
      const core::actor supervisor{user_id{"s"}, core::role::supervisor, center_code{"410100"}, {}};
      REQUIRE(projections::submit_and_wait(
          stack.value()->writer(),
          {case_id{id},
           core::revisit{true, core::satisfaction::satisfied, std::nullopt, false, ""},
           supervisor,
           "t",
           {},
           {},
           {},
           {}},
          30s));
    }
    REQUIRE(projections::submit_and_wait(
        stack.value()->writer(), {case_id{id}, core::archive{}, agent, "t", {}, {}, {}, {}}, 30s));
  }

  SUBCASE("the audit lists the items and its verdict") {
    o.format = "json";
    std::ostringstream a, e;
    CHECK(tools::run_retention_audit(o, a, e) == 0);
    CHECK(a.str().find(id) != std::string::npos);
    CHECK(a.str().find("\"no_early_purge\":true") != std::string::npos);
    o.as_of = "2026-13-01";
    CHECK(tools::run_retention_audit(o, a, e) == 2);
  }
  SUBCASE("a purge dated in the future is refused by today's date and recorded") {
    o.as_of = "2032-01-01";
    std::ostringstream p, e;
    CHECK(tools::run_retention_purge(o, p, e) == 1);
    CHECK(p.str().find("refused " + id) != std::string::npos);
    CHECK(p.str().find("Art. 38") != std::string::npos);
    o.format = "json";
    o.as_of = "";
    std::ostringstream a;
    CHECK(tools::run_retention_audit(o, a, e) == 0);
    CHECK(a.str().find("\"refused_attempts\":2") != std::string::npos);
    o.dry_run = true;
    o.as_of = "2032-01-01";
    std::ostringstream d;
    CHECK(tools::run_retention_purge(o, d, e) == 0);
    CHECK(d.str().find("would purge " + id) != std::string::npos);
  }
}
