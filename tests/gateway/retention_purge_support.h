#pragma once

// What the Art. 38 purge's group tests share: a server of a group on the real broker the test
// command starts (server_stack, RocksDB in a temporary folder, manual clock), and a purge job
// started and followed over HTTP.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "projections/retention.h"
#include "tests/support/environment.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tools/serve.h"
#include "tools/token_cmd.h"

namespace caseline::test::purge {

using namespace std::chrono_literals;

inline constexpr std::int32_t partitions = 4;
inline constexpr const char* later = "2033-01-05";  // past 5 years from archiving today
inline constexpr const char* master_key_hex =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";  // one for the group

inline test::header_list bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

// The purge job `id` on the server at `address`, followed until it is no longer running.
inline boost::json::value followed(const std::string& address, const std::string& token,
                                   const std::string& id,
                                   std::chrono::milliseconds deadline = 120s) {
  boost::json::value done;
  REQUIRE(test::eventually(
      [&] {
        auto r =
            test::http_call(address, "GET", "/v1/admin/retention/purge/" + id, "", bearer(token));
        REQUIRE_MESSAGE(r.status == 200, r.body);
        done = boost::json::parse(r.body);
        return done.at("status").as_string() != "running";
      },
      deadline));
  return done;
}

// Starts a purge as of `later` on the server at `address`; the job's id.
inline std::string started_purge(const std::string& address, const std::string& token) {
  auto started = test::http_call(address, "POST", "/v1/admin/retention/purge",
                                 std::string(R"({"as_of":")") + later + R"("})", bearer(token));
  REQUIRE_MESSAGE(started.status == 202, started.body);
  return std::string(boost::json::parse(started.body).at("id").as_string());
}

// Starts a purge on the server at `address` and follows it until it is no longer running.
inline boost::json::value purged_through(const std::string& address, const std::string& token) {
  return followed(address, token, started_purge(address, token));
}

// Moves the manual clock of the server at `address` past the text's retention.
inline void clock_to_later(const std::string& address, const std::string& token) {
  REQUIRE(test::eventually(
      [&] {
        return test::http_call(address, "POST", "/v1/admin/clock",
                               std::string(R"({"now":")") + later + R"(T10:00:00+08:00"})",
                               bearer(token))
                   .status == 200;
      },
      30s));
}

// The partitions the server at `address` writes now (its /readyz); none when it does not answer.
inline std::vector<std::int64_t> writes(const std::string& address) {
  auto r = test::http_call(address, "GET", "/readyz", "", {});
  std::vector<std::int64_t> out;
  if (r.status != 200) return out;
  const auto ready = boost::json::parse(r.body);  // kept: the loop reads into it
  for (const auto& p : ready.at("partitions").as_array())
    out.push_back(p.to_number<std::int64_t>());
  return out;
}

// Both servers answer /readyz and write all the partitions between them, each some.
inline bool split_between(const std::string& a, const std::string& b) {
  const auto wa = writes(a);
  const auto wb = writes(b);
  return !wa.empty() && !wb.empty() && wa.size() + wb.size() == partitions;
}

// Of the retention trail (the log's purge events, as applied): the cases with a text_shredded
// event, and those with more than one.
struct shred_count {
  std::size_t cases{0};
  std::size_t twice{0};
};
inline shred_count shreds_of(const projections::retention_audit& a) {
  std::map<std::string, int> per_case;
  for (const auto& h : a.history)
    if (h.kind == "text_shredded") ++per_case[h.case_id];
  shred_count out{per_case.size(), 0};
  for (const auto& [c, n] : per_case) out.twice += n == 1 ? 0 : 1;
  return out;
}

// One server of a group, in this process.
struct member {
  std::string topic;
  std::string group;
  test::temp_dir dir;
  std::string address;
  std::unique_ptr<tools::server_stack> stack;

  // The first server of a new group, its topic and group named after `name`: once it writes
  // every partition (it is alone).
  explicit member(const std::string& name)
      : member(test::unique_topic(name), test::unique_topic(name + "-group")) {
    REQUIRE(test::eventually([&] { return writes().size() == partitions; }, 60s));
  }
  // A server of the group `group_name` on `topic_name`: another one is `member b(a.topic,
  // a.group)`.
  member(std::string topic_name, std::string group_name)
      : topic(std::move(topic_name)), group(std::move(group_name)) {
    tools::serve_options o;
    o.store.data_dir = dir.path().string();
    o.store.kafka = test::kafka_bootstrap();
    o.store.topic = topic;
    o.store.partitions = partitions;
    o.store.calendar_file = test::source_dir() + "/core/data/cn-workdays.txt";
    o.store.master_key_hex = master_key_hex;
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
  std::vector<std::int64_t> writes() const { return purge::writes(address); }
  // A token made through this server, which must write the tokens' partition: its secret.
  std::string token(const std::string& role, const std::string& center) {
    auto t = stack->create_token({role, center, "", std::nullopt});
    REQUIRE_MESSAGE(t, (t ? "" : t.error().message()));
    return t.value().secret;
  }
  projections::retention_audit audit() {
    auto a = projections::audit_retention(stack->store(), {}, *civil_date::parse(later),
                                          &stack->blobs(), &stack->keys());
    REQUIRE_MESSAGE(a, (a ? "" : a.error().message()));
    return std::move(a).value();
  }
};

}  // namespace caseline::test::purge
