// The Art. 38 purge in a group, on the real broker the test command starts: two servers in one
// consumer group, each writing some of the topic's partitions (server_stack, RocksDB in temporary
// folders, manual clocks). A purge asked of either server is done partition by partition by each
// partition's owner, and every server drops every shredded key (the owners' tombstones).
#include "gateway/api.h"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "projections/retention.h"
#include "tests/support/environment.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tools/bench_purge.h"
#include "tools/serve.h"
#include "tools/token_cmd.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

constexpr std::int32_t partitions = 4;
constexpr std::uint64_t per_server = 60;
constexpr const char* later = "2033-01-05";  // past 5 years from archiving today

test::header_list bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

// Starts a purge on the server at `address` and follows it until it is no longer running.
boost::json::value purged_through(const std::string& address, const std::string& token) {
  auto started = test::http_call(address, "POST", "/v1/admin/retention/purge",
                                 std::string(R"({"as_of":")") + later + R"("})", bearer(token));
  REQUIRE_MESSAGE(started.status == 202, started.body);
  const auto id = std::string(boost::json::parse(started.body).at("id").as_string());
  boost::json::value done;
  REQUIRE(test::eventually(
      [&] {
        auto r =
            test::http_call(address, "GET", "/v1/admin/retention/purge/" + id, "", bearer(token));
        REQUIRE(r.status == 200);
        done = boost::json::parse(r.body);
        return done.at("status").as_string() != "running";
      },
      120s));
  return done;
}

struct member {
  test::temp_dir dir;
  std::string address;
  std::unique_ptr<tools::server_stack> stack;

  member(const std::string& topic, const std::string& group) {
    tools::serve_options o;
    o.store.data_dir = dir.path().string();
    o.store.kafka = test::kafka_bootstrap();
    o.store.topic = topic;
    o.store.partitions = partitions;
    o.store.calendar_file = test::source_dir() + "/core/data/cn-workdays.txt";
    o.store.master_key_hex = std::string(64, 'a');  // one master key for the group
    o.store.group = group;
    o.store.group_session_timeout = std::chrono::seconds(6);
    address = "127.0.0.1:" + std::to_string(test::unused_port());
    o.listen = address;
    o.store.advertise = "http://" + address;
    o.clock = "manual";
    o.token_rate = {1000, 5000};
    o.checkpoint_interval = std::chrono::minutes(0);
    auto s = tools::server_stack::open(o);
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    stack = std::move(s).value();
  }
  std::vector<std::int64_t> writes() const {
    auto r = test::http_call(address, "GET", "/readyz", "", {});
    std::vector<std::int64_t> out;
    if (r.status != 200) return out;
    const auto ready = boost::json::parse(r.body);  // kept: the loop reads into it
    for (const auto& p : ready.at("partitions").as_array())
      out.push_back(p.to_number<std::int64_t>());
    return out;
  }
  projections::retention_audit audit() {
    auto a = projections::audit_retention(stack->store(), {}, *civil_date::parse(later),
                                          &stack->blobs(), &stack->keys());
    REQUIRE_MESSAGE(a, (a ? "" : a.error().message()));
    return std::move(a).value();
  }
};

}  // namespace

TEST_CASE(
    "a purge asked of either server is done by each partition's owner, and every server "
    "drops the shredded keys") {
  const auto topic = test::unique_topic("purge");
  const auto group = test::unique_topic("purge-group");
  member a(topic, group);
  REQUIRE(test::eventually([&] { return a.writes().size() == partitions; }, 60s));
  // Before the second server joins, the first writes the tokens' partition: the admin token.
  auto admin = a.stack->create_token({"admin", "410000", "", std::nullopt});
  REQUIRE_MESSAGE(admin, (admin ? "" : admin.error().message()));
  const auto token = admin.value().secret;
  member b(topic, group);
  REQUIRE(test::eventually(
      [&] {
        const auto wa = a.writes();
        const auto wb = b.writes();
        return !wa.empty() && !wb.empty() && wa.size() + wb.size() == partitions;
      },
      90s));
  // Each server receives and archives cases in its own partitions; both clocks move past the
  // text's retention (each owner decides by its own clock).
  for (auto* m : {&a, &b}) {
    auto seeded = tools::seed_archived_cases(m->stack->writer(), per_server, "410100");
    REQUIRE_MESSAGE(seeded, (seeded ? "" : seeded.error().message()));
    REQUIRE(test::eventually(
        [&] {
          return test::http_call(m->address, "POST", "/v1/admin/clock",
                                 std::string(R"({"now":")") + later + R"(T10:00:00+08:00"})",
                                 bearer(token))
                     .status == 200;
        },
        30s));
  }
  REQUIRE(test::eventually([&] { return a.audit().eligible == 2 * per_server; }, 30s));
  REQUIRE(test::eventually([&] { return b.audit().eligible == 2 * per_server; }, 30s));

  // Asked of the second server: it purges its partitions and asks the first for the others.
  auto done = purged_through(b.address, token);
  CHECK_MESSAGE(done.at("status").as_string() == "done", boost::json::serialize(done));
  CHECK(done.at("purged").to_number<std::uint64_t>() == 2 * per_server);
  CHECK(done.at("failed").to_number<std::uint64_t>() == 0);
  CHECK(done.at("partitions_done").as_array().size() == partitions);
  CHECK(done.at("partitions_not_done").as_array().empty());

  // Every server: every case purged, its key gone (the audit names a shredded case whose key
  // remains), the owner's tombstone applied by the other.
  for (auto* m : {&a, &b})
    CHECK(test::eventually(
        [&] {
          const auto audit = m->audit();
          return audit.purged == 2 * per_server && audit.ok();
        },
        60s));

  // Asked again, of the other server: nothing is purged twice.
  done = purged_through(a.address, token);
  CHECK(done.at("status").as_string() == "done");
  CHECK(done.at("purged").to_number<std::uint64_t>() == 0);
  CHECK(done.at("partitions_done").as_array().size() == partitions);
  b.stack.reset();  // leaves the group first
  a.stack.reset();
}
