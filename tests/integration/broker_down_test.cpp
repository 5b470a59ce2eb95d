// A broker that goes away must turn writes into 503 problems in bounded time, never a hang and
// never a success; when a broker is back the server must not have lost what it acknowledged.
// Uses a second, private broker (tools/kafka-local.sh start) so the shared one stays up.
#include <csignal>
#include <cstdlib>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "tests/support/environment.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {
std::string body(int i) {
  return R"({"channel":"wechat","center":"410100","caller":{"phone":"13900001)" +
         std::to_string(100 + i) + R"("},"content":"down test )" + std::to_string(i) + R"("})";
}
}  // namespace

TEST_CASE("a broker that goes down gives 503 problem+json within the delivery timeout") {
  const char* src = std::getenv("CASELINE_SOURCE_DIR");
  REQUIRE(src != nullptr);
  test::child_process broker({"/bin/bash", std::string(src) + "/tools/kafka-local.sh", "start"});
  auto line = broker.wait_for_line("KAFKA_BOOTSTRAP=", 240s);
  REQUIRE_MESSAGE(line.has_value(), "private broker did not start: " << broker.output());
  const std::string bootstrap = line->substr(line->find('=') + 1);

  test::temp_dir dir;
  const std::string topic = test::unique_topic("down");
  std::string token;
  {
    test::child_process create({test::caseline_binary(), "token", "create", "--data", dir.path(),
                                "--role", "agent", "--center", "410100", "--kafka", bootstrap,
                                "--topic", topic, "--partitions", "2"});
    REQUIRE_MESSAGE(create.wait(120s) == 0, create.output());
    token = test::token_in(create.output());
  }
  const test::header_list auth{{"authorization", "Bearer " + token}};
  test::child_process server({test::caseline_binary(), "serve", "--listen", "127.0.0.1:0",
                              "--data", dir.path(), "--kafka", bootstrap, "--topic", topic,
                              "--partitions", "2", "--checkpoint-interval", "1"});
  auto listening = server.wait_for_line("listening on http://", 120s);
  REQUIRE_MESSAGE(listening.has_value(), server.output());
  const auto at = listening->find("http://") + 7;
  const std::string address = listening->substr(at, listening->find(' ', at) - at);

  auto ok = test::http_call(address, "POST", "/v1/cases", body(0), auth);
  REQUIRE(ok.status == 201);
  const std::string id(boost::json::parse(ok.body).as_object()["id"].as_string());

  broker.signal(SIGTERM);
  REQUIRE(broker.wait(90s).has_value());

  const auto started = std::chrono::steady_clock::now();
  auto down = test::http_call(address, "POST", "/v1/cases", body(1), auth);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(down.status == 503);
  CHECK(down.header("content-type") == "application/problem+json");
  CHECK_MESSAGE(took < 40s, "the write hung instead of failing in bounded time");
  // Reads of what was acknowledged still answer from the projection.
  CHECK(test::http_call(address, "GET", "/v1/cases/" + id, {}, auth).status == 200);

  // With the broker gone, a graceful stop still ends in bounded time.
  server.signal(SIGTERM);
  CHECK(server.wait(90s) == 0);
}
