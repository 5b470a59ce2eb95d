// A broker that stops answering (frozen with SIGSTOP: connections stay open, nothing comes back)
// must not freeze the API: /healthz and /readyz answer at once, reads (a case's history
// included) answer from the projections, a write that needs the broker answers 503 problem+json
// within the delivery timeout, and a graceful stop ends in bounded time. Uses a second, private
// broker (tools/kafka-local.sh start) so the shared one stays up.
#include <csignal>
#include <future>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "tests/integration/private_broker.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

struct timed_reply {
  test::http_reply reply;
  steady::duration took;
};

timed_reply timed_call(const std::string& address, const std::string& target,
                       const test::header_list& headers = {}, const std::string& method = "GET",
                       const std::string& body = {}) {
  const auto started = steady::now();
  auto r = test::http_call(address, method, target, body, headers);
  return {std::move(r), steady::now() - started};
}

// The JVM's pid from kafka-local.sh's "ready on ... (pid N, ...)" line.
pid_t broker_pid(const std::string& output) {
  const auto at = output.find("(pid ");
  REQUIRE_MESSAGE(at != std::string::npos, output);
  return static_cast<pid_t>(std::stol(output.substr(at + 5)));
}

}  // namespace

TEST_CASE("a frozen broker never freezes the API, and a stop ends in bounded time") {
  test::private_broker broker;
  const pid_t jvm = broker_pid(broker.proc->output());
  test::agent_server server(broker.bootstrap, "freeze");
  const std::string& address = server.address;
  const test::header_list auth{{"authorization", "Bearer " + server.token}};

  auto created = test::http_call(
      address, "POST", "/v1/cases",
      R"({"channel":"wechat","center":"410100","caller":{"phone":"13900001100"},"content":"freeze"})",
      auth);
  REQUIRE(created.status == 201);
  const std::string id(boost::json::parse(created.body).as_object()["id"].as_string());
  const std::string events = "/v1/cases/" + id + "/events";
  REQUIRE(test::http_call(address, "GET", events, {}, auth).status == 200);

  REQUIRE(::kill(jvm, SIGSTOP) == 0);
  struct resume {
    pid_t pid;
    ~resume() { ::kill(pid, SIGCONT); }  // whatever happens, the broker can be stopped
  } resume_broker{jvm};

  // More writes than the API has workers: each needs the broker.
  const std::string receive =
      R"({"channel":"wechat","center":"410100","caller":{"phone":"13900001101"},"content":"frozen"})";
  auto write = [&] { return timed_call(address, "/v1/cases", auth, "POST", receive); };
  std::vector<std::future<timed_reply>> writes;
  writes.reserve(6);
  for (int i = 0; i < 6; ++i) writes.push_back(std::async(std::launch::async, write));
  // Meanwhile liveness and readiness answer at once (readiness from the last health probe).
  for (int i = 0; i < 10; ++i) {
    auto health = timed_call(address, "/healthz");
    CHECK(health.reply.status == 200);
    CHECK(health.took < 100ms);
    auto ready = timed_call(address, "/readyz");
    CHECK((ready.reply.status == 200 || ready.reply.status == 503));
    CHECK(ready.took < 100ms);
  }
  // Reads answer from the projections, the case's history too, while the writes wait.
  for (const auto& target : {"/v1/cases/" + id, events}) {
    auto r = timed_call(address, target, auth);
    CHECK(r.reply.status == 200);
    CHECK(r.took < 2s);
  }
  for (auto& f : writes) {
    auto r = f.get();
    CHECK(r.reply.status == 503);
    CHECK(r.reply.header("content-type") == "application/problem+json");
    // Alone on the topic, its delivery timeout is the session timeout (10 s) less a heartbeat
    // interval (3 s) less 1 s: 6 s (events/kafka_single_writer.h).
    CHECK_MESSAGE(r.took < 8s, "a write waited beyond the delivery timeout for the broker");
  }

  // The health probe gets no answer: the server says it is not ready, still at once.
  const auto until = steady::now() + 30s;
  timed_reply ready;
  do {
    ready = timed_call(address, "/readyz");
    CHECK(ready.took < 100ms);
  } while (ready.reply.status != 503 && steady::now() < until);
  CHECK(ready.reply.status == 503);
  CHECK(ready.reply.header("content-type") == "application/problem+json");

  // A graceful stop with writes in flight and the broker still frozen ends in bounded time.
  std::vector<std::future<timed_reply>> in_flight;
  in_flight.reserve(4);
  for (int i = 0; i < 4; ++i) in_flight.push_back(std::async(std::launch::async, write));
  const auto stop_started = steady::now();
  server.proc->signal(SIGTERM);
  const auto code = server.proc->wait(30s);
  CHECK_MESSAGE(code == 0, "the server did not stop within 30 s: " << server.proc->output());
  CHECK(steady::now() - stop_started < 30s);
  for (auto& f : in_flight) {
    auto r = f.get();  // answered 503 or closed by the stop; never left hanging
    CHECK(r.reply.status != 201);
  }
}

// A broker frozen for longer than the session timeout ends the server's membership of its
// topic's single-writer group (events/kafka_single_writer.h). That is no reason to stop: nobody
// took the topic meanwhile, so once the broker answers the server takes its whole claim back
// and writes on.
TEST_CASE("a broker frozen past the claim's session timeout stops no server: it writes on") {
  test::private_broker broker;
  const pid_t jvm = broker_pid(broker.proc->output());
  test::agent_server server(broker.bootstrap, "regain");
  const test::header_list auth{{"authorization", "Bearer " + server.token}};
  const std::string body =
      R"({"channel":"wechat","center":"410100","caller":{"phone":"13900001102"},"content":"regain"})";
  REQUIRE(test::http_call(server.address, "POST", "/v1/cases", body, auth).status == 201);

  REQUIRE(::kill(jvm, SIGSTOP) == 0);
  {
    struct resume {
      pid_t pid;
      ~resume() { ::kill(pid, SIGCONT); }
    } resume_broker{jvm};
    // The session timeout (10 s) passes without a heartbeat answered.
    REQUIRE_MESSAGE(
        server.proc->wait_for_line("\"event\":\"kafka_single_writer_membership_ended\"", 60s),
        server.proc->output());
  }
  REQUIRE_MESSAGE(server.proc->wait_for_line("\"event\":\"kafka_single_writer_regained\"", 60s),
                  server.proc->output());
  CHECK_FALSE(server.proc->wait(0ms).has_value());
  CHECK(test::eventually(
      [&] {
        return test::http_call(server.address, "POST", "/v1/cases", body, auth).status == 201;
      },
      60s));
  CHECK(server.proc->output().find("kafka_single_writer_lost") == std::string::npos);
  server.proc->signal(SIGTERM);
  CHECK(server.proc->wait(60s) == 0);
}
