#include "events/detail/rdkafka_producer.h"

#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "events/thread_name.h"

namespace caseline::events::detail {

struct rdkafka_producer::record {
  std::uint64_t ticket;
  std::string key;    // librdkafka reads these bytes without copying them: they live until
  std::string value;  // the delivery report
  delivery_handler handler;
};

struct rdkafka_producer::generation {
  rdkafka_producer* owner{};
  handle_ptr rk;   // declared before rkt: the topic handle is destroyed first
  topic_ptr rkt;
  std::atomic<bool> fatal{false};
};

namespace {
constexpr int poll_interval_ms = 50;
}

rdkafka_producer::rdkafka_producer(std::string topic, properties props,
                                   std::chrono::milliseconds drain_timeout)
    : topic_(std::move(topic)), props_(std::move(props)), drain_timeout_(drain_timeout) {}

result<std::unique_ptr<rdkafka_producer>> rdkafka_producer::open(
    std::string topic, properties props, std::chrono::milliseconds drain_timeout) {
  std::unique_ptr<rdkafka_producer> p{
      new rdkafka_producer(std::move(topic), std::move(props), drain_timeout)};
  auto g = p->make_generation();
  if (!g) return std::move(g).error();
  p->current_ = std::move(g).value();
  p->poller_ = std::thread([raw = p.get()] {
    name_this_thread("kafka-produce");
    raw->poll_loop();
  });
  return p;
}

result<std::unique_ptr<rdkafka_producer::generation>> rdkafka_producer::make_generation() {
  auto conf = make_conf(props_);
  if (!conf) return std::move(conf).error();
  auto g = std::make_unique<generation>();
  g->owner = this;
  rd_kafka_conf_set_opaque(conf.value().get(), g.get());
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &rdkafka_producer::on_delivery);
  rd_kafka_conf_set_error_cb(conf.value().get(), &rdkafka_producer::on_error);
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!rk) return std::move(rk).error();
  g->rk = std::move(rk).value();
  g->rkt.reset(rd_kafka_topic_new(g->rk.get(), topic_.c_str(), nullptr));
  if (!g->rkt) return translate(rd_kafka_last_error(), "producer topic handle");
  clients_created_.fetch_add(1);
  return g;
}

rdkafka_producer::~rdkafka_producer() {
  {
    std::unique_lock lk(client_mutex_);
    closing_ = true;
  }
  stop_.store(true);
  poller_.join();
  run_failed();  // records refused while the poll thread was finishing
}

void rdkafka_producer::produce(partition_id partition, std::string key, std::string value,
                               delivery_handler handler) {
  auto* r = new record{0, std::move(key), std::move(value), std::move(handler)};
  {
    std::lock_guard lk(tickets_mutex_);
    r->ticket = next_ticket_++;
    outstanding_.insert(r->ticket);
  }
  std::shared_lock lk(client_mutex_);
  if (closing_) return fail_later(r, make_error(errc::closed, "producer is shutting down"));
  generation& g = *current_;
  if (g.fatal.load()) {
    return fail_later(r, make_error(errc::fatal, "producer failed and is being recreated"));
  }
  // Asked last, with nothing between it and the queueing but the call itself.
  if (gate_ && !gate_())
    return fail_later(
        r, make_error(errc::not_owner, "this server's claim to write topic " + topic_ +
                                           " is in doubt (it did not run for a while); nothing "
                                           "was written"));
  // Flags 0: librdkafka neither copies nor frees the bytes; `r` owns them until the report.
  if (rd_kafka_produce(g.rkt.get(), partition(), 0, r->value.data(), r->value.size(),
                       r->key.data(), r->key.size(), r) == -1) {
    const rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR__FATAL) g.fatal.store(true);
    return fail_later(r, translate(err, "produce"));
  }
  // Closed meanwhile: the process may have stopped between the check and the queueing, and
  // would send the record now, after another writer's. What is queued is purged before the
  // broker's thread sends it (each record reported as not written); `r` among them, or sent.
  if (gate_ && !gate_()) {
    const rd_kafka_resp_err_t err =
        rd_kafka_purge(g.rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
    spdlog::warn("{}", log_line("kafka_queue_purged_in_doubt",
                                {{"topic", topic_}, {"result", rd_kafka_err2name(err)}}));
  }
}

void rdkafka_producer::set_gate(std::function<bool()> gate) {
  std::unique_lock lk(client_mutex_);
  gate_ = std::move(gate);
}

void rdkafka_producer::fail_later(record* r, error e) {
  // Reported by the poll thread, so that a handler never runs inside the caller's append().
  std::lock_guard lk(failed_mutex_);
  failed_.emplace_back(r, std::move(e));
}

void rdkafka_producer::run_failed() {
  std::deque<std::pair<record*, error>> batch;
  {
    std::lock_guard lk(failed_mutex_);
    batch.swap(failed_);
  }
  for (auto& [r, e] : batch) deliver(r, std::move(e));
}

void rdkafka_producer::deliver(record* r, result<log_position> outcome) {
  std::unique_ptr<record> owned{r};
  owned->handler(std::move(outcome));
  {
    std::lock_guard lk(tickets_mutex_);
    outstanding_.erase(owned->ticket);
  }
  tickets_cv_.notify_all();
}

void rdkafka_producer::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg,
                                   void* opaque) {
  auto* g = static_cast<generation*>(opaque);
  auto* r = static_cast<record*>(msg->_private);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    g->owner->deliver(r, log_position{partition_id{msg->partition}, log_offset{msg->offset}});
    return;
  }
  // A record that was sent and not acknowledged (a broker that stopped answering, a purge of
  // requests in flight) may still be in the log: say so, whatever the cause. Only a record that
  // never left this client keeps the cause's code, which then means "not written".
  const bool maybe_written = rd_kafka_message_status(msg) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
  auto unknown_or = [&](error e) {
    if (!maybe_written) return e;
    return make_error(errc::outcome_unknown, e.detail + "; the record may have been written");
  };
  // The error callback that announces a fatal error may come after these reports in the same
  // poll: ask the client itself.
  char buf[512] = "";
  const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, buf, sizeof buf);
  if (cause != RD_KAFKA_RESP_ERR_NO_ERROR || g->fatal.load()) {
    g->fatal.store(true);
    std::string detail = std::string{"producer failed ("} + rd_kafka_err2name(cause) + ": " +
                         buf + "); record " + rd_kafka_err2name(msg->err) +
                         ", producer is recreated";
    g->owner->deliver(r, unknown_or(make_error(errc::fatal, std::move(detail))));
    return;
  }
  g->owner->deliver(r, unknown_or(translate(msg->err, "delivery")));
}

void rdkafka_producer::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  // Other errors (a broker down, a resolve failure) are informational: librdkafka retries,
  // and a record that cannot be delivered in time gets an error delivery report.
  if (err != RD_KAFKA_RESP_ERR__FATAL) return;
  (void)rk;
  (void)reason;  // rd_kafka_fatal_error() gives it again when records are reported
  static_cast<generation*>(opaque)->fatal.store(true);
}

void rdkafka_producer::poll_loop() {
  while (!stop_.load()) {
    generation* g = nullptr;
    {
      std::shared_lock lk(client_mutex_);
      g = current_.get();  // only this thread replaces it, so it stays valid below
    }
    rd_kafka_poll(g->rk.get(), poll_interval_ms);
    run_failed();
    if (g->fatal.load()) replace_broken_client();
  }
  // Shutting down: give outstanding records the drain timeout, then fail the rest.
  drain(*current_, drain_timeout_);
  run_failed();
}

void rdkafka_producer::drain(generation& g, std::chrono::milliseconds timeout) {
  if (!g.fatal.load()) rd_kafka_flush(g.rk.get(), to_ms(timeout));  // serves reports here
  // Purged records get error reports (ERR__PURGE_*): never success.
  rd_kafka_purge(g.rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (rd_kafka_outq_len(g.rk.get()) > 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_poll(g.rk.get(), poll_interval_ms);
  }
}

void rdkafka_producer::replace_broken_client() {
  // The broken client's unacknowledged records fail (as errc::fatal, see on_delivery).
  drain(*current_, std::chrono::milliseconds{0});
  auto fresh = make_generation();
  if (!fresh) return;  // keep the broken one (appends fail fast) and retry on the next turn
  std::unique_ptr<generation> old;
  {
    std::unique_lock lk(client_mutex_);
    old = std::exchange(current_, std::move(fresh).value());
  }
  // No produce() can hold the old client now; its last reports are served before destruction.
  rd_kafka_poll(old->rk.get(), 0);
}

result<void> rdkafka_producer::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lk(tickets_mutex_);
  const std::uint64_t limit = next_ticket_;
  const bool done = tickets_cv_.wait_for(
      lk, timeout, [&] { return outstanding_.empty() || *outstanding_.begin() >= limit; });
  if (!done) {
    return make_error(errc::timed_out,
                      std::to_string(outstanding_.size()) + " records still unacknowledged");
  }
  return success();
}

result<void> rdkafka_producer::check(std::chrono::milliseconds timeout) {
  std::shared_lock lk(client_mutex_);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(current_->rk.get(), 0, nullptr, &md, to_ms(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return translate(err, "metadata request");
  metadata_ptr owned{md};
  if (md->broker_cnt == 0) return make_error(errc::unavailable, "no broker in metadata");
  return success();
}

rd_kafka_t* rdkafka_producer::native_handle() {
  std::shared_lock lk(client_mutex_);
  return current_->rk.get();
}

}  // namespace caseline::events::detail
