// Idempotency-Key on POSTs and If-Match on commands.
#include "projections/idempotency_store.h"

#include <atomic>
#include <thread>

#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {
const std::string receive_body =
    R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c"})";

std::size_t listed(test_server& srv) {
  return srv.get("/v1/cases?limit=200", srv.own.at("supervisor")).json().at("items").as_array().size();
}
}  // namespace

TEST_CASE("a retry with the same key and body returns the first answer and appends nothing") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  auto first = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "k-1"}});
  REQUIRE(first.status == 201);
  auto again = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "k-1"}});
  CHECK(again.status == 201);
  CHECK(again.body == first.body);
  CHECK(again.header("location") == first.header("location"));
  CHECK(again.header("idempotent-replayed") == "true");
  CHECK(listed(srv) == 1);

  SUBCASE("the same key with another body is 422") {
    auto other = srv.post("/v1/cases", R"({"channel":"sms","center":"410100","caller":{"phone":"13800001234"},"content":"d"})",
                          agent, {{"Idempotency-Key", "k-1"}});
    CHECK(other.status == 422);
    CHECK(other.body.find("idempotency-key-reused") != std::string::npos);
    CHECK(listed(srv) == 1);
  }
  SUBCASE("keys are per token: another token's same key is another request") {
    auto other = srv.post("/v1/cases", receive_body, srv.own.at("shift_lead"), {{"Idempotency-Key", "k-1"}});
    CHECK(other.status == 201);
    CHECK(listed(srv) == 2);
  }
  SUBCASE("keys survive a restart") {
    srv.restart();
    auto after = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "k-1"}});
    CHECK(after.status == 201);
    CHECK(after.body == first.body);
    CHECK(listed(srv) == 1);
  }
  SUBCASE("a command retried with its key appends once") {
    const std::string id = first.json().at("id").as_string().c_str();
    auto a = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"x"})", agent, {{"Idempotency-Key", "ans"}});
    auto b = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"x"})", agent, {{"Idempotency-Key", "ans"}});
    CHECK(a.status == 200);
    CHECK(b.status == 200);
    CHECK(b.body == a.body);
    CHECK(srv.get("/v1/cases/" + id, agent).json().at("version").as_int64() == 2);
  }
  SUBCASE("a malformed key is 400") {
    CHECK(srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "a b"}}).status == 400);
  }
}

TEST_CASE("concurrent duplicates with one key append once and all get the first answer") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  constexpr int n = 8;
  std::vector<reply> replies(n);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < n) std::this_thread::yield();
      replies[static_cast<std::size_t>(i)] =
          srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "race"}});
    });
  for (auto& t : threads) t.join();
  for (const auto& r : replies) {
    CHECK(r.status == 201);
    CHECK(r.body == replies[0].body);
  }
  CHECK(listed(srv) == 1);
}

TEST_CASE("If-Match: a stale version is 412 and nothing is appended; responses carry ETag") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  const auto id = srv.receive();
  auto r = srv.post("/v1/cases/" + id + "/classify", R"({"category":"inquiry","domain":"highway"})",
                    agent, {{"If-Match", "\"1\""}});
  REQUIRE(r.status == 200);
  CHECK(r.header("etag") == "\"2\"");
  r = srv.post("/v1/cases/" + id + "/classify", R"({"category":"complaint","domain":"highway"})", agent,
               {{"If-Match", "\"1\""}});
  CHECK(r.status == 412);
  CHECK(r.body.find("stale-version") != std::string::npos);
  CHECK(srv.get("/v1/cases/" + id, agent).json().at("category").as_string() == "inquiry");
  CHECK(srv.post("/v1/cases/" + id + "/classify", R"({"category":"complaint","domain":"highway"})", agent,
                 {{"If-Match", "two"}}).status == 400);
  CHECK(srv.post("/v1/cases/" + id + "/classify", R"({"category":"complaint","domain":"highway"})", agent,
                 {{"If-Match", "W/\"2\""}}).status == 200);
}
