#include "events/checkpoint.h"

#include <set>

#include <doctest/doctest.h>

#include "events/detail/big_endian.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "tests/events/event_log_test_support.h"
#include "tests/events/forwarding_log.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace caseline;
using namespace caseline::events;
using caseline::events::testing::ack_collector;
using caseline::events::testing::read_all;

// A fresh log folder; open() (re)opens the embedded log there.
struct log_dir {
  std::unique_ptr<event_log> open() {
    auto log = open_embedded_log({.dir = (dir.path() / "log").string(), .partitions = 3});
    REQUIRE_MESSAGE(log.has_value(), (log ? std::string{} : log.error().message()));
    return std::move(log).value();
  }
  caseline::test::temp_dir dir;
};

// Appends `n` records of `key` and waits for them.
void append(event_log& log, const std::string& key, int n) {
  ack_collector acks;
  for (int i = 0; i < n; ++i) acks.append(log, key, key + " record " + std::to_string(i));
  for (const auto& a : acks.wait_for(static_cast<std::size_t>(n)))
    REQUIRE(a.outcome.has_value());
}

// The checkpoints of a partition, with their own offsets.
std::vector<std::pair<std::int64_t, checkpoint>> checkpoints(event_log& log, partition_id p) {
  std::vector<std::pair<std::int64_t, checkpoint>> out;
  for (const auto& r : read_all(log, p)) {
    if (!is_checkpoint(r.value)) continue;
    auto c = decode_checkpoint(r.value);
    REQUIRE(c.has_value());
    out.emplace_back(r.position.offset(), c.value());
  }
  return out;
}

// h(last) recomputed from offset 0 with nothing but the definition in events/checkpoint.h.
std::string recompute(event_log& log, partition_id p, std::int64_t last) {
  std::string h(32, '\0');
  for (const auto& r : read_all(log, p)) {
    if (r.position.offset() > last) break;
    std::string in = h;
    detail::put_be32(in, static_cast<std::uint32_t>(p()));
    detail::put_be64(in, static_cast<std::uint64_t>(r.position.offset()));
    detail::put_be32(in, static_cast<std::uint32_t>(r.key.size()));
    in += r.key;
    in += sha256(r.value);
    h = sha256(in);
  }
  return h;
}

const std::string key_a = "410100-20250303-000001";
const std::string key_b = "410100-20250303-000002";

}  // namespace

TEST_CASE("a checkpoint record round-trips and is never taken for an event record") {
  const checkpoint c{partition_id{2}, log_offset{41}, std::string(32, '\x5a'), timestamp{1234}};
  const std::string bytes = encode_checkpoint(c);
  CHECK(is_checkpoint(bytes));
  CHECK(decode_checkpoint(bytes).value() == c);
  CHECK(decode_record(bytes).error().code == errc::corrupt_record);
  CHECK_FALSE(is_checkpoint(encode_record(record{{"x"}, {}})));
  CHECK(decode_checkpoint(encode_record(record{{"x"}, {}})).error().code == errc::corrupt_record);
  checkpoint short_hash = c;
  short_hash.running_hash = "abc";
  CHECK(decode_checkpoint(encode_checkpoint(short_hash)).error().code == errc::corrupt_record);
}

TEST_CASE("the partition hasher folds records by the documented definition, in offset order") {
  log_dir dir;
  auto log = dir.open();
  append(*log, key_a, 5);
  const partition_id p = partition_for(key_a, 3);
  partition_hasher h(p);
  CHECK(h.hash() == std::string(32, '\0'));
  const auto records = read_all(*log, p);
  for (const auto& r : records) REQUIRE(h.add(r).has_value());
  CHECK(h.next() == log_offset{5});
  CHECK(h.hash() == recompute(*log, p, 4));
  // Out of order, or another partition's record, is refused.
  CHECK(h.add(records[0]).error().code == errc::corrupt_record);
  // A change anywhere changes the hash: the key, the value, the offset.
  auto edited = records;
  edited[2].value += "!";
  partition_hasher h2(p);
  for (const auto& r : edited) REQUIRE(h2.add(r).has_value());
  CHECK(h2.hash() != h.hash());
}

TEST_CASE("tick writes a checkpoint to each partition whose end moved, covering all before it") {
  log_dir dir;
  auto log = dir.open();
  const partition_id pa = partition_for(key_a, 3);
  const partition_id pb = partition_for(key_b, 3);
  append(*log, key_a, 4);
  append(*log, key_b, 2);
  checkpointer cp(*log, {.now = [] { return timestamp{777}; }});

  auto first = cp.tick();
  REQUIRE_MESSAGE(first.has_value(), (first ? std::string{} : first.error().message()));
  const int moved = pa == pb ? 1 : 2;
  CHECK(first.value().written == moved);
  CHECK(first.value().records_hashed == 6);
  auto cps = checkpoints(*log, pa);
  REQUIRE(cps.size() == 1);
  const std::int64_t last = pa == pb ? 5 : 3;
  CHECK(cps[0].first == last + 1);
  CHECK(cps[0].second.partition == pa);
  CHECK(cps[0].second.last_offset == log_offset{last});
  CHECK(cps[0].second.running_hash == recompute(*log, pa, last));
  CHECK(cps[0].second.written_at == timestamp{777});

  SUBCASE("nothing new: nothing written") {
    auto again = cp.tick();
    REQUIRE(again.has_value());
    CHECK(again.value().written == 0);
    CHECK(checkpoints(*log, pa).size() == 1);
  }
  SUBCASE("new records: the next checkpoint covers them and the previous checkpoint") {
    append(*log, key_a, 3);
    auto again = cp.tick();
    REQUIRE(again.has_value());
    CHECK(again.value().written == 1);
    cps = checkpoints(*log, pa);
    REQUIRE(cps.size() == 2);
    const auto end = static_cast<std::int64_t>(read_all(*log, pa).size());
    CHECK(cps[1].first == end - 1);
    CHECK(cps[1].second.last_offset == log_offset{end - 2});
    CHECK(cps[1].second.running_hash == recompute(*log, pa, end - 2));
  }
  SUBCASE("a new checkpointer resumes from the last checkpoint in the log") {
    log.reset();
    log = dir.open();
    checkpointer resumed(*log);
    auto none = resumed.tick();
    REQUIRE(none.has_value());
    CHECK(none.value().written == 0);
    append(*log, key_a, 2);
    auto one = resumed.tick();
    REQUIRE(one.has_value());
    CHECK(one.value().written == 1);
    CHECK(one.value().records_hashed == 3);  // the old checkpoint and the two new records
    cps = checkpoints(*log, pa);
    REQUIRE(cps.size() == 2);
    CHECK(cps[1].second.running_hash == recompute(*log, pa, cps[1].second.last_offset()));
  }
  SUBCASE("resuming reads back window by window until it finds the last checkpoint") {
    append(*log, key_a, 5);
    checkpoint_options small;
    small.read_batch = 2;
    checkpointer resumed(*log, small);
    auto one = resumed.tick();
    REQUIRE_MESSAGE(one.has_value(), (one ? std::string{} : one.error().message()));
    CHECK(one.value().written == 1);
    CHECK(one.value().records_hashed == 6);  // the old checkpoint and the five new records
    cps = checkpoints(*log, pa);
    REQUIRE(cps.size() == 2);
    CHECK(cps[1].second.running_hash == recompute(*log, pa, cps[1].second.last_offset()));
  }
}

// The embedded log, owning only some partitions (as a member of a Kafka group does).
class partly_owned_log final : public caseline::events::testing::forwarding_log {
 public:
  partly_owned_log(event_log& inner, std::set<std::int32_t> owned)
      : forwarding_log(inner), owned_(std::move(owned)) {}
  bool owns(partition_id p) const override { return owned_.contains(p()); }

 private:
  std::set<std::int32_t> owned_;
};

TEST_CASE("only the partitions the server owns are checkpointed") {
  log_dir dir;
  auto log = dir.open();
  const partition_id pa = partition_for(key_a, 3);
  std::string other = key_b;  // a key of another partition
  for (int i = 3; partition_for(other, 3) == pa; ++i)
    other = "410100-20250303-00000" + std::to_string(i);
  const partition_id pb = partition_for(other, 3);
  append(*log, key_a, 2);
  append(*log, other, 2);
  partly_owned_log owner_of_a(*log, {pa()});
  checkpointer cp(owner_of_a);
  auto ticked = cp.tick();
  REQUIRE_MESSAGE(ticked.has_value(), (ticked ? std::string{} : ticked.error().message()));
  CHECK(ticked.value().written == 1);
  CHECK(checkpoints(*log, pa).size() == 1);
  CHECK(checkpoints(*log, pb).empty());
}

TEST_CASE("the checkpoint task ticks once more when stopped") {
  log_dir dir;
  auto log = dir.open();
  append(*log, key_a, 3);
  checkpointer cp(*log);
  std::vector<error> errors;
  {
    auto t =
        start_checkpoints(cp, std::chrono::hours(1), [&](const error& e) { errors.push_back(e); });
  }  // the destructor wakes it at once: no waiting for the hour
  CHECK(errors.empty());
  CHECK(checkpoints(*log, partition_for(key_a, 3)).size() == 1);
}
