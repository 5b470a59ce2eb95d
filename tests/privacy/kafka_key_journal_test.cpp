// The Kafka log's key journal (events/key_journal.h, the Kafka log with a group): a new case's key
// committed in the very transaction of its first record, on the real broker the test command
// starts and real RocksDB key stores in temporary folders. The key is in the key store before the
// record's answer, a crash between the commit and the key store's copy loses nothing, a fenced
// writer commits neither the key nor the record, and a shred of such a key deletes it on every
// server as a shred of a key committed alone does.
#include "events/key_journal.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "events/detail/rdkafka_handle.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "events/kafka_event_log.h"
#include "events/key_log.h"
#include "projections/key_replica.h"
#include "projections/key_store.h"
#include "tests/privacy/group_support.h"
#include "tests/privacy/key_server.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

using namespace caseline;
using namespace std::chrono_literals;

namespace {

constexpr std::int32_t partitions = test::group_partitions;

using test::key_server;

// Appends `record` for `id` with its key through the log's journal and returns the outcome; the
// handler also says whether `keys` held the key when it ran (the key before the answer).
struct journaled_append {
  result<events::log_position> outcome;
  bool key_held_at_answer{false};
};
journaled_append append_with_key(events::event_log& log, projections::key_store* keys,
                                 const case_id& id, const std::string& wrapped) {
  auto done = std::make_shared<std::promise<journaled_append>>();
  auto f = done->get_future();
  events::journal_of(log)->append_with_key(
      id(), "record of " + id(), events::journaled_key{id(), wrapped},
      [done, keys, id](result<events::log_position> r) {
        bool held = false;
        if (r && keys) {
          auto got = keys->held({id});  // the store itself, not a cache: local, never waits
          held = got.has_value() && got.value().size() == 1;
        }
        done->set_value(journaled_append{std::move(r), held});
      });
  REQUIRE(f.wait_for(60s) == std::future_status::ready);
  return f.get();
}

}  // namespace

TEST_CASE("a key committed with its record is in the key store at the answer and after a crash") {
  test::two_servers s("kjournal");  // A owns every partition; B is no member
  auto a = std::make_unique<key_server>(*s.a_log, s.dir.sub("a"), s.master, projections::away_options{}, true);
  key_server b(*s.b_log, s.dir.sub("b"), s.master);

  const case_id first{"410100-20261202-000001"}, second{"410100-20261202-000002"};
  const auto key_1 = events::secret_key::random(), key_2 = events::secret_key::random();

  auto one = append_with_key(*s.a_log, a->keys.get(), first, a->keys->wrap(first, key_1));
  REQUIRE_MESSAGE(one.outcome.has_value(),
                  (one.outcome ? std::string{} : one.outcome.error().message()));
  CHECK(one.key_held_at_answer);  // copied before the record's handler ran
  CHECK(a->key_of(first) == std::string(key_1.view()));
  CHECK(b.key_of(first) == std::string(key_1.view()));  // the group's copy: the keys topic
  // Answered once visible: read_committed readers already stop past the record and its key.
  const auto at = one.outcome.value();
  auto end = s.b_log->end_offset(at.partition);
  REQUIRE(end.has_value());
  CHECK(end.value() > at.offset);
  auto keys_end = s.b_log->keys()->end_offset(at.partition);
  REQUIRE(keys_end.has_value());
  CHECK(keys_end.value()() > 0);
  auto read = s.a_log->read(at.partition, at.offset, 1, 10s);
  REQUIRE(read.has_value());
  REQUIRE(read.value().size() == 1);
  CHECK(read.value().front().key == first());

  // A crash between the commit and the key store's copy: the store is gone when the commit
  // lands, so nothing copies the key there.
  const std::string wrapped_2 = a->keys->wrap(second, key_2);
  a.reset();
  auto two = append_with_key(*s.a_log, nullptr, second, wrapped_2);
  REQUIRE_MESSAGE(two.outcome.has_value(),
                  (two.outcome ? std::string{} : two.outcome.error().message()));
  {
    auto bare = projections::key_store::open(s.dir.sub("a"), s.master);
    REQUIRE(bare.has_value());
    auto held = bare.value()->held({second});
    REQUIRE(held.has_value());
    CHECK(held.value().empty());  // only the keys topic has it now
  }
  // At start the replica applies the keys topic from the store's offsets: the key is found.
  a = std::make_unique<key_server>(*s.a_log, s.dir.sub("a"), s.master, projections::away_options{}, true);
  auto held = a->keys->held({first, second});
  REQUIRE(held.has_value());
  CHECK(held.value().size() == 2);
  CHECK(a->key_of(second) == std::string(key_2.view()));
  CHECK(a->key_of(first) == std::string(key_1.view()));
}

TEST_CASE("a fenced writer commits neither the key nor the record it journaled") {
  test::two_servers s("kjournal");
  key_server a(*s.a_log, s.dir.sub("a"), s.master, projections::away_options{}, true);
  key_server b(*s.b_log, s.dir.sub("b"), s.master);

  const case_id id{"410100-20261202-000007"};
  const auto p = events::partition_for(id(), partitions);
  const auto end_before = s.b_log->end_offset(p);
  REQUIRE(end_before.has_value());
  const auto live = test::live_owner_of(s.group, p);  // fences A's writer of p

  const auto key = events::secret_key::random();
  auto zombie = append_with_key(*s.a_log, a.keys.get(), id, a.keys->wrap(id, key));
  REQUIRE_FALSE(zombie.outcome.has_value());
  INFO(zombie.outcome.error().message());
  CHECK((zombie.outcome.error().code == events::errc::fenced ||
         zombie.outcome.error().code == events::errc::outcome_unknown));
  // Everything p's partitions hold is applied: neither the key nor the record is there.
  REQUIRE(b.replica->catch_up(p, 30s).has_value());
  CHECK_FALSE(b.key_of(id).has_value());
  auto held = a.keys->held({id});
  REQUIRE(held.has_value());
  CHECK(held.value().empty());
  auto records = s.b_log->read(p, end_before.value(), 100, 1s);
  REQUIRE(records.has_value());
  for (const auto& r : records.value()) CHECK(r.key != id());
}

TEST_CASE("a shred of a key committed with its record deletes it on every server for good") {
  test::two_servers s("kjournal");
  key_server a(*s.a_log, s.dir.sub("a"), s.master, projections::away_options{}, true);
  auto b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master);

  const case_id id{"410100-20261202-000011"}, kept{"410100-20261202-000012"};
  for (const auto& c : {id, kept}) {
    const auto key = events::secret_key::random();
    auto r = append_with_key(*s.a_log, a.keys.get(), c, a.keys->wrap(c, key));
    REQUIRE_MESSAGE(r.outcome.has_value(),
                    (r.outcome ? std::string{} : r.outcome.error().message()));
  }
  REQUIRE(b->key_of(id).has_value());

  REQUIRE(a.keys->shred({id}).has_value());
  CHECK_FALSE(a.key_of(id).has_value());
  CHECK(test::eventually([&] { return !b->key_of(id).has_value(); }, 30s));
  auto stored = b->keys->stored_record(id());
  REQUIRE(stored.has_value());
  CHECK_FALSE(stored.value().has_value());
  // B restarted from its own offsets: still gone; the other case's key stays everywhere.
  b.reset();
  b = std::make_unique<key_server>(*s.b_log, s.dir.sub("b"), s.master);
  CHECK_FALSE(b->key_of(id).has_value());
  CHECK(b->key_of(kept).has_value());
  CHECK(a.key_of(kept).has_value());
  // A server that copies keys from the journal does not bring it back either.
  REQUIRE(a.replica->catch_up(events::partition_for(id(), partitions), 30s).has_value());
  CHECK_FALSE(a.key_of(id).has_value());
}
