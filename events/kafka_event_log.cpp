#include "events/kafka_event_log.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "events/burst_source.h"
#include "events/detail/kafka_key_log.h"
#include "events/detail/kafka_reader.h"
#include "events/detail/kafka_transactions.h"
#include "events/detail/kafka_visibility.h"
#include "events/detail/rdkafka_admin.h"
#include "events/detail/rdkafka_consumer.h"
#include "events/detail/rdkafka_group.h"
#include "events/detail/rdkafka_handle.h"
#include "events/detail/rdkafka_producer.h"
#include "events/errc.h"
#include "events/kafka_single_writer.h"
#include "events/key_journal.h"
#include "events/periodic.h"
#include "events/thread_name.h"

namespace caseline::events {

namespace {

using clock = std::chrono::steady_clock;
using detail::add_gaps;
using detail::assign;
using detail::close_consumer;
using detail::make_consumer;
using detail::properties;
using detail::to_record;

// ------------------------------------------------------------------------------ configuration

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Extra properties that would lose acknowledged events, make appends hang, skip or re-read
// records silently, or change the write semantics.
result<void> refuse_unsafe(const properties& extra) {
  for (const auto& kv : extra) {
    // Named copies, not structured bindings: clang 14 cannot capture those in the lambda below.
    const std::string& name = kv.first;
    const std::string& raw = kv.second;
    const std::string value = lower(raw);
    auto refuse = [&](const std::string& why) -> result<void> {
      return make_error(errc::bad_config, name + "=" + raw + " refused: " + why);
    };
    if (name == "enable.idempotence" && value != "true") {
      return refuse("the producer must be idempotent (retries would duplicate or reorder events)");
    }
    if ((name == "acks" || name == "request.required.acks") && value != "all" && value != "-1") {
      return refuse("only acks=all keeps an acknowledged event when a broker fails");
    }
    if ((name == "message.timeout.ms" || name == "delivery.timeout.ms") && value == "0") {
      return refuse("an infinite delivery timeout makes appends hang while the broker is down");
    }
    if (name == "auto.offset.reset" && value != "error") {
      return refuse("readers must stop at a missing offset, never jump over records");
    }
    if (name == "transactional.id") {
      return refuse(
          "the log names its transactional producers itself (one per partition, with a group)");
    }
    if (name == "isolation.level" && value != "read_committed") {
      return refuse("readers must never see records of an aborted or open transaction");
    }
    if (name == "allow.auto.create.topics" && value != "false") {
      return refuse("the log creates its topic itself, with unlimited retention");
    }
  }
  return success();
}

properties common_properties(const kafka_log_options& o) {
  properties p;
  if (!o.brokers.empty()) p["bootstrap.servers"] = o.brokers;
  p["client.id"] = o.client_id;
  p["allow.auto.create.topics"] = "false";
  p["socket.nagle.disable"] = "true";
  p["reconnect.backoff.max.ms"] = "1000";  // come back quickly after a broker restart
  return p;
}

properties with_extra(properties p, const kafka_log_options& o) {
  for (const auto& [k, v] : o.properties) p[k] = v;
  return p;
}

properties producer_properties(const kafka_log_options& o) {
  properties p = common_properties(o);
  p["enable.idempotence"] = "true";
  p["acks"] = "all";
  p["linger.ms"] = std::to_string(o.timeouts.linger.count());
  p["message.timeout.ms"] = std::to_string(o.timeouts.delivery.count());
  return with_extra(std::move(p), o);
}

std::string unique_suffix() {
  static std::atomic<std::uint64_t> counter{0};
  std::random_device rd;
  return std::to_string(rd()) + "-" + std::to_string(counter.fetch_add(1));
}

properties consumer_properties(const kafka_log_options& o, const std::string& role) {
  properties p = common_properties(o);
  // assign() needs a group id in librdkafka; it is unique and never joined or committed to:
  // positions come from the caller only.
  p["group.id"] = o.client_id + "." + role + "." + unique_suffix();
  p["enable.auto.commit"] = "false";
  p["enable.auto.offset.store"] = "false";
  p["auto.offset.reset"] = "error";
  // Only committed records (a fenced writer's never are); the offsets it skips (transaction
  // markers, aborted records) are delivered as gaps, up to the end-of-partition offset.
  p["isolation.level"] = "read_committed";
  p["enable.partition.eof"] = "true";
  return with_extra(std::move(p), o);
}

// The group consumer of a member: it joins the group and holds its partitions paused (the log
// reads through its own consumers), never commits.
properties group_consumer_properties(const kafka_log_options& o) {
  properties p = consumer_properties(o, "group");
  p["group.id"] = o.group;
  p["partition.assignment.strategy"] = "cooperative-sticky";
  p["session.timeout.ms"] = std::to_string(o.session_timeout.count());
  p["heartbeat.interval.ms"] = std::to_string(heartbeat_interval(o.session_timeout).count());
  p["enable.partition.eof"] = "false";
  p["auto.offset.reset"] = "latest";  // paused: it never fetches, whatever its position
  return p;
}

// The writers' base configuration with a group: the log's producer settings, transactional
// (the transactional.id is per partition, added by the group), with the transaction timeout that
// bounds how long a crashed writer holds back readers (detail/kafka_transactions.h).
properties transactional_producer_properties(const kafka_log_options& o) {
  properties p = producer_properties(o);
  p["transaction.timeout.ms"] = std::to_string(detail::transaction_timeout(o.timeouts).count());
  return p;
}

// --------------------------------------------------------------------------------- subscription

// Delivers the topic from given offsets to a handler on its own thread, in offset order per
// partition: one batch of one partition at a time, or with `whole_polls` (burst_source) one batch
// for what a poll returned, every partition of it (up to max_batch records). Lifecycle: starts in
// its constructor, stops on the handler's first error, on a consumer error that retrying cannot
// fix, or in the destructor (which joins the thread). Owns its consumer. Thread-safety: failure()
// from any thread.
//
// Before each batch reaches the handler it tells `board` how far it has read (the proof that a
// committed transaction is visible, which a writer of this process waits for: txn_writer).
class kafka_subscription final : public subscription {
 public:
  kafka_subscription(detail::handle_ptr rk, std::map<std::int32_t, std::int64_t> from,
                     event_log::batch_handler handler,
                     std::shared_ptr<detail::visibility_board> board, std::string topic,
                     bool whole_polls)
      : rk_(std::move(rk)),
        next_(std::move(from)),
        handler_(std::move(handler)),
        board_(std::move(board)),
        topic_(std::move(topic)),
        whole_polls_(whole_polls) {
    thread_ = std::thread([this] {
      name_this_thread("kafka-subscr");
      run();
    });
  }

  ~kafka_subscription() override {
    stop_.store(true);
    thread_.join();
    close_consumer(rk_.get());
  }

  std::optional<error> failure() const override {
    std::lock_guard lk(mutex_);
    return failure_;
  }

 private:
  static constexpr std::size_t max_batch = 512;

  void fail(error e) {
    std::lock_guard lk(mutex_);
    failure_ = std::move(e);
  }

  void run() {
    std::vector<detail::message_ptr> msgs;
    while (!stop_.load()) {
      msgs.clear();
      detail::message_ptr first{rd_kafka_consumer_poll(rk_.get(), 100)};
      if (!first) continue;
      msgs.push_back(std::move(first));
      while (msgs.size() < max_batch) {
        detail::message_ptr m{rd_kafka_consumer_poll(rk_.get(), 0)};
        if (!m) break;
        msgs.push_back(std::move(m));
      }
      tell_board(msgs);
      if (!deliver(msgs)) return;
    }
  }

  // How far each partition of `msgs` reaches: a record's next offset, or the end-of-partition
  // offset (the last stable offset).
  void tell_board(const std::vector<detail::message_ptr>& msgs) {
    if (!board_) return;
    std::vector<std::pair<std::int32_t, std::int64_t>> reach;
    for (const auto& m : msgs) {
      std::int64_t next = -1;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        next = m->offset;
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        next = m->offset + 1;
      } else {
        continue;
      }
      auto it = std::find_if(reach.begin(), reach.end(),
                             [&](const auto& r) { return r.first == m->partition; });
      if (it == reach.end()) {
        reach.emplace_back(m->partition, next);
      } else {
        it->second = std::max(it->second, next);
      }
    }
    for (const auto& [p, next] : reach) board_->seen(topic_, p, next);
  }

  // Hands what was polled to the handler: in one batch with whole_polls_, else split into runs
  // of one partition. A poll holds each partition's records in offset order, and so does every
  // batch. False once the subscription has stopped.
  bool deliver(const std::vector<detail::message_ptr>& msgs) {
    std::vector<log_record> batch;
    auto flush = [&]() -> bool {
      if (batch.empty()) return true;
      auto r = handler_(batch);
      batch.clear();
      if (!r) {
        fail(std::move(r).error());
        return false;
      }
      return true;
    };
    for (const auto& m : msgs) {
      const partition_id p{m->partition};
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // The consumer stands at the partition's end (the last stable offset): what lies
        // between the last record and it holds nothing visible.
        auto& next = next_[m->partition];
        if (m->offset <= next) continue;
        if (!whole_polls_ && !batch.empty() && batch.front().position.partition != p && !flush())
          return false;
        add_gaps(p, next, m->offset, batch);
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        error e = detail::translate(m->err, "subscription fetch");
        // Transport errors are informational: librdkafka reconnects and fetches on.
        if (e.code == errc::unavailable || e.code == errc::timed_out) continue;
        if (!flush()) return false;
        fail(std::move(e));
        return false;
      }
      auto& next = next_[m->partition];
      if (m->offset < next) continue;  // already delivered (a refetch after a reconnect)
      if (!whole_polls_ && !batch.empty() && batch.front().position.partition() != m->partition) {
        if (!flush()) return false;
      }
      add_gaps(p, next, m->offset, batch);
      batch.push_back(to_record(*m));
      next = m->offset + 1;
    }
    return flush();
  }

  detail::handle_ptr rk_;
  std::map<std::int32_t, std::int64_t> next_;  // owned by the thread
  event_log::batch_handler handler_;
  const std::shared_ptr<detail::visibility_board> board_;
  const std::string topic_;
  const bool whole_polls_;
  mutable std::mutex mutex_;
  std::optional<error> failure_;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ------------------------------------------------------------------------------- key journal

// The Kafka log's key journal with a group (events/key_journal.h): the journal is the keys topic.
// A new case's wrapped key is produced to keys partition p in the very transaction of the case's
// record (p's fenced writer, txn_writer::append_with_key), so one commit makes both durable and a
// fenced writer commits neither; once committed, the writer hands the keys to the key store
// (on_durable) before the record's handler runs.
//
// Nothing is kept beside the topic, so there is nothing to copy at start, to erase or to purge
// here: the keys topic is the group's replicated copy of its keys (events/key_log.h), which every
// server's key replica applies from the offsets its key store holds (projections/key_replica.h);
// a crash between a commit and the key store's copy leaves the key in the topic past those
// offsets, and the replica applies it at start before the partition's commands are taken. A
// shred commits the key's tombstone through the same writer (key_store::shred), which every
// server applies and compaction removes from the topic: one design for a key committed alone
// and a key committed with its record.
//
// Lifecycle: made and owned by the log with its group; outlives nothing of it. Thread-safety:
// every member from any thread.
class kafka_key_journal final : public key_journal {
 public:
  kafka_key_journal(detail::kafka_group& group, detail::journal_sink& sink, std::int32_t partitions)
      : group_(group), sink_(sink), partitions_(partitions) {}

  void append_with_key(std::string key, std::string value, journaled_key k,
                       event_log::append_handler handler) override {
    const partition_id p = partition_for(key, partitions_);
    group_.append_with_key(p, std::move(key), std::move(value), std::move(k), std::move(handler));
  }
  void on_durable(durable_handler handler) override { sink_.set(std::move(handler)); }
  // The keys topic past the key store's offsets is the key replica's to apply (above).
  result<std::vector<journaled_key>> pending() override { return std::vector<journaled_key>{}; }
  // The topic keeps the key: it is the group's copy of it.
  result<void> erase(std::span<const std::string> ids) override {
    (void)ids;
    return success();
  }
  // The shred's tombstone, committed before this is called, removes the key from the topic.
  result<void> purge(std::span<const std::string> ids) override {
    (void)ids;
    return success();
  }

 private:
  detail::kafka_group& group_;
  detail::journal_sink& sink_;
  const std::int32_t partitions_;
};

// ----------------------------------------------------------------------------------------- log

// See open_kafka_log. Lifecycle: fully connected when open_kafka_log returns; the destructor
// stops the health probe, drains the producer (up to timeouts.close) and lets the reader go.
// Subscriptions own their consumers and may outlive the log. Thread-safety: every member from
// any thread; reads and end offsets go through the reader (detail/kafka_reader.h), one lane per
// partition, each caller waiting at most its deadline; check() never waits for the broker (it
// answers from the last health probe).
class kafka_event_log final : public event_log, public burst_source {
 public:
  kafka_event_log(kafka_log_options options, std::unique_ptr<detail::rdkafka_producer> producer,
                  std::unique_ptr<detail::kafka_reader> reader)
      : options_(std::move(options)), producer_(std::move(producer)), reader_(std::move(reader)) {
    if (!options_.group.empty()) {
      board_ = std::make_shared<detail::visibility_board>();
      group_ = std::make_unique<detail::kafka_group>(
          detail::kafka_group::config{.topic = options_.topic,
                                      .partitions = options_.partitions,
                                      .group = options_.group,
                                      .advertise = options_.advertise,
                                      .consumer = group_consumer_properties(options_),
                                      .producer = transactional_producer_properties(options_),
                                      .delivery = options_.timeouts.delivery,
                                      .init = options_.timeouts.delivery,
                                      .keys_topic = keys_topic_of(options_.topic),
                                      .audio_topic = audio_topic_of(options_.topic),
                                      .board = board_.get(),
                                      .journal = &journal_sink_});
      journal_ = std::make_unique<kafka_key_journal>(*group_, journal_sink_, options_.partitions);
    }
    health_ = producer_->check(options_.timeouts.request);
    health_at_ = clock::now();
    prober_ = periodic_task("kafka-health", {.interval = probe_interval}, [this] { probe(); });
  }

  ~kafka_event_log() override {
    group_.reset();  // leaves the group: every owned partition is revoked, its writer finished
    keys_.reset();
    audio_.reset();
    prober_.stop();  // its metadata request honours the request timeout
    reader_.reset();
    producer_.reset();
  }

  std::int32_t partition_count() const override { return options_.partitions; }

  void append(std::string key, std::string value, append_handler handler) override {
    const partition_id p = partition_for(key, options_.partitions);
    produce(p, std::move(key), std::move(value), std::move(handler));
  }

  void append_to(partition_id p, std::string key, std::string value,
                 append_handler handler) override {
    if (auto r = valid(p); !r) return handler(std::move(r).error());
    produce(p, std::move(key), std::move(value), std::move(handler));
  }

  void set_write_gate(const write_gate& gate) override {
    if (!group_) producer_->set_gate(gate);
  }

  result<void> join(ownership_listener& listener) override {
    if (!group_) return success();
    return group_->join(listener);
  }

  void leave() override {
    if (group_) group_->leave();
  }

  bool owns(partition_id p) const override {
    if (!group_) return event_log::owns(p);
    return group_->owns(p);
  }

  std::optional<group_status> group() const override {
    if (!group_) return std::nullopt;
    return group_->status();
  }

  key_log* keys() override { return keys_.get(); }
  key_journal* journal() { return journal_.get(); }
  // The side topics' logs tell the main log's board what their subscriptions read, since the
  // main log's writers write those topics too.
  void use_board(std::shared_ptr<detail::visibility_board> board) { board_ = std::move(board); }
  const std::shared_ptr<detail::visibility_board>& board() const { return board_; }
  // With a group: the keys topic's own log (no group), written through this log's writers.
  key_log* audio() override { return audio_.get(); }
  // With a group: the call audio's topic's own log, the same way.
  // `admin`: the properties of a client that describes the side topic `name`.
  void attach_audio(std::unique_ptr<event_log> topic, std::string name, properties admin) {
    audio_ = std::make_unique<detail::kafka_key_log>(*group_, std::move(topic), std::move(name),
                                                     std::move(admin),
                                                     detail::txn_writer::destination::audio);
  }
  void attach_keys(std::unique_ptr<event_log> topic, std::string name, properties admin) {
    keys_ = std::make_unique<detail::kafka_key_log>(*group_, std::move(topic), std::move(name),
                                                    std::move(admin));
  }

  result<std::vector<log_record>> read(partition_id p, log_offset from, std::size_t max_records,
                                       std::chrono::milliseconds wait) override {
    if (auto r = valid(p); !r) return std::move(r).error();
    if (from() < 0) return make_error(errc::invalid_partition, "negative offset");
    if (max_records == 0) return std::vector<log_record>{};
    return reader_->read(p, from, max_records, wait);
  }

  result<log_offset> end_offset(partition_id p) override {
    if (auto r = valid(p); !r) return std::move(r).error();
    return reader_->end_offset(p);
  }

  result<std::unique_ptr<subscription>> subscribe(start_offsets from,
                                                  batch_handler handler) override {
    return start_subscription(from, std::move(handler), false);
  }

  // Each poll's records in one batch, all its partitions: a consumer that writes once per batch
  // (the projection runner) writes once per poll, not once per partition of it.
  result<std::unique_ptr<subscription>> subscribe_bursts(start_offsets from,
                                                         batch_handler handler) override {
    return start_subscription(from, std::move(handler), true);
  }

  result<void> flush(std::chrono::milliseconds timeout) override {
    if (group_) return group_->flush(timeout);
    return producer_->flush(timeout);
  }

  // The last probe's answer; a probe that has not answered for a while counts as a failure.
  result<void> check() override {
    std::lock_guard lk(health_mu_);
    const auto stale_after = 2 * (probe_interval + options_.timeouts.request);
    if (clock::now() - health_at_ > stale_after)
      return make_error(errc::unavailable, "the broker has not answered a health probe lately");
    return health_;
  }

 private:
  static constexpr std::chrono::milliseconds probe_interval{1000};

  result<std::unique_ptr<subscription>> start_subscription(const start_offsets& from,
                                                           batch_handler handler,
                                                           bool whole_polls) {
    std::map<std::int32_t, std::int64_t> offsets;
    for (std::int32_t p = 0; p < options_.partitions; ++p) offsets[p] = 0;
    for (const auto& [p, off] : from) {
      if (auto r = valid(partition_id{p}); !r) return std::move(r).error();
      if (off < 0) return make_error(errc::invalid_partition, "negative offset");
      offsets[p] = off;
    }
    auto rk = make_consumer(consumer_properties(options_, "subscription"));
    if (!rk) return std::move(rk).error();
    if (auto r = assign(rk.value().get(), options_.topic, offsets); !r) return r.error();
    return std::unique_ptr<subscription>(std::make_unique<kafka_subscription>(
        std::move(rk).value(), std::move(offsets), std::move(handler), board_, options_.topic,
        whole_polls));
  }

  // With a group: through the partition's fenced writer (not_owner when there is none);
  // without: the idempotent producer, which writes every partition.
  void produce(partition_id p, std::string key, std::string value, append_handler handler) {
    if (group_) return group_->append(p, std::move(key), std::move(value), std::move(handler));
    producer_->produce(p, std::move(key), std::move(value), std::move(handler));
  }

  // The health probe, every probe_interval: one metadata request (which honours its timeout).
  void probe() {
    auto r = producer_->check(options_.timeouts.request);
    std::lock_guard lk(health_mu_);
    health_ = std::move(r);
    health_at_ = clock::now();
  }

  result<void> valid(partition_id p) const {
    if (p() < 0 || p() >= options_.partitions) {
      return make_error(errc::invalid_partition,
                        "partition " + std::to_string(p()) + " of " +
                            std::to_string(options_.partitions));
    }
    return success();
  }

  const kafka_log_options options_;
  // Before the group, whose writers use them. The board only with a group (or a group's side
  // topic: use_board): without transactions nobody waits for visibility.
  std::shared_ptr<detail::visibility_board> board_;
  detail::journal_sink journal_sink_;
  std::unique_ptr<detail::rdkafka_producer> producer_;
  std::unique_ptr<detail::kafka_reader> reader_;
  std::unique_ptr<detail::kafka_group> group_;  // with a group only
  std::unique_ptr<detail::kafka_key_log> keys_;  // with a group only
  std::unique_ptr<detail::kafka_key_log> audio_;  // with a group only
  std::unique_ptr<kafka_key_journal> journal_;    // with a group only
  std::mutex health_mu_;
  result<void> health_{success()};  // guarded by health_mu_
  clock::time_point health_at_;     // guarded by health_mu_
  periodic_task prober_;            // last: starts after everything it uses
};

result<void> check_options(const kafka_log_options& o) {
  if (o.brokers.empty() && !o.properties.contains("bootstrap.servers")) {
    return make_error(errc::bad_config, "brokers is empty");
  }
  if (o.topic.empty()) return make_error(errc::bad_config, "topic is empty");
  if (o.partitions <= 0) return make_error(errc::bad_config, "partitions must be positive");
  if (o.timeouts.delivery.count() <= 0) {
    return make_error(errc::bad_config, "delivery timeout must be positive");
  }
  if (!o.group.empty() && o.advertise.empty()) {
    return make_error(errc::bad_config, "a group member needs its advertised URL (advertise)");
  }
  if (!o.group.empty() && o.session_timeout.count() <= 0) {
    return make_error(errc::bad_config, "session timeout must be positive");
  }
  return refuse_unsafe(o.properties);
}

}  // namespace

result<std::map<std::string, std::string>> kafka_producer_properties(
    const kafka_log_options& options) {
  if (auto r = check_options(options); !r) return std::move(r).error();
  return producer_properties(options);
}

namespace {

// The log on options.topic; `keys`: that topic is a group's data keys' topic (compacted).
result<std::unique_ptr<kafka_event_log>> open_topic(const kafka_log_options& options, bool keys) {
  if (auto r = check_options(options); !r) return std::move(r).error();
  {
    // A short-lived admin client: topic setup happens once, before anything is produced.
    auto conf = detail::make_conf(with_extra(common_properties(options), options));
    if (!conf) return std::move(conf).error();
    auto admin = detail::make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
    if (!admin) return std::move(admin).error();
    if (auto r = detail::ensure_topic(
            admin.value().get(), {options.topic, options.partitions, keys}, options.timeouts.open);
        !r) {
      return std::move(r).error();
    }
  }
  auto producer = detail::rdkafka_producer::open(options.topic, producer_properties(options),
                                                 options.timeouts.close);
  if (!producer) return std::move(producer).error();
  // A read's requests wait behind the reader's fetch in flight on the same connection (a broker
  // answers a connection's requests in order), which the broker holds up to fetch.wait.max.ms
  // when there is nothing more to fetch: 10 ms, not librdkafka's 500 ms, so that a read at
  // another offset or an end-offset request never waits a poll interval.
  auto reader_props = consumer_properties(options, "reader");
  reader_props.try_emplace("fetch.wait.max.ms", "10");
  auto reader = detail::kafka_reader::open({.topic = options.topic,
                                            .partitions = options.partitions,
                                            .consumer = std::move(reader_props),
                                            .request = options.timeouts.request});
  if (!reader) return std::move(reader).error();
  auto log = std::make_unique<kafka_event_log>(options, std::move(producer).value(),
                                               std::move(reader).value());
  if (!options.group.empty()) {
    // The side topics (compacted) of a group: the data keys and the call audio.
    kafka_log_options k = options;
    k.topic = keys_topic_of(options.topic);
    k.group.clear();
    auto topic = open_topic(k, true);
    if (!topic) return std::move(topic).error();
    topic.value()->use_board(log->board());
    log->attach_keys(std::move(topic).value(), k.topic, with_extra(common_properties(k), k));
    k.topic = audio_topic_of(options.topic);
    auto audio = open_topic(k, true);
    if (!audio) return std::move(audio).error();
    audio.value()->use_board(log->board());
    log->attach_audio(std::move(audio).value(), k.topic, with_extra(common_properties(k), k));
  }
  return log;
}

}  // namespace

key_journal* kafka_journal_of(event_log& log) {
  auto* kafka = dynamic_cast<kafka_event_log*>(&log);
  return kafka ? kafka->journal() : nullptr;
}

result<std::unique_ptr<event_log>> open_kafka_log(const kafka_log_options& options) {
  auto log = open_topic(options, false);
  if (!log) return std::move(log).error();
  return std::unique_ptr<event_log>(std::move(log).value());
}

}  // namespace caseline::events
