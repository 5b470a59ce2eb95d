// The projection tests that use a log, on the real Kafka broker (KAFKA_BOOTSTRAP, set by the
// test command; without it these tests fail, they are never skipped). One topic per test.
#include "projections/rebuild.h"

#include "tests/projections/scenarios.h"

namespace caseline::projections::testing {
namespace {

TEST_CASE("kafka: each passed deadline is reminded exactly once, across restarts") {
  reminder_exactly_once(backend::kafka);
}

TEST_CASE("kafka: a rebuild from offset 0 gives byte-identical families and reports") {
  rebuild_is_identical(backend::kafka);
}

TEST_CASE("kafka: Art. 23, 46: at least 30% of each center's month revisited at every point, the same on replay") {
  revisit_sample_holds_at_every_point(backend::kafka);
}

TEST_CASE("kafka: a crash between consuming and committing counts nothing twice") {
  crash_between_consume_and_commit(backend::kafka);
}

}  // namespace
}  // namespace caseline::projections::testing
