#include "projections/rebuild.h"

#include "tests/projections/scenarios.h"

namespace caseline::projections::testing {
namespace {

TEST_CASE("a rebuild from offset 0 gives byte-identical families and reports") {
  rebuild_is_identical(backend::embedded);
}

TEST_CASE("Art. 23, 46: at least 30% of each center's month revisited at every point, the same on replay") {
  revisit_sample_holds_at_every_point(backend::embedded);
}

TEST_CASE("a crash between consuming and committing counts nothing twice") {
  crash_between_consume_and_commit(backend::embedded);
}

}  // namespace
}  // namespace caseline::projections::testing
