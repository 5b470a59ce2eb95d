#pragma once

// A real server (server_stack: embedded log, RocksDB in a temporary folder, manual clock) on
// 127.0.0.1:0 and tokens for every role, reached with the tests' HTTP client
// (tests/support/http_client.h). No mocks.

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
#include "tests/support/environment.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tools/rebuild_cmd.h"
#include "tools/serve.h"
#include "tools/token_cmd.h"

namespace caseline::gwtest {

namespace json = boost::json;

using reply = test::http_reply;
using test::connect_to;
using test::eventually;
using test::header_list;
using test::parse_reply;
using test::raw_request;
using test::read_until_close;
using test::request;
using test::send_all;
using test::source_dir;
using test::temp_dir;

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

  // The server's log: open_log(options) unless a test opens its own (a log it observes).
  std::function<std::unique_ptr<events::event_log>(const tools::serve_options&)> open_log;

  explicit test_server(std::function<void(tools::serve_options&)> tweak = {},
                       decltype(open_log) log = {})
      : open_log(std::move(log)) {
    start(tweak);
  }

  void start(const std::function<void(tools::serve_options&)>& tweak = {}) {
    tools::serve_options o;
    o.store.data_dir = dir.path().string();
    o.store.partitions = 4;
    o.store.calendar_file = source_dir() + "/core/data/cn-workdays.txt";
    o.listen = "127.0.0.1:0";
    o.clock = "manual";
    o.token_rate = {1000, 5000};
    if (tweak) tweak(o);
    const bool manual = o.clock == "manual";
    auto s = tools::server_stack::open(o, open_log ? open_log(o) : nullptr);
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
  ro.store.data_dir = s.dir.path().string();
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
