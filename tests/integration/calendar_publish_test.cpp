// `caseline calendar publish FILE --url --token` against the real `caseline serve` (embedded
// log): an admin publishes a year; a server refusal and an unreadable file are named, with their
// exit codes; GET /v1/calendar/{year} then answers from the log.
#include <csignal>
#include <fstream>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "tests/support/http_client.h"
#include "tests/support/notice_2027.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {
std::string create_token(const std::string& data, const char* role) {
  test::child_process create({test::caseline_binary(), "token", "create", "--data", data, "--role",
                              role, "--center", "410000"});
  REQUIRE_MESSAGE(create.wait(120s) == 0, create.output());
  return test::token_in(create.output());
}
}  // namespace

TEST_CASE("caseline calendar publish: an admin publishes a year through the running server") {
  test::temp_dir dir;
  const std::string admin = create_token(dir.path(), "admin");
  const std::string supervisor = create_token(dir.path(), "supervisor");
  test::child_process server({test::caseline_binary(), "serve", "--listen", "127.0.0.1:0",
                              "--data", dir.path()});
  const std::string address = test::listening_address(server, 120s);
  const std::string url = "http://" + address;

  const std::string file = dir.sub("notice-2027.txt");
  std::ofstream(file) << "# the 2027 notice\n" << caseline::testing::notice_2027;

  {
    test::child_process refused({test::caseline_binary(), "calendar", "publish", file, "--url",
                                 url, "--token", supervisor});
    CHECK(refused.wait(60s) == 1);
    CHECK(refused.output().find("403") != std::string::npos);
  }
  {
    test::child_process missing({test::caseline_binary(), "calendar", "publish",
                                 dir.sub("none.txt"), "--url", url, "--token", admin});
    CHECK(missing.wait(60s) == 2);
    CHECK(missing.output().find("cannot read") != std::string::npos);
  }
  const test::header_list auth{{"authorization", "Bearer " + admin}};
  auto before = test::http_call(address, "GET", "/v1/calendar/2027", {}, auth);
  REQUIRE(before.status == 200);
  CHECK(boost::json::parse(before.body).as_object()["status"].as_string() == "provisional");
  {
    test::child_process ok({test::caseline_binary(), "calendar", "publish", file, "--url", url,
                            "--token", admin});
    REQUIRE_MESSAGE(ok.wait(60s) == 0, ok.output());
    CHECK(ok.output().find("\"status\":\"official\"") != std::string::npos);
  }
  auto after = test::http_call(address, "GET", "/v1/calendar/2027", {}, auth);
  REQUIRE(after.status == 200);
  auto doc = boost::json::parse(after.body).as_object();
  CHECK(doc["status"].as_string() == "official");
  CHECK(doc["source"].as_string() == "https://www.gov.cn/example-2027-notice");
  server.signal(SIGTERM);
  CHECK(server.wait(60s) == 0);
}
