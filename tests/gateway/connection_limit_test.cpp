// Connections against a real server on the loopback: one address cannot take the server (its
// share, the total, the reserve), a refused connection is closed at once with a 503, running out
// of descriptors neither stops nor spins the acceptor, and behind a trusted proxy the
// per-address request rate of GET /v1/status counts the client the proxy names. Linux accepts
// any 127.x address on the loopback, so each test is several clients.
#include "gateway/connection_limit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/server.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {

// A bare HTTP server whose handler answers 200 with the client address it was given.
struct bare_server {
  gateway::http_server server;
  explicit bare_server(std::size_t total, std::size_t per_address,
                       std::vector<std::string> trusted = {})
      : server(options(total, per_address, std::move(trusted)),
               [](const gateway::http_request& r, const gateway::responder& respond) {
                 respond({200, "text/plain", r.client, {}});
               }) {
    REQUIRE(server.start());
  }
  static gateway::server_options options(std::size_t total, std::size_t per_address,
                                         std::vector<std::string> trusted) {
    gateway::server_options o;
    o.port = 0;
    o.max_connections = total;
    o.max_connections_per_address = per_address;
    o.trusted_proxies = std::move(trusted);
    return o;
  }
  double metric(std::string_view name, std::string_view reason = {}) const {
    for (const auto& g : server.connection_metrics())
      if (g.name == name && (reason.empty() || g.labels.at(0).second == reason)) return g.value;
    FAIL("no metric " << name);
    return -1;
  }
  bool open_is(double n) const {
    return eventually([&] { return metric("caseline_connections_open") == n; });
  }
  std::uint16_t port() const { return server.port(); }
};

// Idle connections from one address, closed when it goes.
struct idle_connections {
  std::vector<int> fds;
  idle_connections(std::uint16_t port, const char* from, int n) {
    for (int i = 0; i < n; ++i) {
      const int fd = connect_to(port, from);
      REQUIRE(fd >= 0);
      fds.push_back(fd);
    }
  }
  void close_one() {
    ::close(fds.back());
    fds.pop_back();
  }
  ~idle_connections() {
    for (int fd : fds) ::close(fd);
  }
};

reply get_from(std::uint16_t port, const char* from, const std::string& target = "/x") {
  return request(port, "GET", target, {}, {}, from);
}

// A connection that sends nothing is answered 503 too-many-connections and closed at once.
void expect_refused(std::uint16_t port, const char* from) {
  const int fd = connect_to(port, from);
  REQUIRE(fd >= 0);
  bool closed = false;
  const auto r = parse_reply(read_until_close(fd, std::chrono::seconds(10), &closed));
  ::close(fd);
  CHECK(closed);
  CHECK(r.status == 503);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(r.header("retry-after") == "1");
  if (r.status == 503) CHECK(r.json().at("type").as_string() == "/problems/too-many-connections");
}

}  // namespace

TEST_CASE("one address over its share is refused at once, and another address is still served") {
  bare_server srv(100, 4);
  idle_connections idle(srv.port(), "127.0.0.1", 4);
  REQUIRE(srv.open_is(4));
  expect_refused(srv.port(), "127.0.0.1");
  // A client that sends its request at once is refused too: a 503 or, if its request arrived
  // after the close, a reset; never a wait.
  const auto flood = get_from(srv.port(), "127.0.0.1");
  CHECK((flood.status == 503 || flood.status == 0));
  CHECK(srv.metric("caseline_connections_refused_total", "per_address") == 2);
  // Another address is served while the first holds its share.
  const auto other = get_from(srv.port(), "127.0.0.2");
  CHECK(other.status == 200);
  CHECK(other.body == "127.0.0.2");
  // Once one of its connections closes, the first address gets one again.
  idle.close_one();
  REQUIRE(srv.open_is(3));
  CHECK(get_from(srv.port(), "127.0.0.1").status == 200);
}

TEST_CASE("the total limit holds across addresses, and frees as connections close") {
  bare_server srv(8, 4);
  idle_connections a(srv.port(), "127.0.0.1", 4);
  idle_connections b(srv.port(), "127.0.0.2", 4);
  REQUIRE(srv.open_is(8));
  expect_refused(srv.port(), "127.0.0.3");
  CHECK(srv.metric("caseline_connections_refused_total", "total") == 1);
  b.close_one();
  REQUIRE(srv.open_is(7));
  CHECK(get_from(srv.port(), "127.0.0.3").status == 200);
}

TEST_CASE("the last tenth of the total is kept for addresses that hold few connections") {
  bare_server srv(20, 10);
  idle_connections a(srv.port(), "127.0.0.1", 10);
  idle_connections b(srv.port(), "127.0.0.2", 8);
  REQUIRE(srv.open_is(18));
  expect_refused(srv.port(), "127.0.0.2");  // holds 8, under its share of 10
  CHECK(srv.metric("caseline_connections_refused_total", "reserved") == 1);
  CHECK(get_from(srv.port(), "127.0.0.3").status == 200);
}

TEST_CASE("out of descriptors, waiting connections are closed and accepting resumes") {
  bare_server srv(100, 50);
  CHECK(get_from(srv.port(), "127.0.0.1").status == 200);
  // The server has closed that connection's descriptor: none frees up once they are all taken,
  // which would let a waiting connection be accepted as an ordinary one.
  REQUIRE(srv.open_is(0));
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  // Client sockets made now, connected once no descriptor is left for the server to accept on.
  std::vector<int> clients;
  clients.reserve(3);
  for (int i = 0; i < 3; ++i) clients.push_back(::socket(AF_INET, SOCK_STREAM, 0));
  int highest = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') highest = std::max(highest, std::atoi(e->d_name));
    ::closedir(d);
  }
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(highest) + 32;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> filler;
  for (;;) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    filler.push_back(fd);
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(srv.port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int connected = 0;
  for (int fd : clients)
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) ++connected;
  CHECK(connected == 3);
  // Each waiting connection is accepted on the reserve descriptor and closed.
  for (int fd : clients) {
    bool closed = false;
    const auto got = read_until_close(fd, std::chrono::seconds(10), &closed);
    CHECK(closed);
    CHECK(got.empty());
  }
  CHECK(srv.metric("caseline_connections_refused_total", "fd_exhausted") >= 3);
  for (int fd : filler) ::close(fd);
  for (int fd : clients) ::close(fd);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  // Descriptors are free again: the acceptor serves as before.
  CHECK(eventually([&] { return get_from(srv.port(), "127.0.0.1").status == 200; }));
}

TEST_CASE("a trusted proxy's forwarding headers name the client; nobody else's do") {
  bare_server srv(100, 10, {"127.0.0.1"});
  CHECK(request(srv.port(), "GET", "/x", {}, {{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}},
                "127.0.0.1")
            .body == "203.0.113.7");
  CHECK(request(srv.port(), "GET", "/x", {}, {{"Forwarded", R"(for="[2001:db8::1]:4711")"}},
                "127.0.0.1")
            .body == "2001:db8::1");
  CHECK(request(srv.port(), "GET", "/x", {}, {{"X-Forwarded-For", "203.0.113.7"}}, "127.0.0.2")
            .body == "127.0.0.2");
  CHECK(request(srv.port(), "GET", "/x", {}, {{"Forwarded", "for=\"203.0.113.7"}}, "127.0.0.1")
            .body == "127.0.0.1");
}

TEST_CASE("GET /v1/status counts the client a trusted proxy names, and only a trusted proxy's") {
  test_server srv([](tools::serve_options& o) {
    o.status_rate = {0.001, 2};
    o.trusted_proxies = {"127.0.0.1"};
  });
  const auto id = srv.receive();
  const auto status = [&](const header_list& h, const char* from = "127.0.0.1") {
    return request(srv.port, "GET", "/v1/status/" + id + "?phone_last4=1234", {}, h, from).status;
  };
  SUBCASE("X-Forwarded-For and Forwarded select the bucket") {
    CHECK(status({{"X-Forwarded-For", "203.0.113.7"}}) == 200);
    CHECK(status({{"X-Forwarded-For", "203.0.113.7"}}) == 200);
    CHECK(status({{"X-Forwarded-For", "203.0.113.7"}}) == 429);
    // Writing another address in front does not give the client a fresh bucket.
    CHECK(status({{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}}) == 429);
    CHECK(status({{"Forwarded", "for=203.0.113.7;proto=https"}}) == 429);
    // Another client behind the same proxy has its own.
    CHECK(status({{"X-Forwarded-For", "203.0.113.8"}}) == 200);
    // IPv6 clients count by their /64.
    CHECK(status({{"Forwarded", R"(for="[2001:db8:0:1::a]:4711")"}}) == 200);
    CHECK(status({{"Forwarded", R"(for="[2001:db8:0:1::b]")"}}) == 200);
    CHECK(status({{"Forwarded", R"(for="[2001:db8:0:1::c]")"}}) == 429);
    CHECK(status({{"Forwarded", R"(for="[2001:db8:0:2::a]")"}}) == 200);
  }
  SUBCASE("from a peer that is not a trusted proxy the headers are ignored") {
    CHECK(status({{"X-Forwarded-For", "203.0.113.20"}}, "127.0.0.2") == 200);
    CHECK(status({{"Forwarded", "for=203.0.113.21"}}, "127.0.0.2") == 200);
    CHECK(status({{"X-Forwarded-For", "203.0.113.22"}}, "127.0.0.2") == 429);
    CHECK(status({}, "127.0.0.2") == 429);
    // The proxy's clients are not touched by that.
    CHECK(status({{"X-Forwarded-For", "203.0.113.20"}}) == 200);
  }
  SUBCASE("a malformed header from the proxy counts as the proxy's own request") {
    CHECK(status({{"Forwarded", "for="}}) == 200);
    CHECK(status({{"Forwarded", R"(for="203.0.113.30)"}}) == 200);
    CHECK(status({{"Forwarded", "proto=https"}, {"X-Forwarded-For", "203.0.113.31"}}) == 429);
    CHECK(status({{"X-Forwarded-For", "not-an-address"}}) == 429);
    CHECK(status({{"Forwarded", "for=\xff\xfe"}}) == 429);
    CHECK(status({}) == 429);
    CHECK(status({{"X-Forwarded-For", "203.0.113.32"}}) == 200);
    CHECK(request(srv.port, "GET", "/healthz").status == 200);
  }
}

TEST_CASE("/metrics shows open and refused connections") {
  test_server srv([](tools::serve_options& o) { o.max_connections_per_address = 3; });
  idle_connections idle(srv.port, "127.0.0.3", 3);
  const auto scrape = [&] { return srv.get("/metrics", srv.own.at("analyst")).body; };
  REQUIRE(eventually([&] {
    return scrape().find("caseline_connections_open 4\n") != std::string::npos;  // and the scrape
  }));
  expect_refused(srv.port, "127.0.0.3");
  const auto text = scrape();
  CHECK(text.find("caseline_connections_refused_total{reason=\"per_address\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("caseline_connections_refused_total{reason=\"total\"} 0\n") != std::string::npos);
  CHECK(text.find("caseline_connections_per_address_limit 3\n") != std::string::npos);
  CHECK(text.find("caseline_connections_limit 10000\n") != std::string::npos);
}
