// Any server of a group takes any request: a write for a partition another server writes is
// forwarded to that owner (the gateway's hooks, gateway/api.h), 503 partition-moving when none
// can take it; position tokens give read-your-writes across servers. Two real server stacks
// in one process on one embedded log (as two members of a group share one topic), each with
// its own store.
#include "gateway/forwarding.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <rocksdb/db.h>

#include "events/embedded_event_log.h"
#include "gateway/api.h"
#include "gateway/peer_client.h"
#include "projections/case_writer.h"
#include "projections/store.h"
#include "tests/gateway/gateway_test_support.h"
#include "tests/support/notice_2027.h"
#include "tests/support/silent_listener.h"

using namespace caseline;
using namespace caseline::gwtest;

namespace {

// One log for several stacks: each stack owns its handle, every handle reaches the same
// embedded log (which is thread-safe).
class shared_log final : public events::event_log {
 public:
  explicit shared_log(std::shared_ptr<events::event_log> log) : log_(std::move(log)) {}
  std::int32_t partition_count() const override { return log_->partition_count(); }
  void append(std::string key, std::string value, append_handler handler) override {
    log_->append(std::move(key), std::move(value), std::move(handler));
  }
  void append_to(events::partition_id p, std::string key, std::string value,
                 append_handler handler) override {
    log_->append_to(p, std::move(key), std::move(value), std::move(handler));
  }
  result<std::vector<events::log_record>> read(events::partition_id p, events::log_offset from,
                                               std::size_t max_records,
                                               std::chrono::milliseconds wait) override {
    return log_->read(p, from, max_records, wait);
  }
  result<events::log_offset> end_offset(events::partition_id p) override {
    return log_->end_offset(p);
  }
  result<std::unique_ptr<events::subscription>> subscribe(events::start_offsets from,
                                                          batch_handler handler) override {
    return log_->subscribe(std::move(from), std::move(handler));
  }
  result<void> flush(std::chrono::milliseconds timeout) override { return log_->flush(timeout); }
  result<void> check() override { return log_->check(); }

 private:
  std::shared_ptr<events::event_log> log_;
};

// What stack A's group hooks say: once `on`, A writes no partition and `owner` (if any) owns
// them all. Off while A starts, so that A sets itself up like any server.
struct group_view {
  std::atomic<bool> on{false};
  std::mutex mu;
  std::optional<std::string> owner;  // guarded by mu

  void set_owner(std::optional<std::string> url) {
    std::lock_guard lk(mu);
    owner = std::move(url);
  }
};

// B writes every partition; A, once the view is on, none: it forwards every write to the owner
// the view names. Tokens live in each server's store (until they are kept in the log), so A is
// given B's.
struct two_servers {
  temp_dir log_dir;
  std::shared_ptr<events::event_log> log;
  std::shared_ptr<group_view> view = std::make_shared<group_view>();
  std::unique_ptr<test_server> b;
  std::unique_ptr<test_server> a;

  explicit two_servers(gateway::peer_options forwarding = {}) {
    auto opened = events::open_embedded_log({(log_dir.path() / "log").string(), 4});
    REQUIRE(opened);
    log = std::move(opened).value();
    auto handle = [this](const tools::serve_options&) {
      return std::unique_ptr<events::event_log>(std::make_unique<shared_log>(log));
    };
    b = std::make_unique<test_server>(std::function<void(tools::serve_options&)>{}, handle);
    a = std::make_unique<test_server>(
        [v = view, forwarding](tools::serve_options& o) {
          o.adjust_services = [v, forwarding](gateway::services& s) {
            s.writes = [v](events::partition_id) { return !v->on.load(); };
            s.writable = [v, n = s.log.partition_count()] {
              std::vector<events::partition_id> all;
              if (!v->on.load())
                for (std::int32_t p = 0; p < n; ++p) all.emplace_back(p);
              return all;
            };
            s.owner_url = [v](events::partition_id) {
              std::lock_guard lk(v->mu);
              return v->owner;
            };
            s.self_url = "http://a.invalid:1";
            s.forwarding = forwarding;
          };
        },
        handle);
    copy_tokens(*b, *a);
    view->set_owner("http://127.0.0.1:" + std::to_string(b->port));
    view->on = true;
  }

  static void copy_tokens(test_server& from, test_server& to) {
    auto& src = from.stack->store();
    auto& dst = to.stack->store();
    std::unique_ptr<rocksdb::Iterator> it(
        src.db().NewIterator(rocksdb::ReadOptions(), src.cf(projections::family::tokens)));
    std::size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++n)
      REQUIRE(dst.db()
                  .Put(rocksdb::WriteOptions(), dst.cf(projections::family::tokens), it->key(),
                       it->value())
                  .ok());
    REQUIRE(it->status().ok());
    REQUIRE(n > 0);
  }

  // The record at a Caseline-Position, read from the log.
  events::log_record record_at(const std::string& position) {
    auto pos = gateway::parse_positions(position, 4);
    REQUIRE(pos);
    REQUIRE(pos.value().size() == 1);
    auto got =
        log->read(pos.value()[0].partition, pos.value()[0].offset, 1, std::chrono::milliseconds(0));
    REQUIRE(got);
    REQUIRE(got.value().size() == 1);
    return got.value()[0];
  }
};

using test::silent_listener;

// Fault injection the real server cannot time: an owner that answers the first request on its
// first connection and keeps the connection alive, then reads the next request on it and
// closes it unanswered (as an owner stopping right then, or a kept-alive connection it has
// just dropped). Every request on a later connection is answered 200 `{}`.
class dropping_owner {
 public:
  dropping_owner() : listener_(std::make_unique<silent_listener>()) {
    port = listener_->port;
    thread_ = std::thread([this] { run(); });
  }
  ~dropping_owner() {
    stop_ = true;
    thread_.join();
  }
  dropping_owner(const dropping_owner&) = delete;
  dropping_owner& operator=(const dropping_owner&) = delete;

  std::uint16_t port{0};
  std::atomic<int> requests{0};     // read in full
  std::atomic<int> connections{0};  // accepted

 private:
  // Waits (polling, so that stop_ ends it) until fd is readable; false once stopping.
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }
  // Reads one request: its head and a Content-Length body. False at the end of the stream.
  bool read_request(int fd) {
    std::string in;
    while (true) {
      const auto head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        if (const auto cl = in.find("Content-Length: "); cl != std::string::npos && cl < head_end)
          length = std::stoul(in.substr(cl + 16));
        if (in.size() >= head_end + 4 + length) return true;
      }
      if (!readable(fd)) return false;
      char buf[4096];
      const auto n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
  void run() {
    while (readable(listener_->fd)) {
      const int fd = ::accept(listener_->fd, nullptr, nullptr);
      if (fd < 0) continue;
      const bool first = connections.fetch_add(1) == 0;
      for (int n = 0; read_request(fd); ++n) {
        ++requests;
        if (first && n == 1) break;  // closed unanswered
        const std::string answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if (::write(fd, answer.data(), answer.size()) != static_cast<ssize_t>(answer.size())) break;
      }
      ::close(fd);
    }
  }

  std::unique_ptr<silent_listener> listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A counter of /metrics, by its whole name with labels.
double metric(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  REQUIRE(at != std::string::npos);
  return std::stod(text.substr(at + name.size() + 2));
}

const std::string receive_body =
    R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234","name":"张三"},"content":"The bus did not stop."})";
const std::string classify_body =
    R"({"category":"complaint","domain":"road_transport","topics":["bus"]})";

std::int64_t offset_of(const std::string& position) {
  auto pos = gateway::parse_positions(position, 1 << 20);
  REQUIRE(pos);
  return pos.value().at(0).offset();
}

// A GET that names the positions it must see.
reply read_after(test_server& s, const std::string& target, const std::string& token,
                 const std::string& after) {
  return test::request(s.port, "GET", target, {},
                       test_server::auth(token, {{"Caseline-After", after}}));
}

bool partition_moving(const reply& r) {
  return r.status == 503 && r.header("content-type") == "application/problem+json" &&
         r.json().at("type").as_string() == "/problems/partition-moving" &&
         r.header("retry-after") == "1";
}

}  // namespace

TEST_CASE("positions are <partition>:<offset>, and a malformed Caseline-After names the header") {
  CHECK(gateway::format_position({events::partition_id{3}, events::log_offset{42}}) == "3:42");
  auto two = gateway::parse_positions("0:7, 3:42", 4);
  REQUIRE(two);
  CHECK(two.value().size() == 2);
  CHECK(two.value()[1].partition() == 3);
  CHECK(two.value()[1].offset() == 42);
  for (const char* bad :
       {"", "3", "3:", ":4", "a:1", "1:-2", "4:0", "0:1,", "0:1;1:2", "0:99999999999999999999"}) {
    CAPTURE(bad);
    auto r = gateway::parse_positions(bad, 4);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("Caseline-After") != std::string::npos);
  }
  CHECK(gateway::parse_peer_url("http://10.0.0.2:8080/")->port == "8080");
  CHECK(gateway::parse_peer_url("http://[::1]:81")->host == "::1");
  CHECK_FALSE(gateway::parse_peer_url("https://10.0.0.2:8080"));
  CHECK_FALSE(gateway::parse_peer_url("http://10.0.0.2:8080/v1"));
}

TEST_CASE("a write sent to a server that does not write its partition is answered by the owner") {
  two_servers g;
  const auto& agent = g.b->own.at("agent");
  const auto id = g.b->receive();
  const auto p = events::partition_for(id, 4);
  const auto b_before = g.b->stack->writer().last_acked(p);

  auto r = g.a->post("/v1/cases/" + id + "/classify", classify_body, agent);
  REQUIRE(r.status == 200);
  CHECK(r.json().at("category").as_string() == "complaint");
  CHECK(r.header("etag") == "\"" + std::to_string(r.json().at("version").as_int64()) + "\"");
  // B wrote the record (in the log, at the position the answer names); A wrote nothing.
  const auto position = r.header("caseline-position");
  REQUIRE(position.starts_with(std::to_string(p()) + ":"));
  CHECK(g.record_at(position).key == id);
  CHECK(g.b->stack->writer().last_acked(p) == offset_of(position));
  CHECK(g.b->stack->writer().last_acked(p) > b_before);
  CHECK(g.a->stack->writer().last_acked(p) == -1);
  CHECK_FALSE(r.header("x-correlation-id").empty());

  SUBCASE("a stale If-Match through A is B's 412") {
    const auto seen = std::to_string(r.json().at("version").as_int64() - 1);
    auto stale = g.a->post("/v1/cases/" + id + "/transfer", R"({"unit":"zz-transit"})", agent,
                           {{"If-Match", "\"" + seen + "\""}});
    CHECK(stale.status == 412);
    CHECK(stale.json().at("type").as_string() == "/problems/stale-version");
    CHECK(g.b->stack->writer().last_acked(p) == offset_of(position));
  }
  SUBCASE(
      "a new case with an Idempotency-Key: the retry through A and the one at B get the first "
      "answer") {
    auto first = g.a->post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "fwd-1"}});
    REQUIRE(first.status == 201);
    const auto location = first.header("location");
    REQUIRE(location.starts_with("/v1/cases/"));
    const auto new_id = location.substr(10);
    CHECK(g.record_at(first.header("caseline-position")).key == new_id);
    CHECK(g.a->stack->writer().last_acked(events::partition_for(new_id, 4)) == -1);
    auto via_a = g.a->post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "fwd-1"}});
    auto at_b = g.b->post("/v1/cases", receive_body, agent, {{"Idempotency-Key", "fwd-1"}});
    for (const auto* again : {&via_a, &at_b}) {
      CHECK(again->status == 201);
      CHECK(again->header("location") == location);
      CHECK(again->json().at("id") == first.json().at("id"));
      CHECK(again->header("idempotent-replayed") == "true");
      CHECK(again->header("caseline-position") == first.header("caseline-position"));
    }
  }
  SUBCASE("no owner known: 503 partition-moving with Retry-After, nothing written") {
    g.view->set_owner(std::nullopt);
    auto moving = g.a->post("/v1/cases/" + id + "/transfer", R"({"unit":"zz-transit"})", agent);
    CHECK(partition_moving(moving));
    CHECK(g.b->stack->writer().last_acked(p) == offset_of(position));
  }
  SUBCASE("the owner unreachable: 503 partition-moving") {
    g.view->set_owner("http://127.0.0.1:" + std::to_string(test::unused_port()));
    auto down = g.a->post("/v1/cases/" + id + "/transfer", R"({"unit":"zz-transit"})", agent);
    CHECK(partition_moving(down));
    CHECK(g.b->stack->writer().last_acked(p) == offset_of(position));
  }
  SUBCASE("a request forwarded once is never forwarded again") {
    auto loop = g.a->post("/v1/cases/" + id + "/transfer", R"({"unit":"zz-transit"})", agent,
                          {{"Caseline-Forwarded-By", "http://c.invalid:1"}});
    CHECK(partition_moving(loop));
    CHECK(g.b->stack->writer().last_acked(p) == offset_of(position));
  }
  SUBCASE("/metrics counts the forwarded requests by outcome; /readyz names what A writes") {
    g.view->set_owner(std::nullopt);
    CHECK(partition_moving(g.a->post("/v1/cases/" + id + "/transfer", "{}", agent)));
    auto m = g.a->get("/metrics", g.b->own.at("admin"));
    REQUIRE(m.status == 200);
    CHECK(m.body.find("caseline_forwarded_requests_total{outcome=\"answered\"} 1\n") !=
          std::string::npos);
    CHECK(m.body.find("caseline_forwarded_requests_total{outcome=\"no_owner\"} 1\n") !=
          std::string::npos);
    CHECK(m.body.find("caseline_forwarded_requests_total{outcome=\"unreachable\"} 0\n") !=
          std::string::npos);
    // Without a group the log has no group counters.
    CHECK(m.body.find("caseline_group_") == std::string::npos);
    auto ready_a = g.a->get("/readyz", "");
    REQUIRE(ready_a.status == 200);
    CHECK(ready_a.json().at("partitions").as_array().empty());
    CHECK(ready_a.json().at("group").is_null());
    auto ready_b = g.b->get("/readyz", "");
    CHECK(ready_b.json().at("partitions").as_array().size() == 4);
  }
}

TEST_CASE("Caseline-After: a read waits until this server applied the positions named") {
  two_servers g;
  const auto& agent = g.b->own.at("agent");
  const auto id = g.b->receive();
  // Written at B; read at A, whose runner applies the same log.
  auto w = g.b->post("/v1/cases/" + id + "/classify", classify_body, agent);
  REQUIRE(w.status == 200);
  const auto position = w.header("caseline-position");
  REQUIRE_FALSE(position.empty());
  auto r = read_after(*g.a, "/v1/cases/" + id, agent, position);
  REQUIRE(r.status == 200);
  CHECK(r.json().at("version") == w.json().at("version"));
  CHECK(r.json().at("category").as_string() == "complaint");

  SUBCASE("a position not reached in time is 503") {
    const auto p = events::partition_for(id, 4);
    auto late = read_after(*g.a, "/v1/cases/" + id, agent,
                           std::to_string(p()) + ":" + std::to_string(offset_of(position) + 1000));
    CHECK(late.status == 503);
    CHECK(late.json().at("type").as_string() == "/problems/not-ready");
  }
  SUBCASE("a malformed header is 400 naming it") {
    for (const char* bad : {"x", "0:1,9:1", "1:2:3"}) {
      auto refused = read_after(*g.a, "/v1/cases/" + id, agent, bad);
      CHECK(refused.status == 400);
      CHECK(refused.header("content-type") == "application/problem+json");
      CHECK(refused.json().at("detail").as_string().find("Caseline-After") != std::string::npos);
    }
  }
}

TEST_CASE("forwards reuse a kept-alive connection to the owner") {
  two_servers g;
  const auto& agent = g.b->own.at("agent");
  const auto& admin = g.b->own.at("admin");
  auto accepted_by_b = [&] {
    return metric(g.b->get("/metrics", admin).body, "caseline_connections_accepted_total");
  };
  const auto before = accepted_by_b();
  for (int i = 0; i < 3; ++i) {
    auto r = g.a->post("/v1/cases", receive_body, agent,
                       {{"Idempotency-Key", "keep-" + std::to_string(i)}});
    CHECK(r.status == 201);
  }
  // B accepted this scrape's connection and one from A, however many writes A forwarded.
  CHECK(accepted_by_b() - before == 2);
  const auto m = g.a->get("/metrics", admin).body;
  CHECK(metric(m, R"(caseline_forwarded_connections_total{kind="opened"})") == 1);
  CHECK(metric(m, R"(caseline_forwarded_connections_total{kind="reused"})") == 2);
  CHECK(metric(m, R"(caseline_forwarded_requests_total{outcome="answered"})") == 3);
}

TEST_CASE("an owner that does not answer in time: 503 owner-unreachable within the bound") {
  gateway::peer_options quick;
  quick.answer = std::chrono::milliseconds(1500);
  two_servers g(quick);
  const auto& agent = g.b->own.at("agent");
  const auto id = g.b->receive();
  silent_listener hung;
  g.view->set_owner("http://127.0.0.1:" + std::to_string(hung.port));
  const auto start = std::chrono::steady_clock::now();
  auto r = g.a->post("/v1/cases/" + id + "/transfer", R"({"unit":"zz-transit"})", agent,
                     {{"Idempotency-Key", "hung-1"}});
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == 503);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(r.json().at("type").as_string() == "/problems/owner-unreachable");
  CHECK(r.header("retry-after") == "1");
  // It says the write may have been made, and names no personal data (the body is not echoed).
  const std::string detail(r.json().at("detail").as_string());
  CHECK(detail.find("Idempotency-Key") != std::string::npos);
  CHECK(detail.find("zz-transit") == std::string::npos);
  CHECK(took >= std::chrono::milliseconds(1500));
  CHECK(took < std::chrono::milliseconds(4000));
  auto m = g.a->get("/metrics", g.b->own.at("admin")).body;
  CHECK(metric(m, R"(caseline_forwarded_requests_total{outcome="unanswered"})") == 1);
}

TEST_CASE("a kept-alive connection that fails unanswered is resent only when that is safe") {
  two_servers g;
  const auto& agent = g.b->own.at("agent");
  const auto& admin = g.b->own.at("admin");
  dropping_owner owner;
  g.view->set_owner("http://127.0.0.1:" + std::to_string(owner.port));
  const std::string target = "/v1/cases/410100-20250926-000001/classify";
  // The first forward opens the connection and it is kept.
  REQUIRE(g.a->post(target, classify_body, agent, {{"Idempotency-Key", "k-1"}}).status == 200);
  CHECK(owner.requests == 1);

  SUBCASE("with an Idempotency-Key: sent again on a fresh connection, the owner's answer") {
    auto r = g.a->post(target, classify_body, agent, {{"Idempotency-Key", "k-2"}});
    CHECK(r.status == 200);
    CHECK(owner.requests == 3);
    CHECK(owner.connections == 2);
    const auto m = g.a->get("/metrics", admin).body;
    CHECK(metric(m, R"(caseline_forwarded_connections_total{kind="resent"})") == 1);
    CHECK(metric(m, R"(caseline_forwarded_connections_total{kind="opened"})") == 2);
    CHECK(metric(m, R"(caseline_forwarded_connections_total{kind="reused"})") == 1);
  }
  SUBCASE("without one: never sent twice, 503 owner-unreachable") {
    auto r = g.a->post(target, classify_body, agent);
    CHECK(r.status == 503);
    CHECK(r.json().at("type").as_string() == "/problems/owner-unreachable");
    CHECK(owner.requests == 2);
    CHECK(owner.connections == 1);
    const auto m = g.a->get("/metrics", admin).body;
    CHECK(metric(m, R"(caseline_forwarded_connections_total{kind="resent"})") == 0);
  }
}

TEST_CASE("registry, calendar and token writes carry their position; reads elsewhere wait for it") {
  two_servers g;
  const auto& admin = g.b->own.at("admin");
  // Each write is sent to A, which writes nothing: B answers it, with the position of its record
  // in the log (the stream's key), and a read at A after that position shows it.
  auto written = [&](const reply& r, std::string_view stream) {
    auto position = r.header("caseline-position");
    REQUIRE_FALSE(position.empty());
    CHECK(g.record_at(position).key == stream);
    return position;
  };
  SUBCASE("PUT /v1/units/{id}") {
    auto r = test::request(
        g.a->port, "PUT", "/v1/units/zz-ferry",
        R"({"name":"Ferry","center":"410100","contact":{"name":"Li","mobile":"13700000001"}})",
        test_server::auth(admin));
    REQUIRE(r.status == 200);
    const auto position = written(r, "registry");
    // The centers list (A cannot open the contact, sealed under B's registry key until the data
    // keys are shared).
    auto read = read_after(*g.a, "/v1/centers", admin, position);
    REQUIRE(read.status == 200);
    bool listed = false;
    for (const auto& c : read.json().at("centers").as_array())
      for (const auto& u : c.as_object().at("units").as_array())
        listed = listed || u.as_string() == "zz-ferry";
    CHECK(listed);
  }
  SUBCASE("PUT /v1/calendar/{year}, and the same lines again") {
    auto put = [&] {
      return test::request(
          g.a->port, "PUT", "/v1/calendar/2027", caseline::testing::notice_2027,
          test_server::auth(admin, {{"Content-Type", "text/plain; charset=utf-8"}}));
    };
    auto r = put();
    REQUIRE(r.status == 201);
    const auto position = written(r, "calendar");
    auto read = read_after(*g.a, "/v1/calendar/2027", admin, position);
    REQUIRE(read.status == 200);
    CHECK(read.json().at("text").as_string() == caseline::testing::notice_2027);
    // Unchanged: nothing appended, and the position of the stream as the owner saw it.
    auto again = put();
    CHECK(again.status == 200);
    CHECK(again.header("caseline-position") == position);
  }
  SUBCASE("POST and DELETE /v1/admin/tokens") {
    auto r = g.a->post("/v1/admin/tokens", R"({"role":"analyst","center":"410100"})", admin);
    REQUIRE(r.status == 201);
    const std::string id(r.json().at("id").as_string());
    const auto issued = written(r, "tokens");
    auto listed = [&](const std::string& after) {
      auto l = read_after(*g.a, "/v1/admin/tokens", admin, after);
      REQUIRE(l.status == 200);
      for (const auto& t : l.json().at("tokens").as_array())
        if (t.as_object().at("id").as_string() == id) return true;
      return false;
    };
    CHECK(listed(issued));
    auto revoked =
        test::request(g.a->port, "DELETE", "/v1/admin/tokens/" + id, {}, test_server::auth(admin));
    REQUIRE(revoked.status == 204);
    const auto position = written(revoked, "tokens");
    CHECK(offset_of(position) > offset_of(issued));
    CHECK_FALSE(listed(position));
  }
}
