// The Art. 38 purge in a group, on the real broker the test command starts: two servers in one
// consumer group, each writing some of the topic's partitions (server_stack, RocksDB in temporary
// folders, manual clocks). A purge asked of either server is done partition by partition by each
// partition's owner, and every server drops every shredded key (the owners' tombstones).
#include "gateway/api.h"

#include <doctest/doctest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/gateway/retention_purge_support.h"
#include "tools/bench_purge.h"

using namespace caseline;
using namespace caseline::test::purge;

namespace {

constexpr std::uint64_t per_server = 60;

}  // namespace

TEST_CASE(
    "a purge asked of either server is done by each partition's owner, and every server "
    "drops the shredded keys") {
  member a("purge");
  // Before the second server joins, the first writes the tokens' partition: the admin token.
  const auto token = a.token("admin", "410000");
  member b(a.topic, a.group);
  REQUIRE(test::eventually([&] { return split_between(a.address, b.address); }, 90s));
  // Each server receives and archives cases in its own partitions; both clocks move past the
  // text's retention (each owner decides by its own clock).
  for (auto* m : {&a, &b}) {
    auto seeded = tools::seed_archived_cases(m->stack->writer(), per_server, "410100");
    REQUIRE_MESSAGE(seeded, (seeded ? "" : seeded.error().message()));
    clock_to_later(m->address, token);
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

TEST_CASE(
    "a recording purged in a group is gone from every server's blob store and reads as purged") {
  member a("purge-audio");
  const auto admin = a.token("admin", "410000");
  const auto agent = a.token("agent", "410100");
  const auto supervisor = a.token("supervisor", "410100");
  member b(a.topic, a.group);
  REQUIRE(test::eventually([&] { return split_between(a.address, b.address); }, 90s));

  // The audio is uploaded to the first server and named by a case it receives (in one of its
  // own partitions); the case is answered and archived there.
  std::string audio(std::size_t{300} * 1024, '\0');
  for (std::size_t i = 0; i < audio.size(); ++i) audio[i] = static_cast<char>((i * 7919) >> 3);
  test::http_reply up;
  REQUIRE(test::eventually(
      [&] {
        up = test::http_call(a.address, "PUT", "/v1/recordings", audio,
                             {{"authorization", "Bearer " + agent}, {"content-type", "audio/wav"}});
        return up.status == 201;
      },
      60s));
  const auto sha = std::string(up.json().at("sha256").as_string());
  auto received = test::http_call(
      a.address, "POST", "/v1/cases",
      R"({"channel":"phone","center":"410100","caller":{"phone":"13800001234"},"content":"c",)"
      R"("recording":{"uri":"blob:)" +
          sha + R"(","sha256":")" + sha + R"(","duration_s":60}})",
      {{"authorization", "Bearer " + agent}, {"content-type", "application/json"}});
  REQUIRE_MESSAGE(received.status == 201, received.body);
  const case_id id{std::string(received.json().at("id").as_string())};
  const auto command = [&](const std::string& what, const std::string& body,
                           const std::string& token) {
    auto r = test::http_call(
        a.address, "POST", "/v1/cases/" + id() + "/" + what, body,
        {{"authorization", "Bearer " + token}, {"content-type", "application/json"}});
    REQUIRE_MESSAGE(r.status == 200, what << ": " << r.body);
    return r;
  };
  // Revisited if the sample picked it (Art. 23(1), 46): then it may be archived.
  command("answer", R"({"answer":"已答复"})", agent);
  auto answered = test::http_call(a.address, "GET", "/v1/cases/" + id(), "", bearer(supervisor));
  REQUIRE(answered.status == 200);
  if (answered.json().at("revisit_required").as_bool())
    command("revisit", R"({"reached":true,"satisfaction":"satisfied"})", supervisor);
  command("archive", "{}", supervisor);

  // The second server holds the claimed copy and reads the audio.
  const auto read_on_b = [&] {
    return test::http_call(b.address, "GET", "/v1/cases/" + id() + "/recording", "",
                           bearer(supervisor));
  };
  REQUIRE(test::eventually([&] { return read_on_b().body == audio; }, 60s));
  REQUIRE(b.stack->blobs().exists(sha));
  REQUIRE(a.stack->blobs().exists(sha));

  for (auto* m : {&a, &b}) clock_to_later(m->address, admin);
  REQUIRE(test::eventually([&] { return b.audit().eligible == 2; }, 30s));  // audio and text

  // Asked of the second server: the first, the case's partition's owner, purges it.
  auto done = purged_through(b.address, admin);
  CHECK_MESSAGE(done.at("status").as_string() == "done", boost::json::serialize(done));
  CHECK(done.at("purged").to_number<std::uint64_t>() == 2);
  CHECK(done.at("failed").to_number<std::uint64_t>() == 0);

  // Every server's copy goes (the owner's tombstones in the audio topic), and the audit finds no
  // audio left of a purged recording.
  CHECK(test::eventually(
      [&] { return !a.stack->blobs().exists(sha) && !b.stack->blobs().exists(sha); }, 60s));
  for (auto* m : {&a, &b})
    CHECK(test::eventually(
        [&] {
          const auto audit = m->audit();
          return audit.purged == 2 && audit.ok();
        },
        60s));
  // Read on the other server: the documented answer for purged audio, not the audio.
  const auto gone = read_on_b();
  CHECK(gone.status == 410);
  CHECK(gone.header("content-type") == "application/problem+json");
  CHECK(gone.body.find("purged") != std::string::npos);
  CHECK(gone.body.find("Art. 38") != std::string::npos);
  b.stack.reset();
  a.stack.reset();
}
