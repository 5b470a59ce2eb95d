#include "events/log_reader.h"

#include <doctest/doctest.h>

#include "core/codec.h"
#include "core/errc.h"
#include "events/checkpoint.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "tests/events/event_log_test_support.h"
#include "tests/support/temp_dir.h"

// The log-reading library against a real embedded log (RocksDB in a temporary folder): the
// decode pipeline and its typed errors, the hash chain written by link_next and checked by
// verify_case / verify_log, and checkpoints.

namespace {

using namespace caseline;
using namespace caseline::events;
using caseline::events::testing::ack_collector;
using caseline::events::testing::read_all;

constexpr std::int32_t partitions = 2;

struct log_dir {
  std::unique_ptr<event_log> open() {
    auto log = open_embedded_log({.dir = (dir.path() / "log").string(), .partitions = partitions});
    REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
    return std::move(log).value();
  }
  caseline::test::temp_dir dir;
};

// Appends each (key, value) in order and waits for all; their positions.
std::vector<log_position> append(event_log& log,
                                 const std::vector<std::pair<std::string, std::string>>& records) {
  std::vector<log_position> out;
  for (const auto& [key, value] : records) {
    ack_collector acks;
    acks.append(log, key, value);
    auto a = acks.wait_for(1);
    REQUIRE(a.front().outcome.has_value());
    out.push_back(a.front().outcome.value());
  }
  return out;
}

// A case's stream as a writer builds it: every event linked to the previous one.
struct stream_writer {
  explicit stream_writer(std::string stream) : id(std::move(stream)) {}

  // The envelope of the next event (a legal hold placed, a real case event body), unlinked.
  envelope next_envelope(const std::string& reason) const {
    return new_event(case_id{id}, core::encode(core::event{core::legal_hold_placed{
                                      reason, civil_date{2026, 11, 29}, user_id{"supervisor-1"}}}));
  }
  // A record holding the next event, linked.
  std::string next(const std::string& reason) {
    envelope env = next_envelope(reason);
    record rec;
    rec.events.push_back(link_next(env, sequence++, last_hash));
    return encode_record(rec);
  }

  std::string id;
  std::uint64_t sequence{0};
  std::string last_hash;
};

const std::string case_a = "410100-20261129-000001";

}  // namespace

TEST_CASE("link_next numbers and links each event after the previous one") {
  stream_writer w(case_a);
  envelope first = w.next_envelope("one");
  const std::string bytes1 = link_next(first, 0, w.last_hash);
  CHECK(first.sequence() == 1);
  CHECK(first.event_id == case_a + "#1");
  CHECK(first.prev_hash.empty());
  CHECK(w.last_hash == sha256(bytes1));

  envelope second = w.next_envelope("two");
  const std::string bytes2 = link_next(second, 1, w.last_hash);
  CHECK(second.sequence() == 2);
  CHECK(second.prev_hash == sha256(bytes1));
  CHECK(w.last_hash == sha256(bytes2));

  CHECK_FALSE(follows(0, "", first).has_value());
  CHECK_FALSE(follows(1, sha256(bytes1), second).has_value());
  CHECK(follows(2, sha256(bytes2), second) == chain_fault::repeated);
  CHECK(follows(0, "", second) == chain_fault::missing);
  CHECK(follows(1, sha256(bytes2), second) == chain_fault::hash);
}

TEST_CASE("each layer of a record that does not decode is a typed error at its position") {
  log_dir d;
  auto log = d.open();
  stream_writer w(case_a);
  const std::string good = w.next("one");
  // A record whose second event's envelope is garbage.
  record torn = decode_record(good).value();
  torn.events.emplace_back("not an envelope");
  // A record whose event has a body of an unknown type.
  envelope unknown = w.next_envelope("two");
  unknown.type_id = 999;
  std::string ignored_hash;
  record odd;
  odd.events.push_back(link_next(unknown, 0, ignored_hash));
  const auto pos = append(*log, {{case_a, "not a caseline record"},
                                 {case_a, encode_record(torn)},
                                 {case_a, encode_record(odd)},
                                 {case_a, good}});
  const auto recs = read_all(*log, pos.front().partition);
  REQUIRE(recs.size() == 4);

  SUBCASE("record") {
    auto r = record_events::decode(recs[0]);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().stage == decode_stage::record);
    CHECK(r.error().position == pos[0]);
    CHECK(r.error().cause.code == errc::corrupt_record);
    const error e = r.error().to_error();
    CHECK(e.code == errc::corrupt_record);
    CHECK(e.detail == "partition " + std::to_string(pos[0].partition()) +
                          " offset 0: " + r.error().cause.detail);
  }
  SUBCASE("envelope") {
    auto r = record_events::decode(recs[1]);
    REQUIRE(r.has_value());
    REQUIRE(r.value().size() == 2);
    CHECK(r.value().event(0).has_value());
    auto bad = r.value().event(1);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().stage == decode_stage::envelope);
    CHECK(bad.error().position == pos[1]);
    CHECK(bad.error().index == 1);
    CHECK(bad.error().cause.code == errc::corrupt_record);
  }
  SUBCASE("body") {
    auto r = record_events::decode(recs[2]);
    REQUIRE(r.has_value());
    auto e = r.value().event(0);
    REQUIRE(e.has_value());
    auto body = decode_body(e.value());
    REQUIRE_FALSE(body.has_value());
    CHECK(body.error().stage == decode_stage::body);
    CHECK(body.error().event_id == case_a + "#1");
    CHECK(body.error().cause.code == core::errc::undecodable_event);
    CHECK(body.error().to_error().detail.find(" event " + case_a + "#1: ") != std::string::npos);
    CHECK_FALSE(decode_case_event(e.value()).has_value());
  }
  SUBCASE("a good record decodes through every layer") {
    auto r = record_events::decode(recs[3]);
    REQUIRE(r.has_value());
    auto e = r.value().event(0);
    REQUIRE(e.has_value());
    CHECK(e.value().position == pos[3]);
    CHECK(e.value().stored_bytes == decode_record(good).value().events.at(0));
    auto body = decode_body(e.value());
    REQUIRE(body.has_value());
    const auto* ev = std::get_if<core::event>(&body.value());
    REQUIRE(ev != nullptr);
    CHECK(std::get<core::legal_hold_placed>(*ev).reason == "one");
  }
  SUBCASE("a checkpoint is not a record of events") {
    checkpointer cp(*log);
    REQUIRE(cp.tick().has_value());
    const auto all = read_all(*log, pos.front().partition);
    REQUIRE(is_checkpoint(all.back().value));
    auto r = record_events::decode(all.back());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().stage == decode_stage::record);
  }
}

TEST_CASE("a good chain verifies, with its checkpoints") {
  log_dir d;
  auto log = d.open();
  stream_writer w(case_a);
  append(*log, {{case_a, w.next("one")}, {case_a, w.next("two")}});
  checkpointer cp(*log);
  REQUIRE(cp.tick().has_value());
  append(*log, {{case_a, w.next("three")}});

  auto c = verify_case(*log, case_a, true);
  REQUIRE(c.has_value());
  CHECK_FALSE(c.value().problem.has_value());
  CHECK(c.value().events_in_log == 3);
  REQUIRE(c.value().events.size() == 3);
  CHECK(c.value().events[2].env.event_id == case_a + "#3");
  CHECK(c.value().events[2].hash == to_hex(w.last_hash));
  CHECK(c.value().checkpoints_verified == 1);
  CHECK(c.value().uncovered_records == 1);

  auto l = verify_log(*log);
  REQUIRE(l.has_value());
  CHECK(l.value().clean());
  CHECK(l.value().events == 3);
  CHECK(l.value().streams == 1);
  CHECK(l.value().checkpoints == 1);
  REQUIRE(l.value().anchors.size() == 1);
}

TEST_CASE("a broken chain is found at the event that breaks it") {
  log_dir d;
  auto log = d.open();
  stream_writer w(case_a);
  std::vector<std::pair<std::string, std::string>> records{{case_a, w.next("one")},
                                                           {case_a, w.next("two")}};
  SUBCASE("an edited link") {
    envelope env = w.next_envelope("three");
    std::string wrong = "not the previous hash";
    record rec;
    rec.events.push_back(link_next(env, w.sequence, wrong));
    records.emplace_back(case_a, encode_record(rec));
    const auto pos = append(*log, records);

    auto c = verify_case(*log, case_a, false);
    REQUIRE(c.has_value());
    REQUIRE(c.value().problem.has_value());
    CHECK(c.value().problem->event_id == case_a + "#3");
    CHECK(c.value().problem->sequence == 3);
    CHECK(c.value().problem->position == pos[2]);
    CHECK(c.value().events.size() == 2);  // the good ones before it

    auto l = verify_log(*log);
    REQUIRE(l.has_value());
    CHECK(l.value().chain.count == 1);
    CHECK(l.value().chain.first.find("event " + case_a + "#3 (sequence 3, partition " +
                                     std::to_string(pos[2].partition()) + " offset 2)") == 0);
    CHECK(l.value().events == 2);
  }
  SUBCASE("a missing event") {
    w.next("three");  // written by the writer, never in the log
    records.emplace_back(case_a, w.next("four"));
    const auto pos = append(*log, records);

    auto c = verify_case(*log, case_a, false);
    REQUIRE(c.has_value());
    REQUIRE(c.value().problem.has_value());
    CHECK(c.value().problem->event_id == case_a + "#4");
    CHECK(c.value().problem->position == pos[2]);
    CHECK(c.value().problem->what.find("event " + case_a + "#3 is missing") != std::string::npos);
  }
  SUBCASE("an event moved under another key") {
    records.emplace_back("410100-20261129-000002", w.next("three"));
    append(*log, records);

    auto l = verify_log(*log);
    REQUIRE(l.has_value());
    CHECK_FALSE(l.value().clean());
    CHECK(l.value().chain.count == 1);
    CHECK(l.value().chain.first.find("it belongs to " + case_a) != std::string::npos);
  }
}

TEST_CASE("a forged checkpoint does not verify") {
  log_dir d;
  auto log = d.open();
  stream_writer w(case_a);
  const auto pos = append(*log, {{case_a, w.next("one")}, {case_a, w.next("two")}});
  const partition_id p = pos.front().partition;
  ack_collector acks;
  const std::string forged =
      encode_checkpoint(checkpoint{p, log_offset{1}, std::string(32, 'x'), {}});
  log->append_to(p, "caseline.checkpoint", forged, acks.handler("caseline.checkpoint", forged));
  REQUIRE(acks.wait_for(1).front().outcome.has_value());

  checkpoint_verifier v(p);
  std::optional<std::string> problem;
  for (const auto& r : read_all(*log, p))
    if (auto o = v.add(r); o.problem) problem = o.problem;
  REQUIRE(problem.has_value());
  CHECK(problem->find("does not match the records") != std::string::npos);
  CHECK(v.verified() == 0);

  auto l = verify_log(*log);
  REQUIRE(l.has_value());
  CHECK(l.value().checkpoint.count == 1);
  CHECK(l.value().chain.count == 0);
}
