// The HTTP edge against the real server: request smuggling vectors, limits, JSON depth, slow
// clients, CR/LF, the per-token rate limit and a stop under load that keeps every acknowledged
// write.
#include "gateway/server.h"

#include <atomic>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "events/embedded_event_log.h"
#include "projections/rebuild.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {
std::string post_head(const std::string& token, const std::string& extra) {
  return "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\n" + extra;
}
}  // namespace

TEST_CASE("request smuggling vectors are 400 and nothing is appended") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  const std::string body =
      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c"})";
  SUBCASE("Content-Length together with Transfer-Encoding") {
    auto r = raw_request(srv.port, post_head(agent, "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n") +
                                       "0\r\n\r\n");
    CHECK(r.status == 400);
  }
  SUBCASE("a Transfer-Encoding that does not end in chunked") {
    auto r = raw_request(srv.port, post_head(agent, "Transfer-Encoding: chunked, identity\r\n\r\n") + body);
    CHECK(r.status == 400);
    r = raw_request(srv.port, post_head(agent, "Transfer-Encoding: gzip\r\n\r\n") + body);
    CHECK(r.status == 400);
  }
  SUBCASE("two Content-Length headers") {
    auto r = raw_request(srv.port, post_head(agent, "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"));
    CHECK(r.status == 400);
  }
  SUBCASE("chunked alone is fine") {
    std::string chunked = post_head(agent, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", body.size());
    chunked += size + body + "\r\n0\r\n\r\n";
    CHECK(raw_request(srv.port, chunked).status == 201);
  }
  const auto listed = srv.get("/v1/cases", srv.own.at("supervisor")).json().at("items").as_array().size();
  CHECK(listed <= 1);
}

TEST_CASE("oversize bodies and headers, deep JSON and long strings are refused") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  auto r = srv.post("/v1/cases", std::string(std::size_t{70} * 1024, ' '), agent);
  CHECK(r.status == 413);
  r = request(srv.port, "GET", "/healthz", {}, {{"X-Big", std::string(9000, 'a')}});
  CHECK(r.status == 431);
  std::string deep = R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c","x":)";
  for (int i = 0; i < 50; ++i) deep += "[";
  for (int i = 0; i < 50; ++i) deep += "]";
  deep += "}";
  r = srv.post("/v1/cases", deep, agent);
  CHECK(r.status == 400);
  CHECK(r.header("content-type") == "application/problem+json");
  r = srv.post("/v1/cases",
               R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234","name":")" +
                   std::string(100, 'n') + R"("},"content":"c"})",
               agent);
  CHECK(r.status == 422);
  CHECK(r.json().at("field").as_string() == "caller.name");
}

TEST_CASE("a slow client cannot hold the server: the read timeout closes its connection") {
  test_server srv([](tools::serve_options& o) {
    o.read_timeout = std::chrono::seconds(1);
    o.idle_timeout = std::chrono::seconds(1);
  });
  const int fd = connect_to(srv.port);
  REQUIRE(fd >= 0);
  send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");  // and never the end of the header
  bool closed = false;
  read_until_close(fd, std::chrono::seconds(10), &closed);
  ::close(fd);
  CHECK(closed);
  // An idle keep-alive connection is closed too, and the server still answers others.
  const int idle = connect_to(srv.port);
  REQUIRE(idle >= 0);
  send_all(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  closed = false;
  const auto got = read_until_close(idle, std::chrono::seconds(10), &closed);
  ::close(idle);
  CHECK(got.starts_with("HTTP/1.1 200"));
  CHECK(closed);
  CHECK(request(srv.port, "GET", "/healthz").status == 200);
}

TEST_CASE("CR and LF from the request are never reflected into response headers") {
  test_server srv;
  auto r = request(srv.port, "GET", "/v1/cases/x%0d%0aSet-Cookie:%20a=b", {},
                   test_server::auth(srv.own.at("agent")));
  CHECK(r.status == 404);
  CHECK(r.header("set-cookie").empty());
  CHECK(r.head.find("a=b") == std::string::npos);
  r = request(srv.port, "GET", "/healthz", {}, {{"X-Correlation-Id", "bad id;Set-Cookie=1"}});
  CHECK(r.status == 200);
  CHECK(r.header("x-correlation-id") != "bad id;Set-Cookie=1");
  CHECK(r.head.find("Set-Cookie") == std::string::npos);
  r = request(srv.port, "GET", "/healthz", {}, {{"X-Correlation-Id", "good-id.1"}});
  CHECK(r.header("x-correlation-id") == "good-id.1");
}

TEST_CASE("a token over its request rate gets 429 with Retry-After; other tokens do not") {
  test_server srv([](tools::serve_options& o) { o.token_rate = {0.01, 5}; });
  const auto& t = srv.own.at("analyst");  // the fixture itself used none of the analyst's budget
  int ok = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = srv.get("/v1/centers", t);
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      CHECK(r.header("retry-after") != "");
    }
  }
  CHECK(ok == 5);
  CHECK(limited == 3);
  CHECK(srv.get("/v1/centers", srv.own.at("auditor")).status == 200);
}

// Stopping under load, with a grace long enough to drain and with none: the server stops
// accepting, answers what it can, and the stack comes down cleanly while answers are still owed
// (the api's workers and the writer's commands in flight finish before the HTTP server they
// answer into is destroyed). Every case answered 201 is there after a restart; with a grace,
// the store also closes caught up with the log (the tools that read a stopped store rely on it).
TEST_CASE("stopping under load keeps every acknowledged case, with or without a grace") {
  for (const auto grace : {std::chrono::milliseconds(5000), std::chrono::milliseconds(0),
                           std::chrono::milliseconds(0), std::chrono::milliseconds(0)}) {
    CAPTURE(grace.count());
    test_server srv;
    const auto& agent = srv.own.at("agent");
    std::mutex mu;
    std::vector<std::string> acked;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    clients.reserve(8);
    for (int c = 0; c < 8; ++c)
      clients.emplace_back([&] {
        while (!stop.load()) {
          auto r = srv.post("/v1/cases",
                            R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c"})",
                            agent);
          if (r.status != 201) {
            if (r.status != 0 && r.status != 503) {
              std::lock_guard lk(mu);
              acked.push_back("unexpected status " + std::to_string(r.status));
            }
            continue;
          }
          std::lock_guard lk(mu);
          acked.push_back(r.json().at("id").as_string().c_str());
        }
      });
    REQUIRE(eventually([&] {
      std::lock_guard lk(mu);
      return acked.size() >= 20;
    }));
    srv.stack->stop(grace);
    srv.stack.reset();  // while the clients still send: nothing may answer into a freed server
    stop = true;
    for (auto& t : clients) t.join();
    if (grace.count() > 0) {
      auto offsets = projections::stored_offsets((srv.dir.path() / "store").string());
      REQUIRE(offsets);
      auto log = events::open_embedded_log({(srv.dir.path() / "log").string(), 4});
      REQUIRE(log);
      for (std::int32_t p = 0; p < log.value()->partition_count(); ++p) {
        CAPTURE(p);
        auto end = log.value()->end_offset(events::partition_id{p});
        REQUIRE(end);
        const auto it = offsets.value().find(p);
        CHECK((it == offsets.value().end() ? 0 : it->second) == end.value()());
      }
    }
    srv.start();
    for (const auto& id : acked) {
      CAPTURE(id);
      CHECK(srv.get("/v1/cases/" + id, agent).status == 200);
    }
  }
}
