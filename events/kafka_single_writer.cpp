#include "events/kafka_single_writer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <time.h>

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

std::chrono::milliseconds heartbeat_interval(std::chrono::milliseconds session_timeout) {
  return std::chrono::milliseconds(
      std::clamp<std::int64_t>(session_timeout.count() / 3, 100, 3000));
}

std::chrono::milliseconds single_writer_delivery_timeout(std::chrono::milliseconds session_timeout,
                                                         std::chrono::milliseconds configured) {
  using std::chrono::milliseconds;
  const milliseconds bound =
      std::max(milliseconds(1000),
               session_timeout - heartbeat_interval(session_timeout) - milliseconds(1000));
  return std::min(configured, bound);
}

namespace {

constexpr int poll_ms = 200;
// How often the lease's thread looks at the clock.
constexpr std::chrono::milliseconds lease_tick{100};

// Nanoseconds on CLOCK_BOOTTIME: it goes on while the process is stopped and while the machine
// is suspended, so a lease read after either is seen expired.
std::int64_t boot_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The client ids the two kinds of member go by: the coordinator lists them to every member.
constexpr const char* alone_client = "caseline-alone";
constexpr const char* group_client = "caseline-group";

struct member {
  std::string id;
  std::string client;
  std::string host;
};

// The group's members as its coordinator lists them, this one included; nullopt when the
// coordinator did not answer. librdkafka asks every broker: with one of them down the answer
// is partial (RD_KAFKA_RESP_ERR__PARTIAL), and still whole for the group when the coordinator
// is among those that answered.
std::optional<std::vector<member>> members_of(rd_kafka_t* rk, const std::string& group) {
  const rd_kafka_group_list* list = nullptr;
  const auto err = rd_kafka_list_groups(rk, group.c_str(), &list, 5000);
  std::optional<std::vector<member>> out;
  const bool answered = list != nullptr;
  bool named = false;  // the answer names the group, with its members or with an error
  if (answered) {
    for (int g = 0; g < list->group_cnt; ++g) {
      const auto& listed = list->groups[g];
      if (listed.group == nullptr || group != listed.group) continue;
      named = true;
      if (listed.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      out.emplace();
      for (int m = 0; m < listed.member_cnt; ++m) {
        const auto& x = listed.members[m];
        out->push_back({x.member_id ? x.member_id : "", x.client_id ? x.client_id : "",
                        x.client_host ? x.client_host : ""});
      }
    }
    rd_kafka_group_list_destroy(list);
  }
  // A whole answer that does not name the group: no member yet.
  if (!out && !named && answered && err == RD_KAFKA_RESP_ERR_NO_ERROR) out.emplace();
  return out;
}

std::string member_id(rd_kafka_t* rk) {
  char* raw = rd_kafka_memberid(rk);
  std::string id = raw ? raw : "";
  if (raw) rd_kafka_mem_free(rk, raw);
  return id;
}

// The other members ("client-id at /host, ..."), for a refusal's message.
std::string describe_others(rd_kafka_t* rk, const std::vector<member>& all) {
  const std::string mine = member_id(rk);
  std::string out;
  for (const auto& m : all)
    if (m.id != mine) out += fmt::format("{}{} at {}", out.empty() ? "" : ", ", m.client, m.host);
  return out.empty() ? std::string("another member") : out;
}

bool any_of_client(const std::vector<member>& all, std::string_view client,
                   std::string_view except_id) {
  return std::any_of(all.begin(), all.end(),
                     [&](const member& m) { return m.client == client && m.id != except_id; });
}

}  // namespace

class single_writer_claim::impl {
 public:
  explicit impl(single_writer_options o)
      : o_(std::move(o)),
        lease_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(o_.session_timeout).count() /
                  3),
        last_tick_ns_(now_ns()) {}

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
    if (!o_.group_member)
      lease_thread_ = std::thread([this] {
        name_this_thread("kafka-lease");
        keep_lease();
      });
    return success();
  }

  ~impl() {
    {
      std::lock_guard lk(lease_mu_);
      stop_.store(true);
    }
    lease_cv_.notify_all();
    closing_.store(true);
    if (lease_thread_.joinable()) lease_thread_.join();
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

  // Waits up to `d` for the next rebalance.
  void wait_for_rebalance(std::chrono::milliseconds d) {
    std::unique_lock lk(mu_);
    const auto seen = rebalances_;
    cv_.wait_for(lk, d, [&] { return rebalances_ != seen; });
  }

  std::size_t assigned() const {
    std::lock_guard lk(mu_);
    return assigned_.size();
  }

  rd_kafka_t* handle() { return rk_.get(); }
  void mark_claimed() { claimed_.store(true); }

  std::int64_t now_ns() const { return o_.boot_clock ? o_.boot_clock() : boot_ns(); }

  bool current() const {
    if (o_.group_member) return true;
    // The tick first: a fresh one was stored after any doubt its thread found.
    if (now_ns() - last_tick_ns_.load() >= lease_ns_) return false;
    return !doubt_.load();
  }

  void attach(ownership_listener* writer) {
    std::lock_guard lk(writer_mu_);
    writer_ = writer;
    if (writer_ && paused_)
      for (std::int32_t p = 0; p < o_.partitions; ++p)
        writer_->partition_revoked(partition_id{p}, true);
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<impl*>(opaque)->rebalance(rk, err, partitions);
  }

 private:
  void run() {
    while (!stop_.load()) {
      // Rebalances run in here; the partitions are paused, so records come only by accident.
      detail::message_ptr m{rd_kafka_consumer_poll(rk_.get(), poll_ms)};
      if (regaining_.load())
        check_regained();
      else if (doubt_.load() && !lost_.load())
        confirm_membership();
      if (!m || m->err == RD_KAFKA_RESP_ERR_NO_ERROR || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        continue;
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        // A static member fenced by another with its id: that one holds the claim now.
        char why[512] = {};
        const auto cause = rd_kafka_fatal_error(rk_.get(), why, sizeof why);
        lose(
            fmt::format("the consumer group {} fenced this server's membership ({}: {}): "
                        "another process joined it with the same member id",
                        single_writer_group(o_.topic), rd_kafka_err2name(cause), why));
        continue;
      }
      spdlog::info("{}", log_line("kafka_single_writer_event",
                                  {{"topic", o_.topic}, {"error", rd_kafka_err2name(m->err)}}));
    }
  }

  // The lease's thread: a tick every lease_tick. A gap of a third of the session timeout between
  // two ticks means the process did not run (stopped, suspended): the claim falls in doubt
  // before the tick is stored, so current() is false from the gap's end on, whichever it reads.
  void keep_lease() {
    std::unique_lock lk(lease_mu_);
    while (!stop_.load()) {
      lease_cv_.wait_for(lk, lease_tick, [&] { return stop_.load(); });
      const std::int64_t now = now_ns();
      const std::int64_t gap = now - last_tick_ns_.load();
      // Every gap is logged, even when the claim's thread found the membership ended first.
      if (gap >= lease_ns_ && claimed_.load() && !closing_.load()) {
        doubt_.store(true);
        spdlog::warn("{}", log_line("kafka_single_writer_in_doubt",
                                    {{"topic", o_.topic},
                                     {"not_running_ms", gap / 1'000'000},
                                     {"hint",
                                      "this server did not run for a while (paused or "
                                      "suspended); it writes again once the group confirms its "
                                      "membership"}}));
      }
      last_tick_ns_.store(now);
    }
  }

  // In doubt after a gap, the membership not known to have ended: the writer pauses, and the
  // group's listing decides. This member listed with every partition: nobody else held the
  // topic, the writer goes on. Not listed: its membership ended, and librdkafka hears so at its
  // next heartbeat (membership_ended, then check_regained).
  void confirm_membership() {
    pause_writer();
    const auto now = std::chrono::steady_clock::now();
    if (now < next_check_) return;
    next_check_ = now + std::chrono::seconds(1);
    const auto all = members_of(rk_.get(), single_writer_group(o_.topic));
    if (!all) return;
    const std::string mine = member_id(rk_.get());
    const bool listed = !mine.empty() && std::any_of(all->begin(), all->end(),
                                                     [&](const member& m) { return m.id == mine; });
    if (!listed || static_cast<std::int32_t>(assigned()) != o_.partitions || regaining_.load())
      return;
    spdlog::info("{}", log_line("kafka_single_writer_confirmed",
                                {{"topic", o_.topic}, {"group", single_writer_group(o_.topic)}}));
    end_doubt();
  }

  void end_doubt() {
    doubt_.store(false);
    resume_writer();
  }

  // The attached writer stops deciding (every partition revoked), or decides again (every
  // partition assigned: it reads the log to its end first). On the claim's thread.
  void pause_writer() {
    std::lock_guard lk(writer_mu_);
    if (std::exchange(paused_, true)) return;
    if (writer_)
      for (std::int32_t p = 0; p < o_.partitions; ++p)
        writer_->partition_revoked(partition_id{p}, true);
  }
  void resume_writer() {
    std::lock_guard lk(writer_mu_);
    if (!std::exchange(paused_, false)) return;
    if (writer_)
      for (std::int32_t p = 0; p < o_.partitions; ++p) writer_->partition_assigned(partition_id{p});
  }

  // After the membership ended under the holder (rebalance): librdkafka rejoins by itself. Once
  // the group gives every partition back, nobody else holds the claim: the holder writes on
  // (a broker or coordinator that was away). While another writer is a member (it joined in the
  // meantime, and holds partitions), the claim is lost. With no answer from the coordinator it
  // waits: a broker that is down stops no server.
  void check_regained() {
    if (lost_.load()) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_check_) return;
    next_check_ = now + std::chrono::seconds(1);
    if (static_cast<std::int32_t>(assigned()) == o_.partitions) {
      regaining_.store(false);
      others_seen_ = 0;
      spdlog::warn("{}", log_line("kafka_single_writer_regained",
                                  {{"topic", o_.topic}, {"group", single_writer_group(o_.topic)}}));
      end_doubt();
      return;
    }
    const auto all = members_of(rk_.get(), single_writer_group(o_.topic));
    if (!all) return;
    const std::string mine = member_id(rk_.get());
    // Seen twice, a second apart, with this member's own id known: not this one's own join
    // listed before librdkafka knew its id.
    const bool other = !mine.empty() && (any_of_client(*all, alone_client, mine) ||
                                         any_of_client(*all, group_client, mine));
    others_seen_ = other ? others_seen_ + 1 : 0;
    if (others_seen_ >= 2)
      lose(
          fmt::format("its membership of the consumer group {} ended (it was paused, or cut off "
                      "from the group's coordinator, for longer than the session timeout) and "
                      "another server took the topic meanwhile ({})",
                      single_writer_group(o_.topic), describe_others(rk_.get(), *all)));
  }

  // Once: the claim is gone (the writer's on_lost).
  void lose(const std::string& reason) {
    if (o_.group_member || !claimed_.load() || closing_.load() || lost_.exchange(true)) return;
    doubt_.store(true);  // for good
    pause_writer();
    spdlog::error("{}",
                  log_line("kafka_single_writer_lost", {{"topic", o_.topic},
                                                        {"group", single_writer_group(o_.topic)},
                                                        {"reason", reason}}));
    if (o_.on_lost) o_.on_lost(reason);
  }

  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions) {
    const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    // Lost, not handed over: the membership ended (a session past its timeout, or an error of
    // the protocol); another writer may hold every partition already.
    const bool lost = !assign && (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ||
                                  rd_kafka_assignment_lost(rk) != 0);
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
      ++rebalances_;
    }
    cv_.notify_all();
    if (lost) {
      if (o_.group_member || !claimed_.load() || closing_.load()) return;
      spdlog::warn("{}", log_line("kafka_single_writer_membership_ended",
                                  {{"topic", o_.topic},
                                   {"group", single_writer_group(o_.topic)},
                                   {"error", rd_kafka_err2name(err)},
                                   {"hint",
                                    "rejoining; the server stops if another took the "
                                    "topic meanwhile"}}));
      doubt_.store(true);
      regaining_.store(true);
      pause_writer();
      return;
    }
    // A group's servers come and go; a clean stop gives every partition up.
    if (was_all && !assign && !o_.group_member && !closing_.load())
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
  std::uint64_t rebalances_{0};      // guarded by mu_
  std::atomic<bool> stop_{false};
  std::atomic<bool> closing_{false};  // the claim is given up: its revocations are not losses
  std::atomic<bool> claimed_{false};  // acquire() returned it: a loss from then on is one
  std::atomic<bool> lost_{false};
  std::atomic<bool> regaining_{false};  // the membership ended: check_regained() decides
  std::chrono::steady_clock::time_point next_check_{};  // the claim's thread only
  int others_seen_{0};                                  // the claim's thread only
  // The doubt (a writer alone): current() is false while it lasts.
  const std::int64_t lease_ns_;
  std::atomic<std::int64_t> last_tick_ns_;  // the lease's thread's last tick (boot_ns)
  std::atomic<bool> doubt_{false};
  std::mutex lease_mu_;
  std::condition_variable lease_cv_;
  std::mutex writer_mu_;
  ownership_listener* writer_{nullptr};  // guarded by writer_mu_
  bool paused_{false};  // guarded by writer_mu_: writer_ has every partition revoked
  std::thread thread_;
  std::thread lease_thread_;
};

single_writer_claim::single_writer_claim(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
single_writer_claim::~single_writer_claim() = default;
void single_writer_claim::attach(ownership_listener* writer) { impl_->attach(writer); }
bool single_writer_claim::current() const { return impl_->current(); }

result<std::unique_ptr<single_writer_claim>> single_writer_claim::acquire(
    const single_writer_options& o) {
  const std::string group = single_writer_group(o.topic);
  detail::properties p{
      {"bootstrap.servers", o.brokers},
      {"client.id", o.group_member ? group_client : alone_client},
      {"group.id", group},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"session.timeout.ms", std::to_string(o.session_timeout.count())},
      {"heartbeat.interval.ms", std::to_string(heartbeat_interval(o.session_timeout).count())},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "latest"},
      {"allow.auto.create.topics", "false"},
      {"socket.nagle.disable", "true"},
      {"reconnect.backoff.max.ms", "1000"},
  };
  // A writer alone is a static member (its folder's restart takes its place at once); a group's
  // server a dynamic one (gone from the group as soon as it stops).
  if (!o.group_member) p["group.instance.id"] = o.instance;
  auto conf = detail::make_conf(p);
  if (!conf) return std::move(conf).error();
  auto claim = std::make_unique<impl>(o);
  if (auto r = claim->start(std::move(conf).value()); !r) return r.error();
  const auto waited = std::chrono::duration_cast<std::chrono::seconds>(o.wait).count();
  if (o.group_member) {
    // No writer alone among the members, and this one joined: from then on none can claim the
    // topic. A join slower than `wait` (the group waiting out a killed member) with no writer
    // alone listed is not a reason to refuse: the members already there keep one off.
    const auto deadline = std::chrono::steady_clock::now() + o.wait;
    std::vector<member> last;
    std::optional<bool> alone_listed;  // as the last listing that answered showed
    while (true) {
      const std::string mine = member_id(claim->handle());
      bool joined = false;
      if (auto all = members_of(claim->handle(), group)) {
        last = std::move(*all);
        alone_listed = any_of_client(last, alone_client, mine);
        joined = !mine.empty() &&
                 std::any_of(last.begin(), last.end(), [&](auto& m) { return m.id == mine; });
      }
      if (alone_listed == false && joined) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        // Never listed (the coordinator away): the hotline is not stopped for it.
        if (!alone_listed.value_or(false)) {
          spdlog::warn(
              "{}", log_line("kafka_single_writer_unchecked", {{"topic", o.topic},
                                                               {"listed", alone_listed.has_value()},
                                                               {"joined", joined}}));
          break;
        }
        return make_error(
            errc::bad_config,
            fmt::format("a caseline server without --group writes topic {} (the members of its "
                        "single-writer group {} after {} s: {}): the servers of a group cannot "
                        "share a topic with it",
                        o.topic, group, waited, describe_others(claim->handle(), last)));
      }
      claim->wait_for_rebalance(std::chrono::milliseconds(500));
    }
  } else if (!claim->wait_for_all(o.wait)) {
    const auto all = members_of(claim->handle(), group).value_or(std::vector<member>{});
    const std::string others = describe_others(claim->handle(), all);
    if (any_of_client(all, group_client, member_id(claim->handle())))
      return make_error(errc::bad_config,
                        fmt::format("servers of a --group write topic {} ({}): a server without "
                                    "--group cannot share it; run it with their --group",
                                    o.topic, others));
    return make_error(
        errc::bad_config,
        fmt::format("another caseline server writes topic {} without --group: its single-writer "
                    "group {} gave this server {} of its {} partitions in {} s (the others are "
                    "held by {}). A topic has one server without --group, or servers that all "
                    "run with the same --group",
                    o.topic, group, claim->assigned(), o.partitions, waited, others));
  }
  claim->mark_claimed();
  spdlog::info("{}",
               log_line("kafka_single_writer_claimed",
                        {{"topic", o.topic}, {"group", group}, {"group_member", o.group_member}}));
  return std::unique_ptr<single_writer_claim>(new single_writer_claim(std::move(claim)));
}

}  // namespace caseline::events
