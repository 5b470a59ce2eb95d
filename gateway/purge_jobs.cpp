#include "gateway/purge_jobs.h"

#include <algorithm>
#include <cstdint>
#include <random>

#include <fmt/format.h>

#include "events/thread_name.h"

namespace caseline::gateway {

namespace {

void append_shown(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& item : from) {
    if (to.size() >= purge_items_shown) return;
    to.push_back(item);
  }
}

std::string new_job_id() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> any;
  return fmt::format("{:016x}", any(rd));
}

}  // namespace

void purge_report::merge(const purge_report& part) {
  planned += part.planned;
  purged += part.purged;
  refused += part.refused;
  failed += part.failed;
  append_shown(purged_items, part.purged_items);
  append_shown(refused_items, part.refused_items);
  append_shown(failed_items, part.failed_items);
  partitions_done.insert(partitions_done.end(), part.partitions_done.begin(),
                         part.partitions_done.end());
  partitions_not_done.insert(partitions_not_done.end(), part.partitions_not_done.begin(),
                             part.partitions_not_done.end());
}

void purge_report::merge(const projections::purge_outcome& outcome) {
  purged += outcome.done.size();
  refused += outcome.refused.size();
  failed += outcome.failed.size();
  append_shown(purged_items, outcome.done);
  append_shown(refused_items, outcome.refused);
  append_shown(failed_items, outcome.failed);
}

purge_report purge_job::snapshot() const {
  std::lock_guard lk(mu);
  purge_report r = report;
  if (r.status == "running") {
    // The local part's counts as it goes (merged into `report` once it has finished).
    r.planned += progress.planned.load();
    r.purged += progress.done.load();
    r.refused += progress.refused.load();
    r.failed += progress.failed.load();
  }
  std::sort(r.partitions_done.begin(), r.partitions_done.end());
  return r;
}

purge_jobs::~purge_jobs() { stop(); }

std::shared_ptr<purge_job> purge_jobs::start(purge_order order, timestamp now, body run,
                                             std::string& running) {
  std::unique_lock lk(mu_);
  if (stopped_) return nullptr;
  if (running_ && running_->snapshot().status != "running" && thread_.joinable()) {
    // Its body has ended but for returning (it shows its end last): its thread ends at once.
    auto t = std::move(thread_);
    lk.unlock();
    t.join();
    lk.lock();
    if (stopped_) return nullptr;
  }
  if (running_) {
    running = running_->report.id;
    return nullptr;
  }
  // The previous job's thread has finished (it cleared running_ last).
  if (thread_.joinable()) thread_.join();
  auto job = std::make_shared<purge_job>();
  job->report.id = new_job_id();
  job->report.order = std::move(order);
  job->report.started = now;
  jobs_[job->report.id] = job;
  order_.push_back(job->report.id);
  while (order_.size() > kept_) {
    jobs_.erase(order_.front());
    order_.erase(order_.begin());
  }
  running_ = job;
  thread_ = std::thread([this, job, run = std::move(run)] {
    events::name_this_thread("purge-job");
    run(*job);
    std::lock_guard done(mu_);
    running_.reset();
  });
  return job;
}

std::shared_ptr<const purge_job> purge_jobs::find(const std::string& id) const {
  std::lock_guard lk(mu_);
  const auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

void purge_jobs::stop() {
  std::thread t;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    if (running_) running_->cancel.store(true);
    t = std::move(thread_);
  }
  if (t.joinable()) t.join();
}

}  // namespace caseline::gateway
