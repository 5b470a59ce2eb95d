// Idempotency-Key on POSTs and If-Match on commands.
#include "projections/idempotency_store.h"

#include <atomic>
#include <future>
#include <thread>

#include <rocksdb/db.h>

#include "events/errc.h"
#include "events/record.h"
#include "gateway/command_json.h"
#include "gateway/problem.h"
#include "projections/case_writer.h"
#include "projections/idempotency_index.h"
#include "projections/store.h"
#include "tests/gateway/gateway_test_support.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {
const std::string receive_body =
    R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c"})";

std::size_t listed(test_server& srv) {
  return srv.get("/v1/cases?limit=200", srv.own.at("supervisor")).json().at("items").as_array().size();
}

// The crash window: the record is in the log but its answer was never stored. Deletes every
// stored answer, as a kill -9 between the append and the answer's put leaves it.
void forget_stored_answers(test_server& srv) {
  auto& st = srv.stack->store();
  auto* cf = st.cf(projections::family::idempotency);
  std::unique_ptr<rocksdb::Iterator> it(st.db().NewIterator(rocksdb::ReadOptions(), cf));
  std::size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n)
    REQUIRE(st.db().Delete(rocksdb::WriteOptions(), cf, it->key()).ok());
  REQUIRE(it->status().ok());
  REQUIRE(n > 0);
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

TEST_CASE("a retry finds the first write in the log when its answer was never stored") {
  test_server srv;
  const auto& agent = srv.own.at("agent");
  auto first = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "crash-1"}});
  REQUIRE(first.status == 201);
  const std::string id = first.json().at("id").as_string().c_str();
  forget_stored_answers(srv);

  SUBCASE("POST /v1/cases: the same case, once") {
    auto again = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "crash-1"}});
    CHECK(again.status == 201);
    CHECK(again.json().at("id").as_string() == id);
    CHECK(again.header("location") == first.header("location"));
    CHECK(again.header("etag") == first.header("etag"));
    CHECK(again.header("idempotent-replayed") == "true");
    CHECK(listed(srv) == 1);
    // The answer is stored again: the next retry is answered from it, after a restart too.
    srv.restart();
    auto third = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "crash-1"}});
    CHECK(third.status == 201);
    CHECK(third.json().at("id").as_string() == id);
    CHECK(listed(srv) == 1);
  }
  SUBCASE("after a restart the log still knows the key") {
    srv.restart();
    auto again = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "crash-1"}});
    CHECK(again.status == 201);
    CHECK(again.json().at("id").as_string() == id);
    CHECK(listed(srv) == 1);
  }
  SUBCASE("another body under the key is still 422, and appends nothing") {
    auto other = srv.post("/v1/cases",
                          R"({"channel":"sms","center":"410100","caller":{"phone":"13800001234"},"content":"d"})",
                          agent, {{"Idempotency-Key", "crash-1"}});
    CHECK(other.status == 422);
    CHECK(other.body.find("idempotency-key-reused") != std::string::npos);
    CHECK(listed(srv) == 1);
    // The refusal was not stored as the key's answer: the first request's retry still works.
    auto again = srv.post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "crash-1"}});
    CHECK(again.status == 201);
    CHECK(again.json().at("id").as_string() == id);
  }
  SUBCASE("another token's same key is another request") {
    auto other = srv.post("/v1/cases", receive_body, srv.own.at("shift_lead"),
                          {{"Idempotency-Key", "crash-1"}});
    CHECK(other.status == 201);
    CHECK(other.json().at("id").as_string() != id);
    CHECK(listed(srv) == 2);
  }
  SUBCASE("a command: applied once, answered with the case as it stands") {
    auto a = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"x"})", agent,
                      {{"Idempotency-Key", "crash-ans"}});
    REQUIRE(a.status == 200);
    forget_stored_answers(srv);
    auto b = srv.post("/v1/cases/" + id + "/answer", R"({"answer":"x"})", agent,
                      {{"Idempotency-Key", "crash-ans"}});
    CHECK(b.status == 200);
    CHECK(b.header("etag") == a.header("etag"));
    CHECK(b.json().at("version").as_int64() == 2);
    CHECK(b.header("location").empty());
    CHECK(srv.get("/v1/cases/" + id, agent).json().at("version").as_int64() == 2);
  }
}

TEST_CASE("a write made through the writer with the key, never answered, is found by the retry") {
  test_server srv;
  // A token whose id the test knows, to scope the key as the gateway does.
  auto tok = srv.stack->create_token(tools::token_request{"agent", own_center, ""});
  REQUIRE(tok);
  const std::string secret = tok.value().secret;
  const std::string token_id = tok.value().info.id;

  std::optional<timestamp> occurred_at;
  auto cmd = gateway::parse_receive(receive_body, occurred_at);
  REQUIRE(cmd);
  projections::command_request req;
  req.cmd = std::move(cmd).value();
  req.who = core::actor{user_id{"token:" + token_id}, core::role::agent, center_code{own_center}, {}};
  req.correlation_id = "crash-window";
  req.idempotency = events::idempotency_mark{events::idempotency_key_hash(token_id, "w-1"),
                                             projections::request_hash("POST", "/v1/cases",
                                                                       receive_body)};
  std::promise<result<projections::command_outcome>> written;
  srv.stack->writer().submit(std::move(req), [&](result<projections::command_outcome> r) {
    written.set_value(std::move(r));
  });
  auto fut = written.get_future();
  REQUIRE(fut.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  auto outcome = fut.get();
  REQUIRE(outcome);
  const std::string id = outcome.value().state.id();
  // The server dies before it stores (or even sends) the answer.
  srv.restart();

  auto retry = srv.post("/v1/cases", receive_body, secret, {{"Idempotency-Key", "w-1"}});
  CHECK(retry.status == 201);
  CHECK(retry.json().at("id").as_string() == id);
  CHECK(retry.header("location") == "/v1/cases/" + id);
  CHECK(retry.header("etag") == "\"1\"");
  CHECK(retry.header("idempotent-replayed") == "true");
  CHECK(listed(srv) == 1);
  // Without the key it is another case: the check above could fail.
  CHECK(srv.post("/v1/cases", receive_body, secret).status == 201);
  CHECK(listed(srv) == 2);
}

TEST_CASE("a 503 says nothing was written only when the append certainly did not happen") {
  const auto unknown = gateway::to_problem(make_error(events::errc::outcome_unknown, "delivery"));
  CHECK(unknown.status == 503);
  CHECK(unknown.slug == "log-outcome-unknown");
  CHECK(unknown.title.find("may have been written") != std::string::npos);
  CHECK(unknown.title.find("retry with the same Idempotency-Key") != std::string::npos);
  CHECK(unknown.title.find("nothing was written") == std::string::npos);
  for (auto e : {events::errc::unavailable, events::errc::timed_out, events::errc::fatal,
                 events::errc::closed}) {
    const auto p = gateway::to_problem(make_error(e));
    CHECK(p.status == 503);
    CHECK(p.title.find("nothing was written") != std::string::npos);
  }
  CHECK(events::is_retriable(events::errc::outcome_unknown));
}
