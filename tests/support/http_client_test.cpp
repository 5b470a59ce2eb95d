#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include <doctest/doctest.h>

#include "tests/support/silent_listener.h"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

using caseline::test::silent_listener;

TEST_CASE("a server that never answers fails the call at its deadline instead of hanging it") {
  silent_listener hung;
  const auto started = steady::now();
  const auto r = caseline::test::request(hung.port, "GET", "/healthz", {}, {}, nullptr, 300ms);
  CHECK(r.status == 0);
  const auto by_address = caseline::test::http_call("127.0.0.1:" + std::to_string(hung.port),
                                                    "POST", "/v1/cases", "{}", {}, 300ms);
  CHECK(by_address.status == 0);
  const auto took = steady::now() - started;
  CHECK(took >= 500ms);  // each call waited about its deadline (a read ends within 1 ms of it)
  CHECK(took < 5s);
}

TEST_CASE("a reply is parsed into status, lower-cased headers and body") {
  const auto r = caseline::test::parse_reply(
      "HTTP/1.1 409 Conflict\r\nContent-Type: application/problem+json\r\nX-A: 1\r\n\r\n"
      "{\"status\":409}");
  CHECK(r.status == 409);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(r.header("x-a") == "1");
  CHECK(r.json().at("status").as_int64() == 409);
  CHECK(caseline::test::parse_reply("HTTP/1.1 200 OK\r\n").status == 0);  // no complete head
}

}  // namespace
