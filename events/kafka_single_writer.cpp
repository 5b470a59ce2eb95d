#include "events/kafka_single_writer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/detail/rdkafka_consumer.h"
#include "events/detail/rdkafka_handle.h"
#include "events/errc.h"
#include "events/thread_name.h"

namespace caseline::events {

std::string single_writer_group(std::string_view topic) {
  return "caseline." + std::string(topic) + ".single-writer";
}

namespace {

constexpr int poll_ms = 200;

// The other members of the group as the coordinator lists them ("client-id at /host"), for the
// refusal's message; empty when the listing fails.
std::string other_members(rd_kafka_t* rk, const std::string& group) {
  const rd_kafka_group_list* list = nullptr;
  if (rd_kafka_list_groups(rk, group.c_str(), &list, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      list == nullptr)
    return {};
  char* mine_raw = rd_kafka_memberid(rk);
  const std::string mine = mine_raw ? mine_raw : "";
  if (mine_raw) rd_kafka_mem_free(rk, mine_raw);
  std::string out;
  for (int g = 0; g < list->group_cnt; ++g)
    for (int m = 0; m < list->groups[g].member_cnt; ++m) {
      const auto& member = list->groups[g].members[m];
      if (member.member_id && member.member_id == mine) continue;
      out += fmt::format("{}{} at {}", out.empty() ? "" : ", ",
                         member.client_id ? member.client_id : "?",
                         member.client_host ? member.client_host : "?");
    }
  rd_kafka_group_list_destroy(list);
  return out;
}

}  // namespace

class single_writer_claim::impl {
 public:
  explicit impl(single_writer_options o) : o_(std::move(o)) {}

  // Joins the group with `conf` (this impl as the rebalance callback's opaque) and polls it on a
  // thread of its own.
  result<void> start(detail::conf_ptr conf) {
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &impl::on_rebalance);
    auto rk = detail::make_handle(RD_KAFKA_CONSUMER, std::move(conf));
    if (!rk) return std::move(rk).error();
    rd_kafka_poll_set_consumer(rk.value().get());
    detail::partition_list_ptr topics{rd_kafka_topic_partition_list_new(1)};
    rd_kafka_topic_partition_list_add(topics.get(), o_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (const auto err = rd_kafka_subscribe(rk.value().get(), topics.get());
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)rd_kafka_consumer_close(rk.value().get());
      return detail::translate(err, "subscribe to the single-writer group");
    }
    rk_ = std::move(rk).value();
    thread_ = std::thread([this] {
      name_this_thread("kafka-single");
      run();
    });
    return success();
  }

  ~impl() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    // Static membership: the coordinator keeps it until the session timeout (no leave).
    if (rk_) (void)rd_kafka_consumer_close(rk_.get());
  }

  // Waits until the group gives this member every partition; false after `wait`.
  bool wait_for_all(std::chrono::milliseconds wait) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(
        lk, wait, [&] { return static_cast<std::int32_t>(assigned_.size()) == o_.partitions; });
  }

  std::size_t assigned() const {
    std::lock_guard lk(mu_);
    return assigned_.size();
  }

  rd_kafka_t* handle() { return rk_.get(); }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<impl*>(opaque)->rebalance(rk, err, partitions);
  }

 private:
  void run() {
    while (!stop_.load()) {
      // Rebalances run in here; the partitions are paused, so records come only by accident.
      detail::message_ptr m{rd_kafka_consumer_poll(rk_.get(), poll_ms)};
      if (m && m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        spdlog::info("{}", log_line("kafka_single_writer_event",
                                    {{"topic", o_.topic}, {"error", rd_kafka_err2name(m->err)}}));
    }
  }

  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions) {
    const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (assign) {
      if (detail::rdkafka_ptr<rd_kafka_error_t> e{rd_kafka_incremental_assign(rk, partitions)}; e)
        spdlog::warn("{}",
                     log_line("kafka_single_writer_assign_failed",
                              {{"topic", o_.topic}, {"error", rd_kafka_error_string(e.get())}}));
      (void)rd_kafka_pause_partitions(rk, partitions);
    } else if (detail::rdkafka_ptr<rd_kafka_error_t> e{
                   rd_kafka_incremental_unassign(rk, partitions)};
               e) {
      spdlog::warn("{}",
                   log_line("kafka_single_writer_unassign_failed",
                            {{"topic", o_.topic}, {"error", rd_kafka_error_string(e.get())}}));
    }
    std::size_t now = 0;
    bool was_all = false;
    {
      std::lock_guard lk(mu_);
      was_all = static_cast<std::int32_t>(assigned_.size()) == o_.partitions;
      for (int i = 0; i < partitions->cnt; ++i) {
        const std::int32_t p = partitions->elems[i].partition;
        if (assign)
          assigned_.insert(p);
        else
          assigned_.erase(p);
      }
      now = assigned_.size();
    }
    cv_.notify_all();
    if (was_all && !assign)
      spdlog::warn("{}", log_line("kafka_single_writer_contested",
                                  {{"topic", o_.topic},
                                   {"group", single_writer_group(o_.topic)},
                                   {"partitions_held", now},
                                   {"hint",
                                    "another caseline server without --group joined this "
                                    "topic's single-writer group; it is refused"}}));
  }

  single_writer_options o_;
  detail::handle_ptr rk_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::int32_t> assigned_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

single_writer_claim::single_writer_claim(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
single_writer_claim::~single_writer_claim() = default;

result<std::unique_ptr<single_writer_claim>> single_writer_claim::acquire(
    const single_writer_options& o) {
  const std::string group = single_writer_group(o.topic);
  detail::properties p{
      {"bootstrap.servers", o.brokers},
      {"client.id", o.client_id},
      {"group.id", group},
      {"group.instance.id", o.instance},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"session.timeout.ms", std::to_string(o.session_timeout.count())},
      {"heartbeat.interval.ms",
       std::to_string(std::clamp<std::int64_t>(o.session_timeout.count() / 3, 100, 3000))},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "latest"},
      {"allow.auto.create.topics", "false"},
      {"socket.nagle.disable", "true"},
      {"reconnect.backoff.max.ms", "1000"},
  };
  auto conf = detail::make_conf(p);
  if (!conf) return std::move(conf).error();
  auto claim = std::make_unique<impl>(o);
  if (auto r = claim->start(std::move(conf).value()); !r) return r.error();
  if (!claim->wait_for_all(o.wait)) {
    const auto others = other_members(claim->handle(), group);
    return make_error(
        errc::bad_config,
        fmt::format("another caseline server writes topic {} without --group: its single-writer "
                    "group {} gave this server {} of its {} partitions in {} s (the others are "
                    "held by {}). A topic has one server without --group, or servers that all "
                    "run with the same --group",
                    o.topic, group, claim->assigned(), o.partitions,
                    std::chrono::duration_cast<std::chrono::seconds>(o.wait).count(),
                    others.empty() ? std::string("another member") : others));
  }
  spdlog::info("{}", log_line("kafka_single_writer_claimed",
                              {{"topic", o.topic}, {"group", group}, {"instance", o.instance}}));
  return std::unique_ptr<single_writer_claim>(new single_writer_claim(std::move(claim)));
}

}  // namespace caseline::events
