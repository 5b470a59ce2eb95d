// Retention end to end on the real write path (embedded log, RocksDB store, key store, blob
// store): purges only after retain-until, refusals recorded, legal holds, crypto-shredding, and
// an audit that proves it — and that does fail when something was purged early.
#include "projections/retention.h"

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/snapshot.h>

#include "core/calendar.h"
#include "core/registry.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "events/field_crypto.h"
#include "events/record.h"
#include "gateway/json_text.h"
#include "gateway/read_model_json.h"
#include "projections/case_projection.h"
#include "projections/personal_data.h"
#include "projections/projection_set.h"
#include "projections/reports.h"
#include "projections/row_keys.h"
#include "projections/runner.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

timestamp at(int y, unsigned m, unsigned d) {
  return timestamp{shanghai_start_of_day(civil_date{y, m, d}).ms + 10LL * 3600 * 1000};
}

// The server's write and read path without HTTP.
struct rig {
  test::temp_dir dir;
  core::calendar cal;
  core::registry reg = core::registry::henan();
  projections::manual_clock clock{at(2026, 3, 2)};
  std::unique_ptr<events::event_log> log;
  std::unique_ptr<projections::store> store;
  std::unique_ptr<projections::key_store> keys;
  std::unique_ptr<projections::personal_data> privacy;
  projections::blob_store blobs{dir.sub("blobs")};
  std::unique_ptr<projections::projection_set> projections;
  std::unique_ptr<projections::projection_runner> runner;
  std::unique_ptr<projections::case_writer> writer;
  const core::actor agent{user_id{"agent-1"}, core::role::agent, center_code{"410100"}, {}};
  const core::actor supervisor{user_id{"sup-1"}, core::role::supervisor, center_code{"410100"}, {}};

  rig() {
    const char* src = std::getenv("CASELINE_SOURCE_DIR");
    REQUIRE(src);
    cal = core::calendar::load_file(std::string(src) + "/core/data/cn-workdays.txt").value();
    log = events::open_embedded_log({dir.sub("log"), 2}).value();
    store = projections::store::open(dir.sub("store")).value();
    keys = projections::key_store::open(dir.sub("keys"), events::secret_key::random()).value();
    privacy = std::make_unique<projections::personal_data>(*keys);
    projections = std::make_unique<projections::projection_set>(*store);
    runner = std::make_unique<projections::projection_runner>(*log, *store, projections->all());
    REQUIRE(runner->start());
    core::context base;
    base.cal = &cal;
    base.reg = &reg;
    writer = std::make_unique<projections::case_writer>(*log, *store, *runner, privacy.get(), base,
                                                        clock);
  }
  ~rig() {
    writer.reset();
    runner.reset();
  }

  projections::command_outcome run(const std::optional<case_id>& id, core::command cmd,
                                   const core::actor& who) {
    projections::command_request req{id,           std::move(cmd), who,          "test",
                                     std::nullopt, std::nullopt,   std::nullopt, std::nullopt};
    auto r = projections::submit_and_wait(*writer, std::move(req), 30s);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    REQUIRE(r.value().position);
    REQUIRE(runner->wait_applied(*r.value().position, 30s));
    return std::move(r).value();
  }

  projections::retention_audit audit(civil_date as_of) {
    auto a = projections::audit_retention(*store, {}, as_of, &blobs, keys.get());
    REQUIRE(a);
    return std::move(a).value();
  }

  projections::purge_outcome purge(civil_date as_of) {
    projections::recording_store recordings(blobs, *keys);
    auto p = projections::purge_retention(*store, *writer, *keys, recordings, {}, as_of, false,
                                          supervisor);
    REQUIRE(p);
    runner->catch_up(30s).value();
    return std::move(p).value();
  }
};

const std::string secret_text = "SECRET-CONTENT-7f3a 乘客被拒载";
const std::string secret_phone = "13712345678";

// A phone call received now, its audio stored first: the case and the audio's SHA-256.
struct call {
  projections::command_outcome rec;
  std::string sha;
};
call call_with_audio(rig& r, const std::string& audio, std::uint32_t seconds) {
  const auto sha = r.blobs.put(audio).value();
  auto rec = r.run(std::nullopt,
                   core::receive{core::channel::phone, center_code{"410100"},
                                 core::caller_info{secret_phone, "王某"}, secret_text,
                                 core::recording_ref{"blob:" + sha, sha, seconds}, {}, ""},
                   r.agent);
  return {std::move(rec), sha};
}

// Answered at once and, if the revisit sample picked it (Art. 23(1), 46), revisited: then it
// may be archived.
void answer_and_revisit(rig& r, const case_id& id, const std::string& answer) {
  if (r.run(id, core::answer_immediately{answer}, r.agent).state.revisit_required)
    r.run(id, core::revisit{true, core::satisfaction::satisfied, std::nullopt, false, ""},
          r.supervisor);
}

}  // namespace

TEST_CASE("Art. 38: audio and text are kept, purged after retain-until, and the audit proves it") {
  rig r;
  auto [rec, sha] = call_with_audio(r, "RIFF fake call audio bytes", 61);
  const case_id id = rec.state.id;
  answer_and_revisit(r, id, "已告知");
  r.clock.set(at(2026, 3, 3));
  r.run(id, core::archive{}, r.agent);

  // Nothing personal reaches the disk in the clear: log, store, keys.
  REQUIRE(r.log->flush(10s));
  const std::string disk = test::all_bytes_under(r.dir.path());
  CHECK(disk.find(secret_phone) == std::string::npos);
  CHECK(disk.find("SECRET-CONTENT-7f3a") == std::string::npos);

  auto a = r.audit(civil_date{2026, 6, 1});
  CHECK(a.ok());
  CHECK(a.eligible == 0);
  CHECK(a.kept == 2);

  SUBCASE("the recording on its retain-until day is kept; the day after it is purged") {
    r.clock.set(at(2027, 3, 3));  // a year after the call and after archiving
    auto p = r.purge(civil_date{2027, 3, 3});
    CHECK(p.done.empty());
    CHECK(r.blobs.exists(sha));
    r.clock.set(at(2027, 3, 4));
    p = r.purge(civil_date{2027, 3, 4});
    REQUIRE(p.done.size() == 1);
    CHECK_FALSE(r.blobs.exists(sha));
    a = r.audit(civil_date{2027, 3, 4});
    CHECK(a.ok());
    CHECK(a.purged == 1);
    REQUIRE(a.history.size() == 1);
    CHECK(a.history[0].kind == "recording_purged");
    CHECK(a.history[0].by == "sup-1");
  }

  SUBCASE("a purge asked for a future date is refused by the real date and recorded") {
    r.clock.set(at(2027, 3, 4));
    auto p = r.purge(civil_date{2031, 3, 4});  // text would be eligible then, not now
    CHECK(p.done.size() == 1);                  // the audio is due
    REQUIRE(p.refused.size() == 1);
    CHECK(p.refused[0].find("Art. 38") != std::string::npos);
    a = r.audit(civil_date{2027, 3, 4});
    CHECK(a.refused == 1);
    CHECK(a.ok());
    auto text = r.privacy->open(rec.state);
    CHECK(text.value());  // still readable
  }

  SUBCASE("a legal hold stops the shredding; lifted, the text is shredded for ever") {
    r.clock.set(at(2031, 3, 4));
    r.run(id, core::place_legal_hold{"行政复议"}, r.supervisor);
    auto p = r.purge(civil_date{2031, 3, 4});
    CHECK(p.done.empty());
    a = r.audit(civil_date{2031, 3, 4});
    CHECK(a.held == 2);
    r.run(id, core::lift_legal_hold{"复议终结"}, r.supervisor);
    // The statutory figures do not depend on the personal text: shredding leaves them as they were.
    const auto report_before =
        projections::build_report(projections::report_reader(*r.store), r.reg,
                                  projections::monthly_request(2026, 3, std::nullopt));
    REQUIRE(report_before);
    p = r.purge(civil_date{2031, 3, 4});
    CHECK(p.done.size() == 2);
    a = r.audit(civil_date{2031, 3, 4});
    CHECK(a.ok());
    CHECK(a.purged == 2);
    CHECK_FALSE(r.keys->get(id).value().has_value());
    auto stored = projections::case_reader(*r.store).get(id).value();
    REQUIRE(stored);
    core::case_state shown = stored->state;
    CHECK_FALSE(r.privacy->open(shown).value());
    CHECK(shown.content.empty());
    // The facts stay for the reports.
    CHECK(shown.received_on == civil_date{2026, 3, 2});
    CHECK(shown.status == core::case_status::archived);
    const auto report_after =
        projections::build_report(projections::report_reader(*r.store), r.reg,
                                  projections::monthly_request(2026, 3, std::nullopt));
    REQUIRE(report_after);
    CHECK(report_after.value() == report_before.value());
    CHECK(report_after.value().total[projections::metric::received] == 1);
  }
}

TEST_CASE("Art. 38 — the audio of an open case is kept however old the call; archiving starts its year") {
  rig r;
  const auto [rec, sha] = call_with_audio(r, "RIFF audio of a complaint still open", 42);
  const case_id id = rec.state.id;
  // Years pass with the case open: every purge run keeps its audio and text.
  for (const civil_date day : {civil_date{2027, 3, 3}, civil_date{2028, 6, 1}, civil_date{2033, 1, 4}}) {
    CAPTURE(day.to_string());
    r.clock.set(at(day.year, day.month, day.day));
    const auto a = r.audit(day);
    CHECK(a.ok());
    CHECK(a.eligible == 0);
    for (const auto& item : a.items) CHECK_FALSE(item.retain_until.has_value());
    const auto p = r.purge(day);
    CHECK(p.done.empty());
    CHECK(r.blobs.exists(sha));
  }
  // Answered and archived on 2033-01-04 (the clock's day): audio through 2034-01-04.
  answer_and_revisit(r, id, "已答复");
  r.run(id, core::archive{}, r.agent);
  r.clock.set(at(2034, 1, 4));
  CHECK(r.purge(civil_date{2034, 1, 4}).done.empty());
  r.clock.set(at(2034, 1, 5));
  const auto p = r.purge(civil_date{2034, 1, 5});
  REQUIRE(p.done.size() == 1);
  CHECK(p.done[0] == id.value() + " recording");
  CHECK_FALSE(r.blobs.exists(sha));
  CHECK(r.audit(civil_date{2034, 1, 5}).ok());
}

TEST_CASE("the audit reports an item purged on or before its retain-until day") {
  rig r;
  auto rec = r.run(std::nullopt,
                   core::receive{core::channel::sms, center_code{"410100"},
                                 core::caller_info{"13800000001", ""}, "咨询", std::nullopt, {}, ""},
                   r.agent);
  answer_and_revisit(r, rec.state.id, "x");
  r.run(rec.state.id, core::archive{}, r.agent);
  // Forge a state whose text was shredded the day after archiving (what the rules never allow).
  auto row = projections::case_reader(*r.store).get(rec.state.id).value().value();
  row.state.text_shredded_on = civil_date{2026, 3, 3};
  REQUIRE(r.store->db()
              .Put(rocksdb::WriteOptions(), r.store->cf(projections::family::cases),
                   projections::keys::case_row::encode(rec.state.id()),
                   projections::encode_case_row(row))
              .ok());
  auto a = r.audit(civil_date{2026, 3, 4});
  CHECK_FALSE(a.ok());
  REQUIRE(a.violations.size() == 2);  // early, and the key is still there
  CHECK(a.violations[0].find("purged on 2026-03-03") != std::string::npos);
  CHECK(gateway::json_text(gateway::retention_audit_json(a)).find("\"no_early_purge\":false") !=
        std::string::npos);
}

TEST_CASE("the blob store writes atomically, checks bytes on read and deletes idempotently") {
  test::temp_dir dir;
  projections::blob_store b(dir.path());
  const auto sha = b.put("audio").value();
  CHECK(sha == events::to_hex(events::sha256("audio")));
  CHECK(b.put("audio").value() == sha);
  CHECK(b.get(sha).value() == "audio");
  {
    std::ofstream(b.path_of(sha), std::ios::binary | std::ios::trunc) << "tampered";
  }
  CHECK(b.get(sha).error().code == events::errc::corrupt_record);
  CHECK(b.remove(sha));
  CHECK(b.remove(sha));
  CHECK(b.get(sha).error().code == events::errc::not_found);
  CHECK(b.get("../../etc/passwd").error().code == events::errc::corrupt_record);
}

TEST_CASE("an audit reads the trail and the cases as of one snapshot") {
  // The runner writes a purge's trail entry and its case's row in one batch; an audit that read
  // the trail, then the cases, each as of its own moment, could count a shredded case whose
  // trail entry it never saw (batches land between its two reads while a purge runs).
  rig r;
  constexpr std::size_t cases = 12;
  for (std::size_t i = 0; i < cases; ++i) {
    auto rec = r.run(std::nullopt,
                     core::receive{core::channel::phone,
                                   center_code{"410100"},
                                   core::caller_info{secret_phone, "王某"},
                                   secret_text,
                                   std::nullopt,
                                   {},
                                   ""},
                     r.agent);
    answer_and_revisit(r, rec.state.id, "已告知");
    r.run(rec.state.id, core::archive{}, r.agent);
  }
  const civil_date later{2031, 3, 4};  // every case's text past its five years
  r.clock.set(at(2031, 3, 4));
  const auto shreds = [](const projections::retention_audit& a) {
    std::pair<std::size_t, std::size_t> n;  // in the trail, in the cases
    for (const auto& h : a.history) n.first += h.kind == "text_shredded" ? 1 : 0;
    for (const auto& i : a.items)
      n.second += i.item == core::retained_item::text && i.status == "purged" ? 1 : 0;
    return n;
  };

  // A snapshot before the purge: an audit as of it sees neither the trail entries nor the
  // shredded rows written after it, though both are in the store when it reads.
  rocksdb::ManagedSnapshot before(&r.store->db());
  CHECK(r.purge(later).done.size() == cases);
  auto then =
      projections::audit_retention(*r.store, {}, later, &r.blobs, nullptr, before.snapshot());
  REQUIRE(then);
  CHECK(shreds(then.value()) == std::pair<std::size_t, std::size_t>{0, 0});
  CHECK(then.value().eligible == cases);
  CHECK(then.value().purged == 0);

  // Without one, as of the audit's start: every shred in both.
  const auto now = r.audit(later);
  CHECK(shreds(now) == std::pair<std::size_t, std::size_t>{cases, cases});
  CHECK(now.purged == cases);
  CHECK(now.ok());
}
