#pragma once

// The Art. 38 retention purge as a job of the running server (POST /v1/admin/retention/purge,
// GET /v1/admin/retention/purge/{id}): what a job was asked, how far it is, what it did.

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "events/event_log.h"
#include "projections/retention.h"

namespace caseline::gateway {

struct purge_order {
  civil_date as_of;
  bool dry_run{false};
  // Only these partitions of the log; none: every partition. A server of a group that fans a
  // purge out asks each owner for its partitions.
  std::optional<std::vector<events::partition_id>> partitions;
  bool forwarded{false};  // asked by another server of the group: no fan-out from here
};

// A partition a job did not purge, and why (its owner unreachable, no owner known, moving).
struct purge_gap {
  events::partition_id partition;
  std::optional<std::string> owner;
  std::string reason;
};

// How many of each list a job's answer shows (the counts are always whole).
inline constexpr std::size_t purge_items_shown = 1000;

// What a job's status answer shows: counts and the first purge_items_shown items of each list.
struct purge_report {
  std::string id;
  purge_order order;
  // running | done | partial | failed; interrupted: it was running when its server stopped
  // without ending it (a kill, a crash), read back after the restart
  std::string status{"running"};
  std::size_t planned{0}, purged{0}, refused{0}, failed{0};
  int rounds{0};  // 1, and one more for each hand-over of partitions that moved
  std::vector<events::partition_id> partitions_done;
  std::vector<purge_gap> partitions_not_done;
  std::vector<std::string> purged_items, refused_items, failed_items;
  std::optional<std::string> error;  // why the job stopped before the end (status failed)
  std::optional<timestamp> started, finished;  // by the server's clock

  // Adds another's lists and counts (a part done by another server of the group, or locally).
  void merge(const purge_report& part);
  void merge(const projections::purge_outcome& outcome);
};

// What one round of a job leaves to the next: the partitions it did, those it did not (each
// with the owner that had it and why: moving, unreachable, stopped) and the items whose partition
// moved before they were decided (projections::moved_item). A job re-routes the partitions not
// done to their new owners, a few rounds within a deadline.
struct purge_round {
  std::vector<events::partition_id> done;
  std::vector<purge_gap> gaps;
  std::vector<projections::moved_item> moved;
};

// One job: run on a thread of its own. The body updates `report` under `mu` and reads `cancel`.
struct purge_job {
  purge_report report;  // guarded by mu; the counts of the local part come from `progress`
  projections::purge_progress progress;
  std::atomic<bool> cancel{false};
  mutable std::mutex mu;
  // A snapshot: `report` with the local purge's progress added while it runs.
  purge_report snapshot() const;
};

// The jobs of one server: at most one runs at a time; the last few finished stay in memory. Each
// job's status is also saved in the server's store (handlers/retention_purge.cpp), so that after
// a restart it is read from there (a job that was running then is `interrupted`: its purges
// are in the log, and running the purge again finishes what it left, purging nothing twice).
//
// Lifecycle: one per api; stop() cancels the running job and joins its thread before the write
// side goes (api::stop). Thread-safe.
class purge_jobs {
 public:
  using body = std::function<void(purge_job&)>;
  purge_jobs() = default;
  ~purge_jobs();
  purge_jobs(const purge_jobs&) = delete;
  purge_jobs& operator=(const purge_jobs&) = delete;

  // Starts `run` for `order` as a new job, started at `now`; when one runs already, returns
  // nullptr and that one's id in `running`.
  std::shared_ptr<purge_job> start(purge_order order, timestamp now, body run,
                                   std::string& running);
  std::shared_ptr<const purge_job> find(const std::string& id) const;
  void stop();

 private:
  static constexpr std::size_t kept_ = 16;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<purge_job>> jobs_;  // guarded by mu_
  std::vector<std::string> order_;                          // ids, oldest first; guarded by mu_
  std::shared_ptr<purge_job> running_;                      // guarded by mu_
  std::thread thread_;                                      // guarded by mu_
  bool stopped_{false};                                     // guarded by mu_
};

}  // namespace caseline::gateway
