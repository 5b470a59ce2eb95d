// Tamper evidence end to end: case histories written by the real write side on the embedded log,
// checkpoints by the real checkpointer, then the log's RocksDB altered directly (edit, insert,
// delete, reorder, checkpoint rewrite); `caseline replay` and `caseline audit verify` (their
// library functions) must name the first bad event and exit non-zero, and pass untampered.
#include "tools/replay_cmd.h"

#include <sstream>

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>

#include "events/checkpoint.h"
#include "tests/audit/audit_test_support.h"
#include "tools/audit_cmd.h"

namespace {

using namespace caseline;
using namespace caseline::audit_testing;

constexpr std::int32_t partitions = 4;

struct outcome {
  int code;
  std::string out;
  std::string err;
};

outcome replay(const std::filesystem::path& dir, const std::string& id, bool verify,
               const std::string& as_of = {}, const std::string& format = "text") {
  tools::replay_options o;
  o.store.data_dir = dir.string();
  o.store.partitions = partitions;
  o.case_id = id;
  o.verify = verify;
  o.as_of = as_of;
  o.format = format;
  o.now = local("2025-03-20T12:00");
  std::ostringstream out, err;
  const int code = tools::run_replay(o, out, err);
  return {code, out.str(), err.str()};
}

outcome audit(const std::filesystem::path& dir) {
  tools::audit_options o;
  o.store.data_dir = dir.string();
  o.store.partitions = partitions;
  std::ostringstream out, err;
  const int code = tools::run_audit_verify(o, out, err);
  return {code, out.str(), err.str()};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Three cases, each: received, classified, transferred, replied; a checkpoint after the first
// and after the last, so that every partition with records ends with one.
struct written_log {
  temp_dir dir;
  std::string a, b, c;

  written_log() {
    history h(dir.path(), partitions);
    events::checkpointer cp(h.log());
    a = h.one_case("the bus skipped the stop", "2025-03-03");
    REQUIRE(cp.tick().has_value());
    b = h.one_case("the taxi refused a fare", "2025-03-04");
    c = h.one_case("the ferry left early", "2025-03-05");
    auto t = cp.tick();
    REQUIRE_MESSAGE(t.has_value(), (t ? std::string{} : t.error().message()));
    // The projection went past every checkpoint record without failing.
    h.catch_up();
    REQUIRE_FALSE(h.runner().failure().has_value());
  }

  std::int32_t partition_of(const std::string& id) const {
    return events::partition_for(id, partitions)();
  }
};

// Offsets of the records of `id` in its partition (in order), and of the checkpoint records.
struct layout {
  std::vector<std::int64_t> of_case;
  std::vector<std::int64_t> checkpoints;
};

layout find(raw_log& raw, std::int32_t p, const std::string& id) {
  layout l;
  for (std::int64_t o = 0, n = raw.end(p); o < n; ++o) {
    const std::string v = raw.get(p, o);
    const auto stored = events::embedded_layout::record_value::decode(v);
    REQUIRE(stored.has_value());
    if (events::is_checkpoint(stored.value().bytes))
      l.checkpoints.push_back(o);
    else if (stored.value().key == id)
      l.of_case.push_back(o);
  }
  return l;
}

void replace_in(raw_log& raw, std::int32_t p, std::int64_t o, const std::string& from,
                const std::string& to) {
  std::string v = raw.get(p, o);
  const auto at = v.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(from.size() == to.size());
  v.replace(at, from.size(), to);
  raw.put(p, o, v);
}

// Alters one byte of the body of the first event in the record at `o`: in the content text when
// it is stored in clear (the edit then still decodes), else the body's last byte. Whether the
// body still decodes.
bool edit_first_body(raw_log& raw, std::int32_t p, std::int64_t o) {
  std::string v = raw.get(p, o);
  const auto stored = events::embedded_layout::record_value::decode(v);
  REQUIRE(stored.has_value());
  auto rec = events::decode_record(stored.value().bytes);
  REQUIRE(rec.has_value());
  auto env = events::decode_envelope(rec.value().events.at(0));
  REQUIRE(env.has_value());
  const std::string& body = env.value().body;
  const auto at = v.find(body);
  REQUIRE(at != std::string::npos);
  const auto text = v.find("skipped", at);
  const bool clear = text != std::string::npos && text < at + body.size();
  const auto edit = clear ? text + 2 : at + body.size() - 1;
  v[edit] = static_cast<char>(v[edit] ^ 0x04);  // "skipped" -> "skmpped"
  raw.put(p, o, v);
  auto edited = events::decode_envelope(
      events::decode_record(events::embedded_layout::record_value::decode(v).value().bytes)
          .value()
          .events.at(0));
  return edited.has_value() && events::decode_body(edited.value()).has_value();
}

}  // namespace

TEST_CASE("an untampered log replays and audits clean") {
  written_log w;
  for (const auto& id : {w.a, w.b, w.c}) {
    auto r = replay(w.dir.path(), id, true);
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(contains(r.out, "#4 "));
    CHECK(contains(r.out, "verified: 4 event(s), sequence 1..4"));
    CHECK(contains(r.out, "by staff@u-zz-yg (unit_staff, unit u-zz-yg)"));
    // No personal data in the timeline.
    CHECK_FALSE(contains(r.out, "13800000000"));
    CHECK_FALSE(contains(r.out, "skipped"));
  }
  auto a = audit(w.dir.path());
  INFO(a.out << a.err);
  CHECK(a.code == 0);
  CHECK(contains(a.out, "events 12, cases 3"));
  CHECK(contains(a.out, "verified: every chain and checkpoint holds"));
  CHECK(a.err.empty());  // the progress bar stays quiet on a string stream
  // The last checkpoint of each partition with records, to be kept outside the log.
  CHECK(contains(a.out, "last checkpoint: partition " + std::to_string(w.partition_of(w.a))));

  // A mistyped --data is an error, not a new empty log.
  auto nowhere = replay(w.dir.path() / "nowhere", w.a, false);
  CHECK(nowhere.code == 2);
  CHECK(contains(nowhere.err, "there is no embedded log at"));
  CHECK_FALSE(std::filesystem::exists(w.dir.path() / "nowhere"));

  auto missing = replay(w.dir.path(), "410100-20250303-000099", false);
  CHECK(missing.code == 2);
  CHECK(contains(missing.err, "is not in the log"));
}

TEST_CASE("every kind of tampering is detected and the first bad event is named") {
  written_log w;
  const std::int32_t p = w.partition_of(w.a);

  SUBCASE("an edited body") {
    bool still_decodes = false;
    {
      raw_log raw(w.dir.path());
      const auto l = find(raw, p, w.a);
      REQUIRE(l.of_case.size() == 4);
      still_decodes = edit_first_body(raw, p, l.of_case[0]);
    }
    auto r = replay(w.dir.path(), w.a, false);
    CHECK(r.code == 1);
    INFO(r.err);
    auto v = audit(w.dir.path());
    CHECK(v.code == 1);
    INFO(v.out);
    CHECK(contains(v.out, "checkpoint problems:"));
    if (still_decodes) {
      // The link from #2 to the edited #1 breaks: #2 is the first event that does not verify,
      // and the message names #1 as the other end.
      CHECK(contains(r.err, "first bad event: event " + w.a + "#2 (sequence 2"));
      CHECK(contains(r.err, "stored bytes of " + w.a + "#1"));
      CHECK(contains(v.out, "chain problems: 1; first: event " + w.a + "#2"));
    } else {
      CHECK(contains(r.err, "first bad event: event " + w.a + "#1 (sequence 1"));
      CHECK(contains(v.out, "record problems: 1; first: event " + w.a + "#1"));
    }
  }

  SUBCASE("an edited last event: only the checkpoints see it") {
    {
      raw_log raw(w.dir.path());
      const auto l = find(raw, p, w.a);
      // The reply's correlation id: part of the stored event, not of the body.
      replace_in(raw, p, l.of_case[3], "corr-", "CORR-");
    }
    // The chain alone cannot see an edit of the last event (nothing points at it yet) ...
    CHECK(replay(w.dir.path(), w.a, false).code == 0);
    // ... the checkpoint that covers it does, and names the case's events it covers.
    auto r = replay(w.dir.path(), w.a, true);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "does not match the records"));
    CHECK(contains(r.err, w.a + "#4"));
    auto v = audit(w.dir.path());
    CHECK(v.code == 1);
    CHECK(contains(v.out, "checkpoint problems:"));
    CHECK_FALSE(contains(v.out, "chain problems:"));
  }

  SUBCASE("an inserted record (a replayed copy of an event)") {
    {
      raw_log raw(w.dir.path());
      const auto l = find(raw, p, w.a);
      raw.insert(p, l.of_case[1] + 1, raw.get(p, l.of_case[1]));
    }
    auto r = replay(w.dir.path(), w.a, false);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "first bad event: event " + w.a + "#2 (sequence 2"));
    CHECK(contains(r.err, "sequence 2 comes after sequence 2"));
    auto v = audit(w.dir.path());
    CHECK(v.code == 1);
    CHECK(contains(v.out, "chain problems:"));
    CHECK(contains(v.out, "first: event " + w.a + "#2"));
  }

  SUBCASE("a deleted record, later offsets moved down") {
    {
      raw_log raw(w.dir.path());
      const auto l = find(raw, p, w.a);
      raw.remove(p, l.of_case[1]);
    }
    auto r = replay(w.dir.path(), w.a, false);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "first bad event: event " + w.a + "#3 (sequence 3"));
    CHECK(contains(r.err, w.a + "#2 is missing"));
    CHECK(audit(w.dir.path()).code == 1);
  }

  SUBCASE("a deleted record, leaving a hole") {
    {
      raw_log raw(w.dir.path());
      const auto l = find(raw, p, w.a);
      raw.erase(p, l.of_case[1]);
    }
    auto r = replay(w.dir.path(), w.a, false);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "gap at offset"));
    auto v = audit(w.dir.path());
    CHECK(v.code == 1);
    CHECK(contains(v.out, "log problems:"));
  }

  SUBCASE("two records swapped") {
    {
      raw_log raw(w.dir.path());
      const auto l = find(raw, p, w.a);
      raw.swap(p, l.of_case[1], l.of_case[2]);
    }
    auto r = replay(w.dir.path(), w.a, false);
    CHECK(r.code == 1);
    CHECK(contains(r.err, "first bad event: event " + w.a + "#3 (sequence 3"));
    CHECK(contains(r.err, w.a + "#2 is missing"));
    auto v = audit(w.dir.path());
    CHECK(v.code == 1);
    CHECK(contains(v.out, "first: event " + w.a + "#3"));
  }

  SUBCASE("a rewritten checkpoint") {
    std::int64_t at = -1;
    {
      raw_log raw(w.dir.path());
      const auto l = find(raw, p, w.a);
      REQUIRE_FALSE(l.checkpoints.empty());
      at = l.checkpoints.back();
      std::string v = raw.get(p, at);
      const auto stored = events::embedded_layout::record_value::decode(v);
      REQUIRE(stored.has_value());
      auto cp = events::decode_checkpoint(stored.value().bytes);
      REQUIRE(cp.has_value());
      cp.value().running_hash[0] = static_cast<char>(cp.value().running_hash[0] ^ 1);
      raw.put(p, at,
              events::embedded_layout::record_value{stored.value().key,
                                                    events::encode_checkpoint(cp.value())}
                  .encode());
    }
    // The case's own chain still holds; the checkpoint does not.
    CHECK(replay(w.dir.path(), w.a, false).code == 0);
    auto r = replay(w.dir.path(), w.a, true);
    CHECK(r.code == 1);
    CHECK(contains(
        r.err, "checkpoint at partition " + std::to_string(p) + " offset " + std::to_string(at)));
    auto v = audit(w.dir.path());
    CHECK(v.code == 1);
    CHECK(contains(v.out, "checkpoint problems: 1; first: checkpoint at partition " +
                              std::to_string(p) + " offset " + std::to_string(at)));
  }
}

TEST_CASE("replay --as-of shows the case as it stood at that moment") {
  written_log w;
  auto as_of = [&](const std::string& t) {
    tools::store_options so;
    so.data_dir = w.dir.path().string();
    so.partitions = partitions;
    auto log = tools::open_log(so);
    REQUIRE(log.has_value());
    tools::replay_options o;
    o.case_id = w.a;
    o.as_of = t;
    o.verify = true;
    auto r = tools::replay_case(*log.value(), o);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message()));
    REQUIRE_FALSE(r.value().problem.has_value());
    CHECK(r.value().events_in_log == 4);
    return std::move(r).value();
  };

  const auto before = as_of("2025-03-03T09:59:00+08:00");
  CHECK(before.events.empty());
  CHECK(before.state.version == 0);

  const auto received = as_of("2025-03-03T10:30:00+08:00");
  REQUIRE(received.events.size() == 1);
  CHECK(received.state.status == core::case_status::received);
  REQUIRE_FALSE(received.deadlines.empty());
  CHECK(received.deadlines[0].kind == core::deadline_kind::transfer);
  CHECK(received.deadlines[0].state == core::deadline_state::pending);

  const auto classified = as_of("2025-03-03T11:00:00+08:00");  // recorded at exactly then
  CHECK(classified.events.size() == 2);
  CHECK(classified.state.status == core::case_status::classified);

  const auto transferred = as_of("2025-03-03T16:00:00+08:00");
  CHECK(transferred.state.status == core::case_status::transferred);
  CHECK(transferred.state.unit == unit_id{"u-zz-yg"});
  bool transfer_met = false;
  for (const auto& d : transferred.deadlines)
    if (d.kind == core::deadline_kind::transfer)
      transfer_met = d.state == core::deadline_state::met;
  CHECK(transfer_met);

  const auto replied = as_of("2025-03-10T00:00:00+08:00");
  CHECK(replied.events.size() == 4);
  CHECK(replied.state.status == core::case_status::replied);
  CHECK(replied.state.replied_on == civil_date{2025, 3, 3});
  for (const auto& d : replied.deadlines) CHECK(d.state == core::deadline_state::met);

  // The text and JSON forms say the same.
  auto text = replay(w.dir.path(), w.a, false, "2025-03-03T16:00:00+08:00");
  CHECK(text.code == 0);
  CHECK(contains(text.out, "3 as of 2025-03-03T16:00:00.000+08:00"));
  CHECK(contains(text.out, "status=transferred"));
  CHECK_FALSE(contains(text.out, "#4 "));
  auto json = replay(w.dir.path(), w.a, true, "2025-03-03T16:00:00+08:00", "json");
  REQUIRE(json.code == 0);
  auto doc = boost::json::parse(json.out).as_object();
  CHECK(doc["events"].as_array().size() == 3);
  CHECK(doc["events_in_log"].as_int64() == 4);
  CHECK(doc["state"].as_object()["status"].as_string() == "transferred");
  CHECK(doc["events"].as_array()[0].as_object()["type"].as_string() == "case_received");
  CHECK(doc["verification"].as_object()["verified"].as_bool());

  auto bad = replay(w.dir.path(), w.a, false, "yesterday");
  CHECK(bad.code == 2);
  CHECK(contains(bad.err, "--as-of must be RFC 3339"));
}
