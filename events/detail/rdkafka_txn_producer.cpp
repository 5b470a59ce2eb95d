#include "events/detail/rdkafka_txn_producer.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "events/thread_name.h"

namespace caseline::events::detail {

namespace {

using clock = std::chrono::steady_clock;

int ms_until(clock::time_point deadline) {
  return std::max(
      1, to_ms(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now())));
}

// An rd_kafka_error_t owned here; null means success.
using error_ptr = rdkafka_ptr<rd_kafka_error_t>;

}  // namespace

txn_writer::txn_writer(config cfg) : cfg_(std::move(cfg)) {}

result<std::unique_ptr<txn_writer>> txn_writer::start(config cfg, std::string claim_key,
                                                      std::string claim_value,
                                                      log_position* claimed_at) {
  std::unique_ptr<txn_writer> w{new txn_writer(std::move(cfg))};
  if (auto r = w->init(); !r) return std::move(r).error();
  // The claim is the first transaction, run here before the thread starts: the partition is not
  // this server's until it is committed.
  std::vector<pending> first;
  std::optional<result<log_position>> outcome;
  first.push_back(pending{std::move(claim_key),
                          std::move(claim_value),
                          [&outcome](result<log_position> r) { outcome = std::move(r); },
                          {},
                          destination::log});
  {
    // Counted as accepted, since transact() counts it answered: otherwise flush() would return
    // with one append still unanswered.
    std::lock_guard lk(w->mu_);
    ++w->accepted_;
  }
  w->transact(first);
  if (!outcome || !*outcome) {
    return outcome ? std::move(*outcome).error()
                   : make_error(errc::unavailable, "the claim was not answered");
  }
  if (claimed_at) *claimed_at = outcome->value();
  w->thread_ = std::thread([raw = w.get()] {
    name_this_thread("kafka-txn");
    raw->run();
  });
  return w;
}

result<void> txn_writer::init() {
  auto conf = make_conf(cfg_.props);
  if (!conf) return std::move(conf).error();
  rd_kafka_conf_set_opaque(conf.value().get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &txn_writer::on_delivery);
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!rk) return std::move(rk).error();
  rk_ = std::move(rk).value();
  rkt_.reset(rd_kafka_topic_new(rk_.get(), cfg_.topic.c_str(), nullptr));
  if (!rkt_) return translate(rd_kafka_last_error(), "producer topic handle");
  if (!cfg_.keys_topic.empty()) {
    keys_rkt_.reset(rd_kafka_topic_new(rk_.get(), cfg_.keys_topic.c_str(), nullptr));
    if (!keys_rkt_) return translate(rd_kafka_last_error(), "keys topic handle");
  }
  if (!cfg_.audio_topic.empty()) {
    audio_rkt_.reset(rd_kafka_topic_new(rk_.get(), cfg_.audio_topic.c_str(), nullptr));
    if (!audio_rkt_) return translate(rd_kafka_last_error(), "audio topic handle");
  }
  // Fences every earlier producer of this transactional.id and aborts its open transaction;
  // retriable answers (the coordinator still finishing that transaction) are retried.
  const auto deadline = clock::now() + cfg_.init;
  for (;;) {
    error_ptr e{rd_kafka_init_transactions(rk_.get(), ms_until(deadline))};
    if (!e) return success();
    error err = translate(e.get(), "init_transactions");
    if (!rd_kafka_error_is_retriable(e.get()) || clock::now() >= deadline) return err;
  }
}

txn_writer::~txn_writer() { finish(); }

bool txn_writer::append(std::string& key, std::string& value, delivery_handler& handler) {
  return enqueue(key, value, handler, destination::log);
}

bool txn_writer::append_side(destination to, std::string& key, std::string& value,
                             delivery_handler& handler) {
  return to != destination::log && handle_of(to) && enqueue(key, value, handler, to);
}

bool txn_writer::append_with_key(std::string& key, std::string& value, journaled_key& k,
                                 delivery_handler& handler) {
  if (!keys_rkt_) return false;
  {
    std::lock_guard lk(mu_);
    if (finishing_) return false;
    // Queued together, so one transaction takes both: the key is committed with its record or
    // neither is. Its own handler has nothing to answer (the record's does).
    queue_.push_back(pending{std::move(k.id),
                             std::move(k.wrapped),
                             [](const result<log_position>&) {},
                             {},
                             destination::keys,
                             true});
    queue_.push_back(
        pending{std::move(key), std::move(value), std::move(handler), {}, destination::log});
    accepted_ += 2;
  }
  cv_.notify_all();
  return true;
}

rd_kafka_topic_t* txn_writer::handle_of(destination to) const {
  switch (to) {
    case destination::keys:
      return keys_rkt_.get();
    case destination::audio:
      return audio_rkt_.get();
    case destination::log:
      break;
  }
  return rkt_.get();
}

const std::string& txn_writer::topic_of(destination to) const {
  switch (to) {
    case destination::keys:
      return cfg_.keys_topic;
    case destination::audio:
      return cfg_.audio_topic;
    case destination::log:
      break;
  }
  return cfg_.topic;
}

bool txn_writer::enqueue(std::string& key, std::string& value, delivery_handler& handler,
                         destination to) {
  {
    std::lock_guard lk(mu_);
    if (finishing_) return false;
    queue_.push_back(pending{std::move(key), std::move(value), std::move(handler), {}, to});
    ++accepted_;
  }
  cv_.notify_all();
  return true;
}

result<void> txn_writer::flush(clock::time_point deadline) {
  std::unique_lock lk(mu_);
  const std::uint64_t target = accepted_;
  if (!cv_.wait_until(lk, deadline, [&] { return answered_ >= target; })) {
    return make_error(errc::timed_out, std::to_string(target - answered_) +
                                           " appends to partition " +
                                           std::to_string(cfg_.partition()) + " unanswered");
  }
  return success();
}

void txn_writer::finish() {
  {
    std::lock_guard lk(mu_);
    finishing_ = true;
  }
  cv_.notify_all();
  std::call_once(joined_, [this] {
    if (thread_.joinable()) thread_.join();
  });
}

void txn_writer::run() {
  for (;;) {
    std::vector<pending> batch;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return finishing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // finishing, and everything is answered
      for (auto& p : queue_) batch.push_back(std::move(p));
      queue_.clear();
    }
    if (stopped_.load()) {
      answer(batch, make_error(errc::fenced, "partition " + std::to_string(cfg_.partition()) +
                                                 ": this writer was fenced by a newer owner"));
      continue;
    }
    transact(batch);
  }
}

void txn_writer::answer(std::vector<pending>& batch, const error& e) {
  if (e.code == errc::fenced && cfg_.fenced_count) cfg_.fenced_count->fetch_add(batch.size());
  for (auto& p : batch) {
    p.handler(e);
    {
      std::lock_guard lk(mu_);
      ++answered_;
    }
    cv_.notify_all();
  }
}

void txn_writer::stop(const char* why) {
  if (stopped_.exchange(true)) return;
  char buf[512] = "";
  const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
  spdlog::warn("{}", log_line("kafka_writer_stopped", {{"partition", cfg_.partition()},
                                                       {"why", why},
                                                       {"cause", rd_kafka_err2name(cause)},
                                                       {"detail", buf}}));
}

void txn_writer::transact(std::vector<pending>& batch) {
  const std::string where = "partition " + std::to_string(cfg_.partition());
  // Certainly not written: the commit was never requested. Fenced when the producer is broken
  // (a newer owner, or a fatal error: either way it must never write again).
  auto not_written = [&](const error& cause) {
    // The records of an aborted or never-committed transaction are invisible to read_committed
    // readers; the producer's queue is emptied so that nothing of it reaches a later one.
    if (rd_kafka_outq_len(rk_.get()) > 0) {
      (void)rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(rk_.get(), 0);
    }
    char buf[256] = "";
    if (rd_kafka_fatal_error(rk_.get(), buf, sizeof buf) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        stopped_.load()) {
      stop(cause.detail.c_str());
      answer(batch, make_error(errc::fenced, where + ": not committed, the writer is fenced (" +
                                                 cause.detail + ")"));
    } else {
      answer(batch,
             make_error(errc::unavailable, where + ": transaction aborted (" + cause.detail + ")"));
    }
    if (rd_kafka_outq_len(rk_.get()) > 0) {
      for (auto& p : batch) retired_.push_back(std::move(p.rep));  // may still be called back
    } else {
      retired_.clear();
    }
  };
  auto abort_then = [&](const error& cause) {
    const auto deadline = clock::now() + cfg_.delivery;
    for (;;) {
      error_ptr e{rd_kafka_abort_transaction(rk_.get(), ms_until(deadline))};
      if (!e) break;
      if (rd_kafka_error_is_retriable(e.get()) && clock::now() < deadline) continue;
      // Fatal, or not aborted in time: no later transaction can begin on this producer, and a
      // newer owner's init_transactions aborts what is open. Stop rather than risk committing
      // it with the next batch.
      stop(rd_kafka_error_string(e.get()));
      break;
    }
    not_written(cause);
  };

  if (error_ptr e{rd_kafka_begin_transaction(rk_.get())}; e) {
    return not_written(translate(e.get(), "begin_transaction"));
  }
  for (auto& p : batch) {
    p.rep = std::make_unique<report>();
    // Flag F_COPY: librdkafka keeps its own copy, the batch may go before the reports. An empty
    // side topic record is a tombstone: a null value, which compaction removes with its key's
    // records.
    const bool tombstone = p.to != destination::log && p.value.empty();
    const rd_kafka_resp_err_t err =
        rd_kafka_produce(handle_of(p.to), cfg_.partition(), RD_KAFKA_MSG_F_COPY,
                         tombstone ? nullptr : p.value.data(), tombstone ? 0 : p.value.size(),
                         p.key.data(), p.key.size(), p.rep.get()) == -1
            ? rd_kafka_last_error()
            : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      p.rep->done = true;
      p.rep->err = err;
      return abort_then(translate(err, "produce"));
    }
  }
  // Every delivery report, bounded: a record not acknowledged by then aborts the transaction.
  (void)rd_kafka_flush(rk_.get(), to_ms(cfg_.delivery));  // serves the reports on this thread
  for (const auto& p : batch) {
    if (!p.rep->done) {
      return abort_then(make_error(errc::unavailable, "records not acknowledged in time"));
    }
    if (p.rep->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return abort_then(translate(p.rep->err, "delivery"));
    }
  }
  // The commit: from here on the coordinator may have committed it whatever we hear back.
  const auto deadline = clock::now() + cfg_.delivery;
  for (;;) {
    error_ptr e{rd_kafka_commit_transaction(rk_.get(), ms_until(deadline))};
    if (!e) break;
    if (rd_kafka_error_txn_requires_abort(e.get())) {
      return abort_then(translate(e.get(), "commit_transaction"));
    }
    if (rd_kafka_error_is_retriable(e.get()) && clock::now() < deadline) continue;
    const error cause = translate(e.get(), "commit_transaction");
    stop(cause.detail.c_str());
    retired_.clear();
    return answer(batch,
                  make_error(errc::outcome_unknown, where + ": the commit may have been applied (" +
                                                        cause.detail + "); the writer is stopped"));
  }
  retired_.clear();
  // The last offset per target (log, keys, audio).
  std::array<std::int64_t, 3> last{-1, -1, -1};
  for (const auto& p : batch) {
    std::int64_t& l = last.at(static_cast<std::size_t>(p.to));
    l = std::max(l, p.rep->offset);
  }
  for (const destination t : {destination::log, destination::keys, destination::audio})
    if (last.at(static_cast<std::size_t>(t)) >= 0)
      wait_visible(topic_of(t), last.at(static_cast<std::size_t>(t)));
  hand_over_keys(batch);
  for (auto& p : batch) {
    p.handler(log_position{cfg_.partition, log_offset{p.rep->offset}});
    {
      std::lock_guard lk(mu_);
      ++answered_;
    }
    cv_.notify_all();
  }
}

void txn_writer::hand_over_keys(std::vector<pending>& batch) {
  if (!cfg_.journal) return;
  std::vector<journaled_key> keys;
  for (auto& p : batch)
    if (p.journaled) keys.push_back(journaled_key{std::move(p.key), std::move(p.value)});
  if (!keys.empty()) cfg_.journal->deliver(keys);
}

void txn_writer::wait_visible(const std::string& topic, std::int64_t last) {
  // The coordinator answers the commit once it is decided, and writes the partition's commit
  // marker right after: until then read_committed readers (and end_offset) stop below the
  // records. Answering only once the last stable offset has passed them keeps read-your-writes:
  // an acknowledged record is readable at its position at once. The producer handle's list-offsets
  // requests use read_committed (librdkafka's default isolation level).
  //
  // In a server a subscription of this process reads every partition it writes (the projection
  // runner the log, the key replica the keys topic, the audio replica the audio topic): the
  // wait wakes as soon as one of them has read past `last` (config::board), with no request to
  // the broker. The list-offsets request after `board_patience` covers a partition that nothing
  // here reads, or reads far behind (a catch-up). Under load the subscriptions run a few
  // milliseconds behind: after 2 ms, 0.6 requests a transaction went out (a group's server at 32
  // connections), which cost the broker threads 24 us of CPU a command against 10 ms. Without a
  // board the broker is asked again every `recheck`.
  constexpr std::chrono::milliseconds board_patience{10};
  constexpr std::chrono::milliseconds recheck{2};
  const auto deadline = clock::now() + cfg_.delivery;
  for (;;) {
    if (cfg_.board && cfg_.board->wait_past(topic, cfg_.partition(), last,
                                            std::min(deadline, clock::now() + board_patience)))
      return;
    std::int64_t low = 0;
    std::int64_t stable = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk_.get(), topic.c_str(), cfg_.partition(), &low, &stable, ms_until(deadline));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && stable > last) return;
    if (clock::now() >= deadline) {
      // Committed all the same: the marker follows. Said, not hidden.
      spdlog::warn("{}",
                   log_line("kafka_commit_not_yet_visible",
                            {{"topic", topic}, {"partition", cfg_.partition()}, {"offset", last}}));
      return;
    }
    // The marker is being written.
    if (!cfg_.board) std::this_thread::sleep_for(recheck);
  }
}

void txn_writer::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  (void)rk;
  (void)opaque;
  auto* rep = static_cast<report*>(msg->_private);
  if (rep == nullptr) return;
  rep->done = true;
  rep->err = msg->err;
  rep->offset = msg->offset;
}

}  // namespace caseline::events::detail
