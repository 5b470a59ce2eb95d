// The admin socket of a running server's data folder (tools/local_admin.h) on its own, with a
// handler of the test's: the exchange, a data folder whose path is longer than a socket address
// holds, a socket file left by a killed server, a file in the way, a request over the limit,
// and the socket file removed when it closes. The token routes it serves are tested end to end
// with the real server in live_admin_test.
#include "tools/local_admin.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

namespace {

using namespace caseline;
namespace fs = std::filesystem;

// Echoes the request, and counts the calls.
struct echo {
  std::atomic<int> calls{0};
  tools::local_admin_socket::handler handler() {
    return [this](const tools::local_request& r, const tools::local_peer& peer) {
      ++calls;
      return tools::admin_answer{200, r.method + "|" + r.path + "|" + r.body +
                                          "|uid=" + std::to_string(peer.uid) +
                                          "|pid=" + std::to_string(peer.pid)};
    };
  }
};

tools::admin_answer call(const std::string& dir, const tools::local_request& r) {
  auto a = tools::local_admin_request(dir, r);
  REQUIRE_MESSAGE(a.has_value(), a.error().message());
  REQUIRE_MESSAGE(a.value().has_value(), "no server answered on " << dir);
  return *a.value();
}

// A raw exchange: `bytes` sent as they are, then the write side shut down; the whole answer.
std::string raw_exchange(const std::string& dir, const std::string& bytes) {
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(s >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string path = dir + "/admin.sock";
  REQUIRE(path.size() < sizeof a.sun_path);
  std::copy(path.begin(), path.end(), a.sun_path);
  REQUIRE(::connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(s, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server stopped reading: it answers what it has
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(s, SHUT_WR);
  std::string in;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(s, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(s);
  return in;
}

}  // namespace

TEST_CASE("the admin socket answers each request through its handler, for this process's user") {
  test::temp_dir dir;
  const std::string data = dir.sub("data");
  fs::create_directories(data);
  echo e;
  auto sock = tools::local_admin_socket::open(data, e.handler());
  REQUIRE_MESSAGE(sock.has_value(), sock.error().message());
  // Owner-only, whatever the umask.
  const auto perms = fs::status(fs::path(data) / "admin.sock").permissions();
  CHECK(perms == (fs::perms::owner_read | fs::perms::owner_write));

  const auto a = call(data, {"POST", "/v1/admin/tokens", "{\"role\":\"admin\"}\nsecond line"});
  CHECK(a.status == 200);
  CHECK(a.body == "POST|/v1/admin/tokens|{\"role\":\"admin\"}\nsecond line|uid=" +
                      std::to_string(::geteuid()) + "|pid=" + std::to_string(::getpid()));
  const auto empty = call(data, {"GET", "/v1/admin/tokens", ""});
  CHECK(empty.body.starts_with("GET|/v1/admin/tokens||"));
  CHECK(e.calls == 2);

  SUBCASE("a request without its first line, or over 64 KiB, is a 400 the handler never sees") {
    const auto no_line = raw_exchange(data, "GET");
    CHECK(no_line.starts_with("400\n"));
    CHECK(no_line.find("/problems/bad-request") != std::string::npos);
    const auto huge =
        raw_exchange(data, "POST /v1/admin/tokens\n" + std::string(std::size_t{70} * 1024, 'x'));
    CHECK(huge.starts_with("400\n"));
    CHECK(huge.find("64 KiB") != std::string::npos);
    CHECK(e.calls == 2);
    // And it serves on.
    CHECK(call(data, {"GET", "/", ""}).status == 200);
  }
  SUBCASE("closed, it removes its socket file, and no server answers on the folder") {
    sock.value().reset();
    CHECK_FALSE(fs::exists(fs::path(data) / "admin.sock"));
    auto none = tools::local_admin_request(data, {"GET", "/v1/admin/tokens", ""});
    REQUIRE(none.has_value());
    CHECK_FALSE(none.value().has_value());
  }
}

TEST_CASE("a data folder whose path is too long for a socket address is served all the same") {
  test::temp_dir dir;
  // Well over the 108 bytes of sun_path.
  fs::path deep = dir.path();
  for (int i = 0; i < 6; ++i) deep /= std::string(40, static_cast<char>('a' + i));
  fs::create_directories(deep);
  REQUIRE(deep.string().size() > 200);
  echo e;
  auto sock = tools::local_admin_socket::open(deep.string(), e.handler());
  REQUIRE_MESSAGE(sock.has_value(), sock.error().message());
  CHECK(fs::is_socket(deep / "admin.sock"));
  CHECK(call(deep.string(), {"GET", "/v1/admin/tokens", ""}).body.starts_with("GET|"));
  sock.value().reset();
  CHECK_FALSE(fs::exists(deep / "admin.sock"));
}

TEST_CASE("a socket file left by a killed server is replaced; anything else in the way is not") {
  test::temp_dir dir;
  const std::string data = dir.sub("data");
  fs::create_directories(data);
  echo e;
  {
    // A leftover: bound, then its descriptor closed without removing the file (as by kill -9).
    const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = data + "/admin.sock";
    std::copy(path.begin(), path.end(), a.sun_path);
    REQUIRE(::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    ::close(s);
  }
  REQUIRE(fs::is_socket(fs::path(data) / "admin.sock"));
  // Nothing answers on it: the tools take the folder for a stopped server's.
  auto before = tools::local_admin_request(data, {"GET", "/v1/admin/tokens", ""});
  REQUIRE(before.has_value());
  CHECK_FALSE(before.value().has_value());

  auto sock = tools::local_admin_socket::open(data, e.handler());
  REQUIRE_MESSAGE(sock.has_value(), sock.error().message());
  CHECK(call(data, {"GET", "/x", ""}).status == 200);
  sock.value().reset();

  std::ofstream(fs::path(data) / "admin.sock") << "not a socket";
  auto refused = tools::local_admin_socket::open(data, e.handler());
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message().find("is not a socket: remove it") != std::string::npos);
  CHECK(fs::is_regular_file(fs::path(data) / "admin.sock"));  // left as it was
}
