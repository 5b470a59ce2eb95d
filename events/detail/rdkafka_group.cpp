#include "events/detail/rdkafka_group.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "core/time.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/thread_name.h"

namespace caseline::events::detail {

namespace {

using clock = std::chrono::steady_clock;
using error_ptr = rdkafka_ptr<rd_kafka_error_t>;

constexpr std::chrono::milliseconds claim_retry{1000};
// Between replacements of a stopped writer of the same partition: doubling from the first to the
// last while they follow each other (a writer that lasted `reclaim_backoff_max` starts it again).
constexpr std::chrono::milliseconds reclaim_backoff_min{1000};
constexpr std::chrono::milliseconds reclaim_backoff_max{10'000};
constexpr int poll_ms = 100;

void log_error(const char* what, const rd_kafka_error_t* e) {
  spdlog::warn(
      "{}", log_line("kafka_group_error", {{"what", what}, {"error", rd_kafka_error_string(e)}}));
}

}  // namespace

kafka_group::kafka_group(config cfg)
    : cfg_(std::move(cfg)),
      owned_(new std::atomic<bool>[static_cast<std::size_t>(cfg_.partitions)]) {
  for (std::int32_t p = 0; p < cfg_.partitions; ++p) owned_[p].store(false);
}

kafka_group::~kafka_group() { leave(); }

std::string kafka_group::transactional_id(const std::string& group, const std::string& topic,
                                          partition_id p) {
  return "caseline." + group + "." + topic + "." + std::to_string(p());
}

result<void> kafka_group::join(ownership_listener& listener) {
  std::lock_guard lk(membership_mu_);
  if (thread_.joinable()) return make_error(errc::bad_config, "already a member of the group");
  auto conf = make_conf(cfg_.consumer);
  if (!conf) return std::move(conf).error();
  rd_kafka_conf_set_opaque(conf.value().get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.value().get(), &kafka_group::on_rebalance);
  auto rk = make_handle(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!rk) return std::move(rk).error();
  rd_kafka_poll_set_consumer(rk.value().get());
  partition_list_ptr topics{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(topics.get(), cfg_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (const auto err = rd_kafka_subscribe(rk.value().get(), topics.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    (void)rd_kafka_consumer_close(rk.value().get());  // never joined: nothing to revoke
    return translate(err, "subscribe");
  }
  consumer_ = std::move(rk).value();
  listener_ = &listener;
  stop_.store(false);
  thread_ = std::thread([this] {
    name_this_thread("kafka-group");
    run();
  });
  return success();
}

void kafka_group::leave() {
  std::lock_guard lk(membership_mu_);
  if (!thread_.joinable()) return;
  stop_.store(true);
  thread_.join();
  consumer_.reset();
  listener_ = nullptr;
}

bool kafka_group::owns(partition_id p) const {
  return p() >= 0 && p() < cfg_.partitions && owned_[p()].load();
}

group_status kafka_group::status() const {
  return group_status{cfg_.group, rebalances_.load(), fenced_.load(), reclaims_.load()};
}

void kafka_group::run() {
  rd_kafka_t* rk = consumer_.get();
  while (!stop_.load()) {
    message_ptr m{rd_kafka_consumer_poll(rk, poll_ms)};  // rebalances run in here
    if (m && m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Transport errors and the like: librdkafka rejoins by itself; the partitions it takes
      // away come as revocations (lost).
      spdlog::info("{}", log_line("kafka_group_event", {{"error", rd_kafka_err2name(m->err)}}));
    }
    replace_stopped();
    claim_pending();
  }
  // Leaving: a graceful close revokes every partition through the rebalance callback and tells
  // the coordinator at once, so the other members take them without waiting for the session.
  // Its error is logged only: whatever is still held is revoked below all the same.
  if (const auto err = rd_kafka_consumer_close(rk); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("{}", log_line("kafka_group_close", {{"error", rd_kafka_err2name(err)}}));
  }
  for (std::int32_t p = 0; p < cfg_.partitions; ++p) revoke(partition_id{p}, false);
}

void kafka_group::claim_pending() {
  for (auto it = pending_.begin(); it != pending_.end() && !stop_.load();) {
    const auto now = clock::now();
    if (it->second > now) {
      ++it;
      continue;
    }
    const partition_id p{it->first};
    txn_writer::config wc{.topic = cfg_.topic,
                          .partition = p,
                          .props = cfg_.producer,
                          .delivery = cfg_.delivery,
                          .init = cfg_.init,
                          .fenced_count = &fenced_,
                          .keys_topic = cfg_.keys_topic,
                          .audio_topic = cfg_.audio_topic,
                          .board = cfg_.board,
                          .journal = cfg_.journal};
    wc.props["transactional.id"] = transactional_id(cfg_.group, cfg_.topic, p);
    const partition_claim claim{p, cfg_.advertise, cfg_.group,
                                from_chrono(std::chrono::system_clock::now())};
    log_position at{};
    auto w = txn_writer::start(std::move(wc), "caseline.claim", encode_partition_claim(claim), &at);
    if (!w) {
      spdlog::warn("{}", log_line("kafka_partition_claim_failed",
                                  {{"partition", p()}, {"error", w.error().message()}}));
      it->second = now + claim_retry;
      ++it;
      continue;
    }
    {
      std::unique_lock lk(writers_mu_);
      writers_[p()] = std::shared_ptr<txn_writer>(std::move(w).value());
    }
    owned_[p()].store(true);
    it = pending_.erase(it);
    // Claimed before since the group assigned p: a stopped writer's replacement.
    auto [history, first] = claims_.try_emplace(p());
    history->second.claimed = clock::now();
    if (!first) reclaims_.fetch_add(1);
    spdlog::info("{}", log_line("kafka_partition_claimed", {{"partition", p()},
                                                            {"offset", at.offset()},
                                                            {"group", cfg_.group},
                                                            {"reclaim", !first}}));
    listener_->partition_assigned(p);
  }
}

void kafka_group::replace_stopped() {
  for (std::int32_t p = 0; p < cfg_.partitions && !stop_.load(); ++p) {
    if (!owned_[p].load()) continue;
    bool stopped = false;
    {
      std::shared_lock lk(writers_mu_);
      auto it = writers_.find(p);
      stopped = it != writers_.end() && it->second->stopped();
    }
    if (!stopped) continue;
    // The group still names this member p's owner, but its writer commits nothing more: whoever
    // fenced it (a zombie acting on a stale assignment, or a broker that failed a commit) would
    // otherwise keep p unwritten until the next rebalance. Released as lost (this writer may
    // have been fenced), then claimed again after the backoff.
    auto& h = claims_[p];
    const auto now = clock::now();
    h.backoff = h.backoff.count() == 0 || now - h.claimed >= reclaim_backoff_max
                    ? reclaim_backoff_min
                    : std::min(2 * h.backoff, reclaim_backoff_max);
    spdlog::warn("{}", log_line("kafka_writer_replaced", {{"partition", p},
                                                          {"backoff_ms", h.backoff.count()},
                                                          {"group", cfg_.group}}));
    release(partition_id{p}, true);
    pending_[p] = now + h.backoff;
  }
}

void kafka_group::revoke(partition_id p, bool lost) {
  claims_.erase(p());
  if (pending_.erase(p()) > 0) return;  // not claimed now: the listener heard it is not ours
  if (owned_[p()].load()) release(p, lost);
}

void kafka_group::release(partition_id p, bool lost) {
  if (!owned_[p()].exchange(false)) return;
  listener_->partition_revoked(p, lost);
  std::shared_ptr<txn_writer> w;
  {
    std::unique_lock lk(writers_mu_);
    auto it = writers_.find(p());
    if (it != writers_.end()) {
      w = std::move(it->second);
      writers_.erase(it);
    }
  }
  // Appends issued before the listener returned are committed (or fail) before p is handed
  // over; later ones get not_owner.
  if (w) w->finish();
  spdlog::info("{}", log_line("kafka_partition_revoked",
                              {{"partition", p()}, {"lost", lost}, {"group", cfg_.group}}));
}

void kafka_group::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<kafka_group*>(opaque)->rebalance(rk, err, partitions);
}

void kafka_group::rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t* partitions) {
  rebalances_.fetch_add(1);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (error_ptr e{rd_kafka_incremental_assign(rk, partitions)}; e) {
      return log_error("incremental_assign", e.get());
    }
    // The group consumer reads nothing: it is there for the protocol. Its pause error is
    // deliberately ignored (at worst it fetches records it drops).
    (void)rd_kafka_pause_partitions(rk, partitions);
    for (int i = 0; i < partitions->cnt; ++i) {
      const std::int32_t p = partitions->elems[i].partition;
      if (p >= 0 && p < cfg_.partitions) pending_[p] = clock::now();
    }
    return;
  }
  // A revocation, a loss, or an error of the protocol (then treated as a loss: another member
  // may hold them already).
  const bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk);
  for (int i = 0; i < partitions->cnt; ++i) {
    const std::int32_t p = partitions->elems[i].partition;
    if (p >= 0 && p < cfg_.partitions) revoke(partition_id{p}, lost);
  }
  if (error_ptr e{rd_kafka_incremental_unassign(rk, partitions)}; e) {
    log_error("incremental_unassign", e.get());
  }
}

template <typename Enqueue>
void kafka_group::to_writer(partition_id p, event_log::append_handler& handler,
                            const Enqueue& enqueue) {
  {
    std::shared_lock lk(writers_mu_);
    auto it = writers_.find(p());
    if (it != writers_.end() && enqueue(*it->second)) return;
  }
  refuse(std::move(handler),
         make_error(errc::not_owner, "partition " + std::to_string(p()) +
                                         " is not this server's (group " + cfg_.group + ")"));
}

void kafka_group::append(partition_id p, std::string key, std::string value,
                         event_log::append_handler handler) {
  to_writer(p, handler, [&](txn_writer& w) { return w.append(key, value, handler); });
}

void kafka_group::append_side(txn_writer::destination to, partition_id p, std::string key,
                              std::string value, event_log::append_handler handler) {
  to_writer(p, handler, [&](txn_writer& w) { return w.append_side(to, key, value, handler); });
}

void kafka_group::append_with_key(partition_id p, std::string key, std::string value,
                                  journaled_key k, event_log::append_handler handler) {
  to_writer(p, handler, [&](txn_writer& w) { return w.append_with_key(key, value, k, handler); });
}

void kafka_group::refuse(event_log::append_handler handler, error e) {
  {
    std::lock_guard lk(refused_mu_);
    ++refused_posted_;
  }
  std::function<void()> task = [this, handler = std::move(handler), e = std::move(e)] {
    handler(e);
    {
      std::lock_guard lk(refused_mu_);
      ++refused_done_;
    }
    refused_cv_.notify_all();
  };
  if (!refusals_.post(task)) task();  // shutting down: no log thread is left to run it
}

result<void> kafka_group::flush(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  std::vector<std::shared_ptr<txn_writer>> writers;
  {
    std::shared_lock lk(writers_mu_);
    for (const auto& [p, w] : writers_) writers.push_back(w);
  }
  for (const auto& w : writers) {
    if (auto r = w->flush(deadline); !r) return r;
  }
  std::unique_lock lk(refused_mu_);
  const std::uint64_t target = refused_posted_;
  if (!refused_cv_.wait_until(lk, deadline, [&] { return refused_done_ >= target; })) {
    return make_error(errc::timed_out, "refused appends not yet answered");
  }
  return success();
}

}  // namespace caseline::events::detail
