// The owners view: each partition's last claim record, applied by the runner with the offsets,
// kept across a restart without a replay.
#include "projections/partition_owners.h"

#include <future>

#include "events/record.h"
#include "tests/projections/projection_test_support.h"

namespace caseline::projections::testing {
namespace {

using events::partition_id;

events::partition_claim claim_of(std::int32_t p, std::string member, civil_date day) {
  return events::partition_claim{partition_id{p}, std::move(member), "caseline", at(day)};
}

// Appends a claim where a group member writes it: to its partition, as the first record of its
// ownership.
void append_claim(events::event_log& log, const events::partition_claim& c) {
  std::promise<result<events::log_position>> done;
  auto fut = done.get_future();
  log.append_to(c.partition, "caseline.claim", events::encode_partition_claim(c),
                [&done](result<events::log_position> r) { done.set_value(std::move(r)); });
  REQUIRE(fut.wait_for(60s) == std::future_status::ready);
  auto r = fut.get();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
}

TEST_CASE("the owners view holds each partition's last claim, and keeps it across a restart") {
  stack s;  // 4 partitions
  const auto first = claim_of(1, "http://10.0.0.1:8080", date("2026-10-12"));
  const auto second = claim_of(1, "http://10.0.0.2:8080", date("2026-10-13"));
  const auto third = claim_of(3, "http://10.0.0.1:8080", date("2026-10-12"));
  CHECK_FALSE(s.owners().owner(partition_id{1}));

  append_claim(s.log(), first);
  append_claim(s.log(), third);
  s.catch_up();
  CHECK(s.owners().owner(partition_id{1}) == first);
  CHECK(s.owners().owner(partition_id{3}) == third);
  CHECK_FALSE(s.owners().owner(partition_id{0}));

  append_claim(s.log(), second);
  s.catch_up();
  CHECK(s.owners().owner(partition_id{1}) == second);

  // The claims are no events: the cases of a claimed partition are projected as before.
  auto made = s.run(std::nullopt, recv("410100"), world::agent("410100"), at(date("2026-10-13")));
  REQUIRE_MESSAGE(made, (made ? "" : made.error().message()));

  // A restart reads the view from the store; the runner starts after the claims.
  s.close();
  {
    auto st = store::open(s.dir().sub("store"));
    REQUIRE(st);
    partition_owners view(*st.value());
    REQUIRE_FALSE(view.load_error());
    CHECK(view.owner(partition_id{1}) == second);
    CHECK(view.owner(partition_id{3}) == third);
    CHECK_FALSE(view.owner(partition_id{2}));
  }
  s.open();
  CHECK(s.owners().owner(partition_id{1}) == second);
}

}  // namespace
}  // namespace caseline::projections::testing
