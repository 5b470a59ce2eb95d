// A broker that goes away must turn writes into 503 problems in bounded time, never a hang and
// never a success; when a broker is back the server must not have lost what it acknowledged.
// Uses a second, private broker (tools/kafka-local.sh start) so the shared one stays up.
#include <csignal>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "tests/integration/private_broker.h"
#include "tests/support/http_client.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {
std::string body(int i) {
  return R"({"channel":"wechat","center":"410100","caller":{"phone":"13900001)" +
         std::to_string(100 + i) + R"("},"content":"down test )" + std::to_string(i) + R"("})";
}
}  // namespace

TEST_CASE("a broker that goes down gives 503 problem+json within the delivery timeout") {
  test::private_broker broker;
  test::agent_server server(broker.bootstrap, "down");
  const std::string& address = server.address;
  const test::header_list auth{{"authorization", "Bearer " + server.token}};

  auto ok = test::http_call(address, "POST", "/v1/cases", body(0), auth);
  REQUIRE(ok.status == 201);
  const std::string id(boost::json::parse(ok.body).as_object()["id"].as_string());

  broker.proc->signal(SIGTERM);
  REQUIRE(broker.proc->wait(90s).has_value());

  const auto started = std::chrono::steady_clock::now();
  auto down = test::http_call(address, "POST", "/v1/cases", body(1), auth);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(down.status == 503);
  CHECK(down.header("content-type") == "application/problem+json");
  CHECK_MESSAGE(took < 40s, "the write hung instead of failing in bounded time");
  // Reads of what was acknowledged still answer from the projection.
  CHECK(test::http_call(address, "GET", "/v1/cases/" + id, {}, auth).status == 200);

  // With the broker gone, a graceful stop still ends in bounded time.
  server.proc->signal(SIGTERM);
  CHECK(server.proc->wait(90s) == 0);
}
