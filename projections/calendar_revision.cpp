#include "projections/calendar_revision.h"

#include <condition_variable>
#include <map>
#include <memory>

#include <rocksdb/db.h>

#include "core/errc.h"
#include "events/errc.h"
#include "events/storage/scan.h"
#include "projections/row_keys.h"
#include "projections/server_state.h"
#include "projections/sla_index.h"

namespace caseline::projections {

result<revision_stats> deadline_reviser::tick(timestamp /*now*/) {
  revision_stats stats;
  const auto cal = calendar_.snapshot();
  if (!cal) return stats;
  auto swept = read_server_state(store_, server_state_key::calendar_revised);
  if (!swept) return swept.error();
  if (swept.value() && *swept.value() == cal->version()) return stats;
  stats.swept = true;

  // Every pending deadline is listed under the scope "*" (sla_index.h): the cases to revise,
  // with the center that owns each (the actor of the revision).
  std::map<std::string, center_code> cases;
  auto pending =
      storage::scan(store_.db(), store_.cf(family::sla_deadlines),
                    {keys::deadline::prefix(keys::worklist_scope(scope::everything())), {}, {}},
                    "read the deadline index",
                    [&](std::string_view, std::string_view value) -> result<storage::scan_step> {
                      auto row = decode_deadline_row(value);
                      if (!row) return row.error();
                      if (row.value().basis.calendar != cal->version())
                        cases.emplace(row.value().id(), row.value().center);
                      return storage::scan_step::next;
                    });
  if (!pending) return pending.error();
  stats.cases = cases.size();

  struct outcomes {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t left{0};
    std::uint64_t revised{0}, failed{0};
  };
  auto out = std::make_shared<outcomes>();
  out->left = cases.size();
  for (const auto& [id, center] : cases) {
    command_request req;
    req.id = case_id{id};
    req.cmd = core::revise_deadlines{};
    req.who = core::actor{user_id{user_}, core::role::supervisor, center, {}};
    req.correlation_id = "calendar/" + cal->version() + "/" + id;
    writer_.submit(std::move(req), [out](result<command_outcome> r) {
      std::lock_guard lk(out->mu);
      // A rule error (the case closed meanwhile) leaves nothing to revise; anything else is
      // tried again at the next tick.
      if (r && r.value().position) ++out->revised;
      else if (!r && r.error().code.category() != core::error_category()) ++out->failed;
      if (--out->left == 0) out->cv.notify_all();
    });
  }
  std::unique_lock lk(out->mu);
  if (!out->cv.wait_for(lk, timeout_, [&] { return out->left == 0; }))
    return make_error(events::errc::timed_out, "the deadline revision did not finish in time");
  stats.revised = out->revised;
  stats.failed = out->failed;
  if (stats.failed == 0)
    if (auto w = write_server_state(store_, server_state_key::calendar_revised, cal->version()); !w)
      return w.error();
  return stats;
}

}  // namespace caseline::projections
