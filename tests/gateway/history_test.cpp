// GET /v1/cases/{id}/events answers from the case projection (its copy of the log's events), on
// both logs: the answer is the one decoded from the log directly, and on Kafka it is given
// without a single read of the log.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <rocksdb/db.h>

#include "events/log_reader.h"
#include "events/storage/scan.h"
#include "gateway/auth.h"
#include "gateway/case_json.h"
#include "projections/personal_data.h"
#include "projections/row_keys.h"
#include "projections/store.h"
#include "tests/gateway/gateway_test_support.h"

namespace caseline::gwtest {
namespace {

// The server's real log, every read and end offset of it counted: how a test sees that the
// history route leaves the log alone. Everything else is the inner log's.
class counting_log final : public events::event_log {
 public:
  explicit counting_log(std::unique_ptr<events::event_log> inner) : inner_(std::move(inner)) {}

  std::uint64_t reads() const { return reads_.load(); }

  std::int32_t partition_count() const override { return inner_->partition_count(); }
  void append(std::string key, std::string value, append_handler handler) override {
    inner_->append(std::move(key), std::move(value), std::move(handler));
  }
  void append_to(events::partition_id p, std::string key, std::string value,
                 append_handler handler) override {
    inner_->append_to(p, std::move(key), std::move(value), std::move(handler));
  }
  result<std::vector<events::log_record>> read(events::partition_id p, events::log_offset from,
                                               std::size_t max_records,
                                               std::chrono::milliseconds wait) override {
    ++reads_;
    return inner_->read(p, from, max_records, wait);
  }
  result<events::log_offset> end_offset(events::partition_id p) override {
    ++reads_;
    return inner_->end_offset(p);
  }
  result<std::unique_ptr<events::subscription>> subscribe(events::start_offsets from,
                                                          batch_handler handler) override {
    return inner_->subscribe(std::move(from), std::move(handler));
  }
  result<void> flush(std::chrono::milliseconds timeout) override { return inner_->flush(timeout); }
  result<void> check() override { return inner_->check(); }

 private:
  std::unique_ptr<events::event_log> inner_;
  std::atomic<std::uint64_t> reads_{0};
};

// The history of case `id` as the route rendered it before it had a projection: every event of
// the case decoded from its partition of the log, its personal fields opened as the route does.
std::string history_from_log(events::event_log& log, projections::personal_data& privacy,
                             const std::string& id, const std::string& role) {
  json::array out;
  bool shredded = false;
  const auto p = events::partition_for(id, log.partition_count());
  auto scanned =
      events::scan_events(log, p, [&](const events::logged_event& e, const events::typed_event& t) {
        if (e.env.case_id() != id || !std::holds_alternative<core::event>(t)) return true;
        core::event ev = std::get<core::event>(t);
        auto opened = privacy.open(case_id{id}, e.env.event_id, ev);
        REQUIRE(opened.has_value());
        shredded = shredded || !opened.value();
        gateway::json_writer w;
        gateway::write_event(
            w, e.env, ev,
            gateway::personal_view{!gateway::sees_phone(*gateway::parse_role(role)),
                                   !opened.value()});
        out.emplace_back(json::parse(w.take()));
        return true;
      });
  REQUIRE_MESSAGE(scanned.has_value(), (scanned ? std::string{} : scanned.error().message()));
  return json::serialize(json::object{{"case_id", id},
                                      {"personal_data", shredded ? "shredded" : "available"},
                                      {"events", std::move(out)}});
}

// Cases with histories of one command and of several (a command's events share one record).
std::vector<std::string> cases_with_histories(test_server& s, int n) {
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    ids.push_back(i % 2 == 0 ? s.transferred()
                             : s.receive(true, "1380000" + std::to_string(1000 + i)));
  }
  return ids;
}

void check_histories(test_server& s, events::event_log& log, const std::vector<std::string>& ids) {
  for (const std::string role : {"agent", "quality_inspector"}) {  // the number shown, masked
    for (const auto& id : ids) {
      auto r = s.get("/v1/cases/" + id + "/events", s.own.at(role));
      REQUIRE(r.status == 200);
      CHECK(json::serialize(r.json()) == history_from_log(log, s.stack->privacy(), id, role));
    }
  }
}

// Opens the server's log as it would, counted; `log` is set to it.
auto counted(counting_log*& log) {
  return [&log](const tools::serve_options& o) -> std::unique_ptr<events::event_log> {
    auto inner = tools::open_log(o.store);
    REQUIRE_MESSAGE(inner.has_value(), (inner ? std::string{} : inner.error().message()));
    auto c = std::make_unique<counting_log>(std::move(inner).value());
    log = c.get();
    return c;
  };
}

void kafka_server(tools::serve_options& o, const std::string& topic) {
  o.store.kafka = test::kafka_bootstrap();
  o.store.topic = topic;
  o.checkpoint_interval = std::chrono::minutes(0);  // no reads of the log but the route's
}

}  // namespace

TEST_CASE("a case's history is the one decoded from the log, byte for byte") {
  SUBCASE("embedded log") {
    counting_log* log = nullptr;
    test_server s({}, counted(log));
    const auto ids = cases_with_histories(s, 6);
    check_histories(s, *log, ids);

    SUBCASE("and after a restart on a store of the layout before, which the open rebuilds") {
      s.stack.reset();
      {
        auto st = projections::store::open(s.dir.sub("store"));
        REQUIRE(st.has_value());
        rocksdb::DB& db = st.value()->db();
        auto* cf = st.value()->cf(projections::family::case_events);
        REQUIRE(db.Delete(rocksdb::WriteOptions(), db.DefaultColumnFamily(), "layout").ok());
        // The rows as they were: each event's location alone.
        std::vector<std::pair<std::string, std::string>> old;
        REQUIRE(storage::scan(db, cf, {}, "old rows", [&](auto k, auto v) {
                  old.emplace_back(std::string(k), std::string(v.substr(0, 16)));
                  return storage::scan_step::next;
                }).has_value());
        REQUIRE_FALSE(old.empty());
        for (const auto& [k, v] : old) REQUIRE(db.Put(rocksdb::WriteOptions(), cf, k, v).ok());
      }
      s.restart();
      check_histories(s, *log, ids);
    }
  }
  SUBCASE("Kafka") {
    const std::string topic = test::unique_topic("history");
    counting_log* log = nullptr;
    test_server s([&](tools::serve_options& o) { kafka_server(o, topic); }, counted(log));
    const auto ids = cases_with_histories(s, 6);
    check_histories(s, *log, ids);
  }
}

TEST_CASE("a case whose history rows are missing from the store answers 500, never 404") {
  test_server s;
  const auto ids = cases_with_histories(s, 2);
  const std::string& damaged = ids.front();
  s.stack.reset();
  {
    auto st = projections::store::open(s.dir.sub("store"));
    REQUIRE(st.has_value());
    rocksdb::DB& db = st.value()->db();
    auto* cf = st.value()->cf(projections::family::case_events);
    std::vector<std::string> keys;
    REQUIRE(storage::scan(db, cf, {projections::keys::case_history::prefix(damaged), {}, {}, true},
                          "history rows",
                          [&](auto k, auto) {
                            keys.emplace_back(k);
                            return storage::scan_step::next;
                          })
                .has_value());
    REQUIRE_FALSE(keys.empty());
    for (const auto& k : keys) REQUIRE(db.Delete(rocksdb::WriteOptions(), cf, k).ok());
  }
  s.restart();
  auto r = s.get("/v1/cases/" + damaged + "/events", s.own.at("agent"));
  CHECK(r.status == 500);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(r.json().at("type").as_string().ends_with("/internal"));
  // The case itself, the other case's history and a case that does not exist answer as before.
  CHECK(s.get("/v1/cases/" + damaged, s.own.at("agent")).status == 200);
  CHECK(s.get("/v1/cases/" + ids.back() + "/events", s.own.at("agent")).status == 200);
  CHECK(s.get("/v1/cases/" + damaged + "/events", s.other.at("agent")).status == 404);
  auto missing = s.get("/v1/cases/410100-20250926-999999/events", s.own.at("agent"));
  CHECK(missing.status == 404);
  auto m = s.get("/metrics", s.own.at("analyst"));
  REQUIRE(m.status == 200);
  CHECK(m.body.find("caseline_integrity_failures_total 1\n") != std::string::npos);
}

TEST_CASE("on Kafka, twenty histories are answered without reading the log") {
  const std::string topic = test::unique_topic("history-reads");
  counting_log* log = nullptr;
  test_server s([&](tools::serve_options& o) { kafka_server(o, topic); }, counted(log));
  const auto ids = cases_with_histories(s, 20);
  const std::uint64_t before = log->reads();
  for (const auto& id : ids) {
    auto r = s.get("/v1/cases/" + id + "/events", s.own.at("agent"));
    REQUIRE(r.status == 200);
    CHECK(r.json().at("events").as_array().size() >= 1);
    CHECK(log->reads() == before);
  }
  // The counter sees reads: the same log read directly counts.
  auto end = log->end_offset(events::partition_for(ids.front(), log->partition_count()));
  REQUIRE(end.has_value());
  CHECK(log->reads() == before + 1);
}

TEST_CASE("on Kafka the projections take each poll whole, and nothing is counted as read back") {
  // The server's own Kafka log (a burst source), not a counting wrapper: its projection runner
  // takes each poll of every partition in one batch.
  const std::string topic = test::unique_topic("history-bursts");
  test_server s([&](tools::serve_options& o) { kafka_server(o, topic); });
  const auto ids = cases_with_histories(s, 8);
  for (const auto& id : ids) {
    auto r = s.get("/v1/cases/" + id + "/events", s.own.at("agent"));
    REQUIRE(r.status == 200);
    CHECK(r.json().at("events").as_array().size() >= 1);
  }
  auto m = s.get("/metrics", s.own.at("analyst"));
  REQUIRE(m.status == 200);
  CHECK(m.body.find("caseline_projection_events_applied_total") != std::string::npos);
  // That counter is the embedded log's: a Kafka consumer reads nothing back.
  CHECK(m.body.find("caseline_log_records_read_back_total") == std::string::npos);
  // Without a group, the key store syncs new cases' keys itself (before their records are
  // produced); nothing is journaled.
  const auto value_of = [&m](const std::string& name) -> std::optional<double> {
    const auto at = m.body.find("\n" + name + " ");
    if (at == std::string::npos) return std::nullopt;
    return std::stod(m.body.substr(at + name.size() + 2));
  };
  CHECK(value_of(R"(caseline_key_store_syncs_total{of="new_keys"})").value_or(0) >= 8);
  CHECK(value_of(R"(caseline_key_store_syncs_total{of="journaled_keys"})") == 0.0);
}

}  // namespace caseline::gwtest
