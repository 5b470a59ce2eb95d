#pragma once

// A real server (server_stack: embedded log, RocksDB in a temporary folder, manual clock) on
// 127.0.0.1:0, a tiny blocking HTTP/1.1 client over POSIX sockets (raw bytes too, for the
// hardening cases), and tokens for every role. No mocks.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include "events/event_log.h"
#include "tools/rebuild_cmd.h"
#include "tools/serve.h"
#include "tools/token_cmd.h"

namespace caseline::gwtest {

namespace json = boost::json;

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("caseline-gw-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;  // best effort: a leftover temp folder is not a test failure
    std::filesystem::remove_all(path, ec);
  }
};

inline std::string source_dir() {
  const char* s = std::getenv("CASELINE_SOURCE_DIR");
  return s ? s : ".";
}

struct reply {
  int status{0};  // 0: no answer
  std::string head;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? std::string() : it->second;
  }
  // Parsed once and kept with the reply, so references into it live as long as the reply.
  const json::value& json() const {
    if (!parsed) parsed = json::parse(body);
    return *parsed;
  }
  mutable std::optional<json::value> parsed;
};

// Connects to 127.0.0.1:port, from `from` when given (any 127.x address is the loopback on
// Linux, so a test can be several clients); -1 on failure.
inline int connect_to(std::uint16_t port, const char* from = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (from) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, from, &local.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until the peer closes or the deadline passes. `closed` tells which.
inline std::string read_until_close(int fd, std::chrono::milliseconds deadline, bool* closed = nullptr) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + deadline;
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (closed) *closed = false;
      return out;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

inline reply parse_reply(const std::string& raw) {
  reply r;
  const auto end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end);
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    const auto eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[name] = value;
    pos = eol + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

// Sends raw bytes on a fresh connection and reads the answer until the server closes.
inline reply raw_request(std::uint16_t port, std::string_view bytes,
                         std::chrono::milliseconds deadline = std::chrono::seconds(10),
                         const char* from = nullptr) {
  const int fd = connect_to(port, from);
  if (fd < 0) return {};
  send_all(fd, bytes);
  auto raw = read_until_close(fd, deadline);
  ::close(fd);
  return parse_reply(raw);
}

using header_list = std::vector<std::pair<std::string, std::string>>;

inline reply request(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = {}, const header_list& headers = {},
                     const char* from = nullptr) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  bool has_ct = false;
  for (const auto& [n, v] : headers) {
    req += n + ": " + v + "\r\n";
    if (n == "Content-Type") has_ct = true;
  }
  if (!body.empty() && !has_ct) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  return raw_request(port, req, std::chrono::seconds(10), from);
}

// Waits for a condition with a deadline (never a sleep to wait).
inline bool eventually(const std::function<bool()>& f,
                       std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::yield();
  }
  return f();
}

inline const std::vector<std::string>& all_roles() {
  static const std::vector<std::string> r{"agent",           "shift_lead", "quality_inspector",
                                          "analyst",         "revisit_officer", "supervisor",
                                          "unit",            "auditor",    "admin",
                                          "unit_head"};
  return r;
}

constexpr const char* own_center = "410100";    // 郑州
constexpr const char* other_center = "410300";  // 洛阳
constexpr const char* own_unit = "zz-transit";
constexpr const char* other_unit = "ly-transit";
constexpr const char* provincial_unit = "prov-unit";

// A running server with a manual clock at 2025-09-26T10:00+08:00, the units own_unit (410100),
// other_unit (410300) and provincial_unit (410000) registered, and a token per role for own_center (unit: own_unit), one
// per role for other_center (unit: other_unit) and a provincial one per role.
struct test_server {
  temp_dir dir;
  std::unique_ptr<tools::server_stack> stack;
  std::uint16_t port{0};
  std::map<std::string, std::string> own, other, provincial;  // role -> bearer secret

  explicit test_server(std::function<void(tools::serve_options&)> tweak = {}) { start(tweak); }

  void start(const std::function<void(tools::serve_options&)>& tweak = {}) {
    tools::serve_options o;
    o.store.data_dir = dir.path.string();
    o.store.partitions = 4;
    o.store.calendar_file = source_dir() + "/core/data/cn-workdays.txt";
    o.listen = "127.0.0.1:0";
    o.clock = "manual";
    o.token_rate = {1000, 5000};
    if (tweak) tweak(o);
    const bool manual = o.clock == "manual";
    auto s = tools::server_stack::open(o);
    if (!s) throw std::runtime_error(s.error().message());
    stack = std::move(s).value();
    const auto addr = stack->address();
    port = static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    if (own.empty()) {
      // A unit token names a unit registered with its center: the units come first.
      for (const auto& r : all_roles()) {
        if (r == "unit" || r == "unit_head") continue;
        own[r] = token(r, own_center, "");
        other[r] = token(r, other_center, "");
        provincial[r] = token(r, "410000", "");
      }
      if (manual)
        REQUIRE(post("/v1/admin/clock", R"({"now":"2025-09-26T10:00:00+08:00"})", own["admin"])
                    .status == 200);
      REQUIRE(put_unit(own_unit, own_center).status == 200);
      REQUIRE(put_unit(other_unit, other_center).status == 200);
      REQUIRE(put_unit(provincial_unit, "410000").status == 200);
      for (const char* r : {"unit", "unit_head"}) {
        own[r] = token(r, own_center, own_unit);
        other[r] = token(r, other_center, other_unit);
        provincial[r] = token(r, "410000", provincial_unit);
      }
    }
  }
  void restart(const std::function<void(tools::serve_options&)>& tweak = {}) {
    stack.reset();
    start(tweak);
  }

  std::string token(const std::string& role, const std::string& center, const std::string& unit) {
    auto t = stack->create_token(tools::token_request{role, center, unit});
    if (!t) throw std::runtime_error(t.error().message());
    return t.value().secret;
  }

  static header_list auth(const std::string& token, header_list extra = {}) {
    if (!token.empty()) extra.emplace_back("Authorization", "Bearer " + token);
    return extra;
  }
  reply get(const std::string& target, const std::string& token) {
    return request(port, "GET", target, {}, auth(token));
  }
  reply post(const std::string& target, const std::string& body, const std::string& token,
             header_list extra = {}) {
    return request(port, "POST", target, body, auth(token, std::move(extra)));
  }
  reply put_unit(const std::string& id, const std::string& center) {
    return request(port, "PUT", "/v1/units/" + id,
                   R"({"name":"Transit )" + id + R"(","center":")" + center +
                       R"(","contact":{"name":"Wang","mobile":"13700000000","email":"w@example.cn"}})",
                   auth(own["admin"]));
  }

  // Receives a case at a center with an agent token of that center; returns its id.
  std::string receive(bool own_side = true, const std::string& phone = "13800001234") {
    const auto& tokens = own_side ? own : other;
    const std::string center = own_side ? own_center : other_center;
    auto r = post("/v1/cases",
                  R"({"channel":"phone","center":")" + center + R"(","caller":{"phone":")" + phone +
                      R"(","name":"张三"},"content":"The bus did not stop."})",
                  tokens.at("agent"));
    REQUIRE(r.status == 201);
    return r.json().at("id").as_string().c_str();
  }
  // Revisits a closed case if the revisit sample picked it, so that it can be archived (Art. 23,
  // 46: the first closure of a center's month in a partition of the log always is picked).
  void revisit_if_picked(const std::string& id, const std::string& token) {
    auto c = get("/v1/cases/" + id, token);
    REQUIRE(c.status == 200);
    if (!c.json().at("revisit_required").as_bool()) return;
    REQUIRE(post("/v1/cases/" + id + "/revisit", R"({"reached":true,"satisfaction":"satisfied"})",
                 token).status == 200);
  }
  // Receives, classifies (complaint) and transfers a case to the side's unit.
  std::string transferred(bool own_side = true) {
    const auto id = receive(own_side);
    const auto& tokens = own_side ? own : other;
    REQUIRE(post("/v1/cases/" + id + "/classify",
                 R"({"category":"complaint","domain":"road_transport","topics":["bus"]})",
                 tokens.at("agent")).status == 200);
    REQUIRE(post("/v1/cases/" + id + "/transfer",
                 std::string(R"({"unit":")") + (own_side ? own_unit : other_unit) + "\"}",
                 tokens.at("agent")).status == 200);
    return id;
  }
};

// `caseline rebuild --verify` on a stopped test server's data (its stack reset first: the
// embedded log is locked while it runs): the exit code, and what it printed in `output`.
inline int rebuild_verify(const test_server& s, std::string& output) {
  tools::rebuild_options ro;
  ro.store.data_dir = s.dir.path.string();
  ro.store.partitions = 4;
  ro.store.calendar_file = source_dir() + "/core/data/cn-workdays.txt";
  ro.verify = true;
  ro.progress = false;
  std::ostringstream out, err;
  const int rc = tools::run_rebuild(ro, out, err);
  output = out.str() + err.str();
  return rc;
}

}  // namespace caseline::gwtest
