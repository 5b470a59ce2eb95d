// The benchmarks' load generator (tools/http_load.h): its reading of answers, and its event loop
// against real servers on real sockets: the in-process HTTP server the baselines use, and small
// servers of this test that close connections, answer wrongly or are not there.
#include "tools/http_load.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "gateway/server.h"
#include "tests/support/http_client.h"
#include "tests/support/silent_listener.h"

using namespace caseline;
using tools::http_answer;

namespace {

// A server of this test on 127.0.0.1 (a silent_listener's socket, accepted on): each accepted
// connection is served on its own thread by `serve(fd)`, which reads requests and writes what
// the case under test needs.
class raw_server {
 public:
  explicit raw_server(std::function<void(int fd)> serve) : serve_(std::move(serve)) {
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(listener_.fd, nullptr, nullptr);
        if (c < 0) return;  // the listening socket was shut down
        std::lock_guard lk(mu_);
        served_.emplace_back([this, c] {
          serve_(c);
          ::close(c);
        });
      }
    });
  }
  ~raw_server() {
    ::shutdown(listener_.fd, SHUT_RDWR);  // accept() returns; the listener closes it after
    acceptor_.join();
    std::lock_guard lk(mu_);
    for (auto& t : served_) t.join();
  }
  tools::http_endpoint endpoint() const { return {"127.0.0.1", std::to_string(listener_.port)}; }

 private:
  std::function<void(int)> serve_;
  test::silent_listener listener_;  // its socket, accepted on here
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> served_;
};

// Reads one request head (the load generator's GETs have no body); false when the peer closed.
bool read_request(int fd) {
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    const auto r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return false;
    got.append(buf, static_cast<std::size_t>(r));
  }
  return true;
}

tools::load_options options(unsigned connections, std::uint64_t max_requests) {
  tools::load_options o;
  o.connections = connections;
  o.max_requests = max_requests;
  o.duration = std::chrono::seconds(30);  // the request count ends these runs, long before
  return o;
}

tools::load_request get(unsigned, std::uint64_t n) {
  return {"GET", "/v1/things/" + std::to_string(n), ""};
}

}  // namespace

TEST_CASE("an answer is complete once its head and Content-Length bytes of body are read") {
  const std::string a = "HTTP/1.1 201 Created\r\ncontent-LENGTH:  5 \r\nX: y\r\n\r\nhello";
  SUBCASE("whole, and with the next answer's bytes behind it") {
    for (const std::string& bytes : {a, a + "HTTP/1.1 200 OK\r\n"}) {
      const http_answer h = tools::parse_http_answer(bytes);
      REQUIRE(h.state == http_answer::progress::complete);
      CHECK(h.status == 201);
      CHECK(h.size == a.size());
      CHECK(bytes.substr(h.body_offset, h.size - h.body_offset) == "hello");
      CHECK_FALSE(h.close);
    }
  }
  SUBCASE("cut anywhere before its end, it is incomplete") {
    for (std::size_t n = 0; n < a.size(); ++n)
      CHECK(tools::parse_http_answer(a.substr(0, n)).state == http_answer::progress::incomplete);
  }
  SUBCASE("Connection: close is noted") {
    const auto h = tools::parse_http_answer(
        "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(h.state == http_answer::progress::complete);
    CHECK(h.close);
  }
  SUBCASE("answers that cannot have a body need no length") {
    const std::string no_content = "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n";
    const auto h = tools::parse_http_answer(no_content);
    REQUIRE(h.state == http_answer::progress::complete);
    CHECK(h.status == 204);
    CHECK(h.size == no_content.size());
  }
}

TEST_CASE("an answer the load generator cannot read is bad, with what is wrong") {
  const auto bad = [](std::string_view bytes) {
    const auto h = tools::parse_http_answer(bytes);
    CHECK(h.state == http_answer::progress::bad);
    CHECK_FALSE(h.problem.empty());
  };
  bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\nX: y\r\n\r\n");                     // a body without a length
  bad("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello");  // not a number
  bad("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n");         // empty
  bad("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
  bad("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
  bad("SSH-2.0-OpenSSH\r\n\r\n");
  bad("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n");
  bad(std::string(std::size_t{70} * 1024, 'a'));  // no end of head in 64 KiB
  // Two equal lengths are one length.
  CHECK(
      tools::parse_http_answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na")
          .state == http_answer::progress::complete);
}

TEST_CASE(
    "the loop sends exactly the requests asked for, over every connection, and reads each answer") {
  gateway::server_options so;
  so.port = 0;
  so.max_connections_per_address = 64;
  std::mutex mu;
  std::vector<std::string> targets;
  std::atomic<int> with_token{0};
  gateway::http_server server(
      so, [&](const gateway::http_request& r, const gateway::responder& respond) {
        {
          std::lock_guard lk(mu);
          targets.push_back(r.target);
        }
        if (r.header("authorization") == std::optional<std::string_view>("Bearer secret"))
          ++with_token;
        gateway::http_response a;
        a.status = r.target.ends_with("/7") ? 404 : 200;  // one answer the run does not expect
        a.body = R"({"target":")" + r.target + R"("})";
        respond(std::move(a));
      });
  REQUIRE(server.start());
  auto o = options(8, 1000);
  o.token = "secret";
  std::mutex sink_mu;
  std::vector<std::string> bodies;
  const auto r = tools::drive_http({"127.0.0.1", std::to_string(server.port())}, o, get,
                                   [&](unsigned, const std::string& body) {
                                     std::lock_guard lk(sink_mu);
                                     bodies.push_back(body);
                                   });
  server.stop();
  CHECK(r.ok + r.failed == 1000);
  CHECK(r.failed == 8);  // request 7 of each connection answered 404
  CHECK(r.latencies_ms.size() == r.ok);
  CHECK(std::is_sorted(r.latencies_ms.begin(), r.latencies_ms.end()));
  CHECK(targets.size() == 1000);
  CHECK(with_token.load() == 1000);
  REQUIRE(bodies.size() == r.ok);
  for (const auto& b : bodies) {
    CHECK(b.starts_with(R"({"target":"/v1/things/)"));
    CHECK_FALSE(b.ends_with(R"(/7"})"));
  }
}

TEST_CASE("a POST carries its JSON body, its type and its length") {
  gateway::server_options so;
  so.port = 0;
  std::atomic<int> right{0};
  gateway::http_server server(
      so, [&](const gateway::http_request& r, const gateway::responder& respond) {
        if (r.method == "POST" && r.body == R"({"n":3})" &&
            r.header("content-type") == std::optional<std::string_view>("application/json"))
          ++right;
        gateway::http_response a;
        a.status = 201;
        respond(std::move(a));
      });
  REQUIRE(server.start());
  auto o = options(2, 20);
  o.expect_status = 201;
  const auto r = tools::drive_http({"127.0.0.1", std::to_string(server.port())}, o,
                                   [](unsigned, std::uint64_t) {
                                     return tools::load_request{"POST", "/v1/cases", R"({"n":3})"};
                                   });
  server.stop();
  CHECK(r.ok == 20);
  CHECK(r.failed == 0);
  CHECK(right.load() == 20);
}

TEST_CASE("a connection the server closes is opened again for the next request") {
  SUBCASE("after an answer with Connection: close") {
    raw_server s([](int fd) {
      if (read_request(fd))
        test::send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    });
    const auto r = tools::drive_http(s.endpoint(), options(2, 50), get);
    CHECK(r.ok == 50);
    CHECK(r.failed == 0);
  }
  SUBCASE("without an answer: the request in flight fails, the next ones go on") {
    std::atomic<int> accepted{0};
    raw_server s([&](int fd) {
      // Every other connection is closed at its first request, unanswered.
      if (accepted++ % 2 == 0) {
        read_request(fd);
        return;
      }
      while (read_request(fd)) test::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    const auto r = tools::drive_http(s.endpoint(), options(2, 40), get);
    CHECK(r.ok + r.failed == 40);
    CHECK(r.failed >= 1);
    CHECK(r.ok >= 1);
  }
  SUBCASE("an answer it cannot read fails its request and the connection") {
    std::atomic<int> accepted{0};
    raw_server s([&](int fd) {
      const bool chunked = accepted++ == 0;
      while (read_request(fd))
        test::send_all(fd, chunked
                               ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                               : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    const auto r = tools::drive_http(s.endpoint(), options(1, 10), get);
    CHECK(r.failed == 1);
    CHECK(r.ok == 9);
  }
}

TEST_CASE("with no server to connect to, every attempt fails and the run still ends on time") {
  // A port that was just free: bound, then closed.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  tools::load_options o;
  o.connections = 4;
  o.duration = std::chrono::milliseconds(200);
  const auto r = tools::drive_http({"127.0.0.1", std::to_string(ntohs(a.sin_port))}, o, get);
  CHECK(r.ok == 0);
  CHECK(r.failed >= 4);
  CHECK(r.seconds < 10);  // the 30 s kept for answers in flight is not waited: none is
}
