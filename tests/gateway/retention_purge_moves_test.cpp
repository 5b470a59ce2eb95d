// The Art. 38 purge when a partition moves during the job, on the real broker the test command
// starts: a server of the group (the real `caseline serve` binary) is stopped with SIGTERM while
// it purges its part; the job asked of the other server hands that server's partitions to their
// new owner and ends `done`, every eligible case purged exactly once (one text_shredded event per
// case in the log, as the retention trail applies it).
#include "gateway/api.h"

#include <csignal>
#include <fstream>

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/gateway/retention_purge_support.h"
#include "tests/support/process.h"
#include "tools/bench_purge.h"

using namespace caseline;
using namespace caseline::test::purge;

namespace {

// Enough cases that the stopped server is in the middle of its part when the signal comes: its
// half takes about a second to purge here (3,000 cases, some 0.2 s, were sometimes done before
// the test saw the part running).
constexpr std::uint64_t cases = 12000;

// A server of the group as its own process: `caseline serve` on a data folder of its own.
std::unique_ptr<test::child_process> serve_process(const test::temp_dir& dir,
                                                   const std::string& topic,
                                                   const std::string& group,
                                                   const std::string& address) {
  const auto key_file = (dir.path() / "master.key").string();
  std::ofstream(key_file) << master_key_hex << "\n";
  const std::vector<std::string> argv{test::caseline_binary(),
                                      "serve",
                                      "--data",
                                      (dir.path() / "data").string(),
                                      "--kafka",
                                      test::kafka_bootstrap(),
                                      "--topic",
                                      topic,
                                      "--partitions",
                                      std::to_string(partitions),
                                      "--calendar",
                                      test::source_dir() + "/core/data/cn-workdays.txt",
                                      "--master-key-file",
                                      key_file,
                                      "--group",
                                      group,
                                      "--group-session-timeout",
                                      "6",
                                      "--listen",
                                      address,
                                      "--clock",
                                      "manual",
                                      "--token-rate",
                                      "1000",
                                      "--token-burst",
                                      "5000"};
  auto p = std::make_unique<test::child_process>(argv);
  REQUIRE_MESSAGE(p->wait_for_line("listening on http://", 120s).has_value(),
                  "caseline serve did not start: " << p->output());
  return p;
}

// The end of a process's output, for a failure's message.
std::string tail(const std::string& output) {
  return output.size() > 4000 ? output.substr(output.size() - 4000) : output;
}

// The value of `"name":"..."` in a JSON log line.
std::string field_of(const std::string& line, const std::string& name) {
  const auto key = "\"" + name + "\":\"";
  const auto at = line.find(key);
  if (at == std::string::npos) return {};
  const auto from = at + key.size();
  return line.substr(from, line.find('"', from) - from);
}

}  // namespace

TEST_CASE(
    "a partition that moves during a purge goes to its new owner: the job ends done, every case "
    "purged once") {
  member a("purge-moves");
  const auto token = a.token("admin", "410000");
  // Alone, the first server receives and archives every case, in every partition.
  auto seeded = tools::seed_archived_cases(a.stack->writer(), cases, "410100");
  REQUIRE_MESSAGE(seeded, (seeded ? "" : seeded.error().message()));

  test::temp_dir b_dir;
  const auto b_address = "127.0.0.1:" + std::to_string(test::unused_port());
  auto b = serve_process(b_dir, a.topic, a.group, b_address);
  const auto split = test::eventually([&] { return split_between(a.address, b_address); }, 180s);
  REQUIRE_MESSAGE(split, tail(b->output()));
  for (const auto& address : {a.address, b_address}) clock_to_later(address, token);
  REQUIRE(test::eventually([&] { return a.audit().eligible == cases; }, 60s));

  // Asked of the first server, which asks the second for its partitions. The second is stopped
  // once its part has purged some of them.
  const auto id = started_purge(a.address, token);
  const auto line = b->wait_for_line("retention_purge_started", 60s);
  REQUIRE_MESSAGE(line.has_value(), tail(b->output()));
  const auto part = field_of(*line, "job");
  REQUIRE(!part.empty());
  bool mid_job = false;
  REQUIRE(test::eventually(
      [&] {
        auto r = test::http_call(b_address, "GET", "/v1/admin/retention/purge/" + part, "",
                                 bearer(token));
        REQUIRE_MESSAGE(r.status == 200, r.body);
        const auto& j = r.json();
        mid_job = j.at("status").as_string() == "running";
        return !mid_job || j.at("purged").to_number<std::uint64_t>() > 0;
      },
      120s));
  // Its part must still be running, or the test would not move a partition during a job.
  REQUIRE_MESSAGE(mid_job, "the second server's part ended before the signal: raise `cases`");
  b->signal(SIGTERM);
  CHECK(b->wait(60s) == 0);  // a graceful stop
  const auto done = followed(a.address, token, id, 240s);

  CHECK_MESSAGE(done.at("status").as_string() == "done", boost::json::serialize(done));
  CHECK(done.at("failed").to_number<std::uint64_t>() == 0);
  CHECK(done.at("partitions_done").as_array().size() == partitions);
  CHECK(done.at("partitions_not_done").as_array().empty());
  CHECK(done.at("rounds").to_number<int>() >= 2);  // the stopped server's partitions re-routed
  CHECK(done.at("purged").to_number<std::uint64_t>() <= cases);

  // The log: every case's text shredded, each by exactly one event.
  projections::retention_audit audit;
  REQUIRE(test::eventually(
      [&] {
        audit = a.audit();
        return audit.purged == cases;
      },
      60s));
  CHECK(audit.ok());
  const auto shreds = shreds_of(audit);
  CHECK(shreds.cases == cases);
  CHECK(shreds.twice == 0);
  a.stack.reset();
}
