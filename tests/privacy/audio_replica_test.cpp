// A group's call audio shared through the audio topic (projections/audio_replica.h), on the real
// broker the test command starts, with real key stores and blob stores in temporary folders: a
// recording staged on one server, claimed by a case on another and read on a third; a restart
// from stored offsets; a purge reaching every server; a fenced writer's claimed copy.
#include "projections/audio_replica.h"

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "core/errc.h"
#include "events/errc.h"
#include "events/kafka_event_log.h"
#include "events/key_log.h"
#include "events/record.h"
#include "projections/blob_store.h"
#include "projections/clock.h"
#include "projections/key_replica.h"
#include "projections/key_store.h"
#include "projections/recordings.h"
#include "tests/privacy/group_support.h"
#include "tests/support/eventually.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

constexpr std::int32_t partitions = test::group_partitions;

// One server's key store, blob store and their replicas, as `serve` wires them.
struct audio_server {
  std::unique_ptr<projections::key_store> keys;
  std::unique_ptr<projections::key_replica> key_replica;
  std::unique_ptr<projections::blob_store> blobs;
  std::unique_ptr<projections::audio_replica> replica;
  std::unique_ptr<projections::recording_store> recordings;

  audio_server(events::event_log& log, const std::string& dir, const events::secret_key& master,
               const projections::away_options& away = {}) {
    std::filesystem::create_directories(dir);
    auto ks = projections::key_store::open(dir + "/keys", master);
    REQUIRE_MESSAGE(ks.has_value(), (ks ? std::string{} : ks.error().message()));
    keys = std::move(ks).value();
    projections::key_replica::options ko;
    ko.away = away;
    auto kr = projections::key_replica::start(*log.keys(), *keys, master, ko);
    REQUIRE_MESSAGE(kr.has_value(), (kr ? std::string{} : kr.error().message()));
    key_replica = std::move(kr).value();
    blobs = std::make_unique<projections::blob_store>(dir + "/blobs");
    projections::audio_replica::options ao;
    ao.away = away;
    auto r = projections::audio_replica::start(*log.audio(), *blobs, ao);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message()));
    replica = std::move(r).value();
    recordings = std::make_unique<projections::recording_store>(*blobs, *keys);
  }
  ~audio_server() {
    recordings.reset();
    replica.reset();  // before the blob store it writes to
    key_replica.reset();
    keys.reset();
  }
  // The blob file as this server holds it: none, "staged" or "claimed".
  std::string copy_of(const std::string& sha) const {
    auto bytes = blobs->read(sha);
    if (!bytes) return "none";
    return projections::is_claimed_recording(bytes.value()) ? "claimed" : "staged";
  }
};

std::string random_audio(std::size_t bytes) {
  std::mt19937 gen(20261201);
  std::string out(bytes, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

}  // namespace

TEST_CASE(
    "a recording staged on one server is claimed by a case on another and read on every "
    "server, in chunks, also after a restart, until a purge deletes it everywhere") {
  test::two_servers s("audio");  // A owns every partition; B is no member
  audio_server a(*s.a_log, s.dir.sub("a"), s.master);
  audio_server b(*s.b_log, s.dir.sub("b"), s.master);

  // Several MiB: several chunks of the audio topic, each under the broker's message limit.
  const std::string audio = random_audio(std::size_t{3} * 1024 * 1024 + 1234);
  auto staged = b.recordings->stage(audio);
  REQUIRE_MESSAGE(staged.has_value(), (staged ? std::string{} : staged.error().message()));
  const std::string sha = staged.value();
  CHECK(sha == events::to_hex(events::sha256(audio)));
  CHECK(b.copy_of(sha) == "staged");

  // A takes the case: the staged copy is there for it (waited for, not "not there").
  const case_id id{"410100-20261201-000001"};
  REQUIRE(a.keys->create(id).has_value());
  REQUIRE(a.recordings->claimable(sha, id).has_value());
  REQUIRE(a.recordings->claim(sha, id).has_value());
  CHECK(a.copy_of(sha) == "claimed");
  // The claimed copy replaces B's staged one, from the topic.
  CHECK(test::eventually([&] { return b.copy_of(sha) == "claimed"; }, 30s));
  auto on_b = b.recordings->open(sha, id);
  REQUIRE_MESSAGE(on_b.has_value(), (on_b ? std::string{} : on_b.error().message()));
  CHECK(on_b.value() == audio);
  // Another case cannot claim it, on either server.
  CHECK(b.recordings->claimable(sha, case_id{"410100-20261201-000002"}).error().code ==
        core::errc::invalid_argument);

  // A third server, started afterwards, has it too; and again after a restart from its offsets.
  auto c = std::make_unique<audio_server>(*s.b_log, s.dir.sub("c"), s.master);
  CHECK(c->copy_of(sha) == "claimed");
  CHECK(c->recordings->open(sha, id).value() == audio);
  const auto offsets = c->blobs->read_file(projections::audio_replica::offsets_file);
  REQUIRE(offsets.has_value());
  CHECK_FALSE(offsets.value().empty());
  c.reset();
  c = std::make_unique<audio_server>(*s.b_log, s.dir.sub("c"), s.master);
  CHECK(c->blobs->read_file(projections::audio_replica::offsets_file).value() == offsets.value());
  CHECK(c->recordings->open(sha, id).value() == audio);

  SUBCASE("a purge through the case's owner deletes every server's copy; elsewhere it is refused") {
    auto refused = b.recordings->purge(sha, id);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == events::errc::not_owner);
    CHECK(b.copy_of(sha) == "claimed");
    REQUIRE(a.recordings->purge(sha, id).has_value());
    CHECK(a.copy_of(sha) == "none");
    CHECK(test::eventually([&] { return b.copy_of(sha) == "none"; }, 30s));
    CHECK(test::eventually([&] { return c->copy_of(sha) == "none"; }, 30s));
    CHECK(b.recordings->open(sha, id).error().code == events::errc::not_found);
    // A server started later applies the topic from its start: nothing comes back.
    audio_server d(*s.b_log, s.dir.sub("d"), s.master);
    CHECK(d.copy_of(sha) == "none");
    CHECK_FALSE(d.blobs->file_exists("parts/" + sha + ".c"));
    CHECK_FALSE(b.blobs->file_exists("parts/" + sha + ".c"));
  }
}

TEST_CASE("a fenced writer's claimed copy is never applied; the staged one keeps serving") {
  test::two_servers s("audio");  // A owns every partition; B is no member
  audio_server a(*s.a_log, s.dir.sub("a"), s.master);
  audio_server b(*s.b_log, s.dir.sub("b"), s.master);

  const std::string audio = random_audio(2000);
  auto staged = a.recordings->stage(audio);
  REQUIRE(staged.has_value());
  const std::string sha = staged.value();
  const case_id id{"410100-20261201-000007"};
  REQUIRE(a.keys->create(id).has_value());
  CHECK(test::eventually([&] { return b.copy_of(sha) == "staged"; }, 30s));

  // The live owner of the case's partition (a newer producer of its transactional.id, as a new
  // owner's writer is) fences A's writer.
  const auto p = events::partition_for(id(), partitions);
  const auto live = test::live_owner_of(s.group, p);

  // The zombie claims: its own file is re-sealed, but the group's copy is not committed.
  REQUIRE(a.recordings->claim(sha, id).has_value());
  auto file = a.blobs->read(sha);
  REQUIRE(file.has_value());
  std::promise<result<void>> committed;
  a.replica->commit_claimed(id, sha, file.value(), 2000,
                            [&](result<void> r) { committed.set_value(std::move(r)); });
  auto outcome = committed.get_future();
  REQUIRE(outcome.wait_for(60s) == std::future_status::ready);
  const auto r = outcome.get();
  REQUIRE_FALSE(r.has_value());
  CHECK(
      (r.error().code == events::errc::fenced || r.error().code == events::errc::outcome_unknown));
  // Everything the case's audio partition holds is applied on B: still the staged copy, which
  // opens there (B holds the case's key) for the case that references it.
  REQUIRE(b.replica->catch_up(p, 30s).has_value());
  REQUIRE(b.replica->catch_up(events::partition_for(sha, partitions), 30s).has_value());
  CHECK(b.copy_of(sha) == "staged");
  CHECK(b.recordings->open(sha, id).value() == audio);
}

TEST_CASE(
    "a server back after the tombstones' retention drops the recordings the topic no longer "
    "names, not those it held before the group; after a short absence it reads nothing again") {
  test::two_servers s("audio");  // A owns every partition; B is no member
  projections::manual_clock clock(timestamp{1'800'000'000'000});
  projections::away_options away{.server_clock = &clock, .away = std::chrono::hours(1)};
  const auto name_of = [](std::string_view bytes) { return events::to_hex(events::sha256(bytes)); };
  // B held a recording before its group shared the audio: never in the topic, kept.
  const std::string before = name_of("recorded before the group");
  REQUIRE(projections::blob_store(s.dir.sub("b") + "/blobs").write(before, "sealed").has_value());

  audio_server a(*s.a_log, s.dir.sub("a"), s.master);
  auto b = std::make_unique<audio_server>(*s.b_log, s.dir.sub("b"), s.master, away);
  CHECK(b->replica->reconciled() == std::nullopt);
  auto staged = a.recordings->stage(random_audio(3000));
  REQUIRE(staged.has_value());
  const std::string live = staged.value();
  CHECK(test::eventually([&] { return b->copy_of(live) == "staged"; }, 30s));
  b.reset();  // records when it was last up to date
  // What B finds after a long absence: a recording purged meanwhile, whose tombstones and copies
  // compaction removed from the topic.
  const std::string gone = name_of("purged while away");
  REQUIRE(projections::blob_store(s.dir.sub("b") + "/blobs").write(gone, "sealed").has_value());

  SUBCASE("a short absence: no read from the start, nothing dropped") {
    clock.set(timestamp{clock.now().ms + 60'000});
    b = std::make_unique<audio_server>(*s.b_log, s.dir.sub("b"), s.master, away);
    CHECK(b->replica->reconciled() == std::nullopt);
    CHECK(b->blobs->exists(gone));
  }
  SUBCASE("longer: the purged recording is dropped, the others kept") {
    clock.set(timestamp{clock.now().ms + std::int64_t{2} * 3'600'000});
    b = std::make_unique<audio_server>(*s.b_log, s.dir.sub("b"), s.master, away);
    CHECK(b->replica->reconciled() == std::size_t{1});
    CHECK_FALSE(b->blobs->exists(gone));
    CHECK(b->copy_of(live) == "staged");
    CHECK(b->blobs->exists(before));
  }
}
