// The write path's threads against a real server: a new case is handed to the writer on the
// connection's own thread, so that workers busy with reads never hold it up.
#include "gateway/api.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "projections/access_log.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

TEST_CASE("a new case is answered while every api worker waits for the projection") {
  test_server srv;
  const std::string id = srv.receive();
  // Each read names a position the log does not reach: it holds a worker for the read-your-writes
  // timeout (5 s), then answers 503.
  const unsigned workers = gateway::api_options{}.threads;
  std::atomic<unsigned> reads_answered{0};
  std::vector<std::thread> reads;
  for (unsigned i = 0; i < workers; ++i)
    reads.emplace_back([&] {
      auto r =
          test::request(srv.port, "GET", "/v1/cases/" + id, {},
                        test_server::auth(srv.own.at("agent"), {{"Caseline-After", "0:1000000"}}));
      CHECK(r.status == 503);
      reads_answered.fetch_add(1);
    });
  const auto started = std::chrono::steady_clock::now();
  const std::string second = srv.receive();
  const auto took = std::chrono::steady_clock::now() - started;
  // Behind the workers it would have waited for a read to give up.
  CHECK(reads_answered.load() == 0);
  CHECK(took < std::chrono::seconds(4));
  CHECK(second != id);
  for (auto& t : reads) t.join();
  CHECK(reads_answered.load() == workers);
  // The case written meanwhile is there for the next read.
  CHECK(srv.get("/v1/cases/" + second, srv.own.at("agent")).status == 200);
}

TEST_CASE("a new case with an Idempotency-Key or Caseline-After still goes through a worker") {
  test_server srv;
  const std::string body =
      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234","name":"张三"},)"
      R"("content":"The bus did not stop."})";
  auto first = srv.post("/v1/cases", body, srv.own.at("agent"), {{"Idempotency-Key", "k-1"}});
  REQUIRE(first.status == 201);
  auto again = srv.post("/v1/cases", body, srv.own.at("agent"), {{"Idempotency-Key", "k-1"}});
  REQUIRE(again.status == 201);
  CHECK(again.header("idempotent-replayed") == "true");
  CHECK(again.json().at("id") == first.json().at("id"));
  const std::string position = first.header("caseline-position");
  REQUIRE(!position.empty());
  auto after = srv.post("/v1/cases", body, srv.own.at("agent"), {{"Caseline-After", position}});
  REQUIRE(after.status == 201);
  CHECK(after.json().at("id") != first.json().at("id"));
}

TEST_CASE("every answered command has its access entry when the answer arrives, under load") {
  test_server srv;
  // Concurrent new cases share the log's group commits, so their answers leave in bursts whose
  // access entries are written together (projections::access_batch).
  constexpr int clients = 8;
  constexpr int per_client = 15;
  struct seen {
    int status{0};
    std::string id;
    std::string correlation;
    bool recorded{false};
  };
  std::vector<std::vector<seen>> results(clients);
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int i = 0; i < per_client; ++i) {
        auto r = srv.post(
            "/v1/cases",
            R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234","name":"张三"},)"
            R"("content":"The bus did not stop."})",
            srv.own.at("agent"));
        seen s{r.status, "", r.header("x-correlation-id"), false};
        if (r.status == 201) {
          s.id = r.json().at("id").as_string().c_str();
          // Read as the answer arrives: the entry must already be in the store.
          auto entries = projections::access_log(srv.stack->store()).of_case(s.id);
          if (entries)
            for (const auto& e : entries.value())
              s.recorded = s.recorded || (e.correlation_id == s.correlation && e.role == "agent");
        }
        results[static_cast<std::size_t>(c)].push_back(std::move(s));
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& per : results)
    for (const auto& s : per) {
      CAPTURE(s.id);
      CHECK(s.status == 201);
      CHECK(s.recorded);
    }
  // A command on an existing case is answered through the same bursts.
  const std::string id = results[0][0].id;
  auto classified =
      srv.post("/v1/cases/" + id + "/classify",
               R"({"category":"complaint","domain":"road_transport","topics":["bus"]})",
               srv.own.at("agent"));
  REQUIRE(classified.status == 200);
  auto entries = projections::access_log(srv.stack->store()).of_case(id);
  REQUIRE(entries);
  bool found = false;
  for (const auto& e : entries.value())
    found = found || e.correlation_id == classified.header("x-correlation-id");
  CHECK(found);
}
