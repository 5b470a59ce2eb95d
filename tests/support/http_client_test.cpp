#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include <doctest/doctest.h>

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A server that hangs: the kernel completes the handshake on its backlog, nobody accepts or
// answers.
struct silent_listener {
  int fd{-1};
  std::uint16_t port{0};
  silent_listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~silent_listener() { ::close(fd); }
  silent_listener(const silent_listener&) = delete;
  silent_listener& operator=(const silent_listener&) = delete;
};

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
