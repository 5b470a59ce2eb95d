#include "events/detail/kafka_reader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/detail/rdkafka_consumer.h"
#include "events/errc.h"
#include "events/thread_name.h"

namespace caseline::events::detail {

namespace {

using clock = std::chrono::steady_clock;

std::chrono::milliseconds left(clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
}

// A reader step's duration: at debug level always, at warn level when it took a second or more
// (a broker or a partition holding the reader up). Positions and error names only, never data.
void log_slow(const char* what, partition_id p, clock::time_point started, const char* outcome) {
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count();
  const auto lvl = took >= 1000 ? spdlog::level::warn : spdlog::level::debug;
  // A lane's call may end while the process exits (its reader gone, the lane detached).
  const exit_log_guard guard;
  if (!guard || !spdlog::should_log(lvl)) return;
  spdlog::log(lvl, "{}",
              log_line(what, {{"partition", p()}, {"took_ms", took}, {"outcome", outcome}}));
}

// Asks the cluster which brokers lead `topic`'s partitions now, updating the client's metadata
// cache. librdkafka 2.0.2 sends a list-offsets request to the leader its cache names and, when
// that broker answers "not leader" (leadership moved while a broker was down or restarting),
// does not refresh the cache: until the periodic refresh (topic.metadata.refresh.interval.ms)
// every end-offset request went to the old leader (seen for minutes after a broker restart).
// Bounded by `timeout`; its error is deliberately ignored: the next query tells whether the
// leader is known now.
void refresh_leaders(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout) {
  const topic_ptr rkt{rd_kafka_topic_new(rk, topic.c_str(), nullptr)};
  if (!rkt) return;
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 0, rkt.get(), &md, std::max(1, to_ms(timeout)));
  const metadata_ptr owned{err == RD_KAFKA_RESP_ERR_NO_ERROR ? md : nullptr};
}

// The offset the next record appended to `p` will get (the last stable offset under
// read_committed), asked of the partition's leader.
// `rd_kafka_query_watermark_offsets` does not honour its timeout once its request is sent (it
// waits for the answer, which a frozen broker never gives, for socket.timeout.ms times the
// retries), so it is only ever called on p's lane, whose callers wait for it only until their
// own deadline.
result<log_offset> query_end_offset(rd_kafka_t* rk, const std::string& topic, partition_id p,
                                    std::chrono::milliseconds timeout) {
  // A client that has just started may not know the partition leaders yet, and one whose
  // cache names a former leader is told "not leader": retriable answers are retried until the
  // timeout, each after asking the cluster for the leaders again.
  const auto deadline = clock::now() + timeout;
  for (;;) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    const auto asked = clock::now();
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk, topic.c_str(), p(), &low, &high, std::max(1, to_ms(left(deadline))));
    log_slow("kafka_end_offset_query", p, asked,
             err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : rd_kafka_err2name(err));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return log_offset{high};
    error e = translate(err, "end offset");
    if (e.code != errc::unavailable) return e;
    // Also once the caller has given up (the answer came after its deadline): the partition's
    // next call then asks the leader the cluster names now.
    refresh_leaders(rk, topic, std::max(left(deadline), std::chrono::milliseconds{1000}));
    if (clock::now() >= deadline) return e;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});  // retry back-off
  }
}

// The end offset of `p` as the consumer's last fetch saw it, without a request; none when no
// fetch has seen it yet. It only grows, so records below it are certainly there.
std::optional<std::int64_t> fetched_end_offset(rd_kafka_t* rk, const std::string& topic,
                                               partition_id p) {
  std::int64_t low = 0;
  std::int64_t high = 0;
  if (rd_kafka_get_watermark_offsets(rk, topic.c_str(), p(), &low, &high) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      high < 0)
    return std::nullopt;
  return high;
}

// What a lane's thread keeps between its calls: the consumer and where its assignment stands.
struct lane_state {
  handle_ptr rk;
  std::optional<log_position> at;  // where the assignment continues
  // The end-of-partition offset the consumer last reported on that assignment.
  std::optional<std::int64_t> eof;
  lane_state() = default;
  lane_state(const lane_state&) = delete;
  lane_state& operator=(const lane_state&) = delete;
  ~lane_state() {
    if (rk) close_consumer(rk.get());
  }
};

result<std::vector<log_record>> read_on_lane(lane_state& st, const std::string& topic,
                                             std::chrono::milliseconds request, partition_id p,
                                             log_offset from, std::size_t max_records,
                                             std::chrono::milliseconds wait) {
  std::vector<log_record> out;
  const auto wait_deadline = clock::now() + wait;
  const bool continuing = st.at && *st.at == log_position{p, from};
  // The end offset tells whether records are there already (then they are fetched even when
  // `wait` is 0, up to the request timeout) or must be waited for. When the last fetch saw
  // records beyond `from` no request is needed: a read continuing a range takes what was
  // fetched ahead, without a round trip per call. That watermark counts the offsets of open
  // transactions too, which read_committed cannot deliver yet: an end-of-partition report
  // below it (st.eof) ends the read there, and once one came the broker is asked instead.
  const auto seen = fetched_end_offset(st.rk.get(), topic, p);
  result<log_offset> high = seen && *seen > from() && !(continuing && st.eof)
                                ? result<log_offset>(log_offset{*seen})
                                : query_end_offset(st.rk.get(), topic, p, request);
  if (!high) return std::move(high).error();
  while (from() > high.value()()) {  // nothing can be fetched there yet
    if (clock::now() >= wait_deadline) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    high = query_end_offset(st.rk.get(), topic, p, request);
    if (!high) return std::move(high).error();
  }
  std::int64_t end = high.value()();
  const std::int64_t available = end - from();
  auto first_deadline = available > 0 ? clock::now() + request : wait_deadline;
  std::size_t want = available > 0
                         ? std::min<std::size_t>(max_records, static_cast<std::size_t>(available))
                         : max_records;

  if (!continuing) {
    st.at.reset();
    st.eof.reset();
    if (auto r = assign(st.rk.get(), topic, {{p(), from()}}); !r) return r.error();
  }
  // Records known to exist are waited for up to the request timeout; beyond them, only what
  // is already queued is taken.
  const auto known_deadline = clock::now() + request;
  std::int64_t next = from();
  bool whole = true;  // nothing polled was left out: the assignment can continue at `next`
  while (out.size() < want) {
    const bool known = next < end;
    const auto until = out.empty() ? first_deadline : known ? known_deadline : clock::now();
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
    message_ptr m{rd_kafka_consumer_poll(st.rk.get(), to_ms(remaining))};
    if (!m) {
      if (clock::now() < until) continue;
      break;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (m->partition != p() || m->offset < next) continue;
      st.eof = m->offset;
      if (!add_gaps(p, next, m->offset, out, want)) {
        whole = false;
        break;
      }
      if (next < end) {  // the rest is an open transaction's: not readable yet
        end = next;
        if (!out.empty()) break;
        want = max_records;  // as at the end: wait for what comes
        first_deadline = wait_deadline;
      }
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      error e = translate(m->err, "read");
      if (e.code == errc::unavailable || e.code == errc::timed_out) continue;
      st.at.reset();
      return e;
    }
    if (m->partition != p() || m->offset < next) continue;  // left from an earlier assignment
    if (!add_gaps(p, next, m->offset, out, want) || out.size() >= want) {
      whole = false;  // this record did not fit: the next read assigns anew
      break;
    }
    out.push_back(to_record(*m));
    next = m->offset + 1;
  }
  st.at.reset();
  if (whole) st.at = log_position{p, log_offset{next}};
  if (next >= end) {
    // At the end: a fetch left there would wait fetch.wait.max.ms for records that may never
    // come, and the connection's next request (an end offset, a fetch elsewhere) behind it.
    // Its error is deliberately ignored: the next read assigns anew in any case.
    (void)rd_kafka_assign(st.rk.get(), nullptr);
    st.at.reset();
  }
  if (end > from() && out.empty()) {
    return make_error(errc::timed_out, "records at partition " + std::to_string(p()) + " offset " +
                                           std::to_string(from()) + " not fetched in time");
  }
  return out;
}

}  // namespace

// One partition's consumer and the one thread that calls into it. Callers hand it a job and
// wait for the answer only until their own deadline: whatever librdkafka or the broker does, no
// caller (an API worker, the checkpoint task, a graceful stop) blocks beyond it. A job whose
// caller has given up is not started.
//
// Lifecycle: shared by the reader and the thread. Destroying it stops the thread and detaches
// it instead of joining: a call stuck in librdkafka then ends on its own, and the last owner
// closes the consumer. Thread-safety: call() from any thread; the consumer, `at` and `eof` are
// used by the thread only.
class kafka_reader::lane {
 public:
  using state = lane_state;
  struct job {
    clock::time_point deadline;        // its caller's
    std::function<void(state*)> body;  // nullptr: cancelled, answer without the consumer
  };

  explicit lane(handle_ptr rk) : shared_(std::make_shared<shared>()) {
    shared_->st.rk = std::move(rk);
    std::thread([sh = shared_] {
      name_this_thread("kafka-reader");
      run(sh);
    }).detach();
  }

  ~lane() {
    std::deque<job> left;
    {
      std::lock_guard lk(shared_->mu);
      shared_->stop = true;
      left.swap(shared_->jobs);
    }
    shared_->cv.notify_all();
    for (auto& j : left) j.body(nullptr);
  }

  // True when the job running has outlived its caller's deadline by more than `grace`: its
  // librdkafka call is stuck (a request queued for a leader that is down is retried until that
  // broker is back, whatever the call's timeout).
  bool stuck(clock::duration grace) const {
    std::lock_guard lk(shared_->mu);
    return shared_->running_until && clock::now() > *shared_->running_until + grace;
  }

  // Stops the thread, which ends once its stuck call does (closing the consumer then), and
  // hands over the jobs queued behind that call.
  std::deque<job> abandon() {
    std::deque<job> left;
    {
      std::lock_guard lk(shared_->mu);
      shared_->stop = true;
      left.swap(shared_->jobs);
    }
    shared_->cv.notify_all();
    return left;
  }

  // Takes over the jobs of an abandoned lane of the same partition, in their order.
  void adopt(std::deque<job> jobs) {
    {
      std::lock_guard lk(shared_->mu);
      for (auto& j : jobs) shared_->jobs.push_back(std::move(j));
    }
    shared_->cv.notify_one();
  }

  // Expires once the lane's thread has ended.
  std::weak_ptr<const void> thread_token() const { return shared_; }

  // Runs `fn` on the reader thread; its answer, or timed_out at `deadline`.
  template <class T>
  result<T> call(const char* what, partition_id p, clock::time_point deadline,
                 std::function<result<T>(state&)> fn) {
    auto done = std::make_shared<std::promise<result<T>>>();
    auto answer = done->get_future();
    {
      std::lock_guard lk(shared_->mu);
      if (shared_->stop) return make_error(errc::closed, "the log is closing");
      shared_->jobs.push_back(
          job{deadline,
              [done, deadline, what, p, queued = clock::now(), fn = std::move(fn)](state* st) {
                if (st == nullptr)
                  return done->set_value(make_error(errc::closed, "the log is closing"));
                if (clock::now() >= deadline) {
                  log_slow(what, p, queued, "skipped: its caller gave up while it was queued");
                  return done->set_value(
                      make_error(errc::timed_out, "the reader was busy until the deadline"));
                }
                const auto started = clock::now();
                auto r = fn(*st);
                log_slow(what, p, started, r ? "ok" : "error");
                done->set_value(std::move(r));
              }});
    }
    shared_->cv.notify_one();
    if (answer.wait_until(deadline) != std::future_status::ready)
      return make_error(errc::timed_out, "the broker did not answer the reader in time");
    return answer.get();
  }

 private:
  struct shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<job> jobs;  // guarded by mu
    bool stop{false};      // guarded by mu
    // The deadline of the job running, if one is; guarded by mu.
    std::optional<clock::time_point> running_until;
    state st;  // the thread's only
  };

  static void run(std::shared_ptr<shared> sh) {
    std::unique_lock lk(sh->mu);
    for (;;) {
      sh->cv.wait(lk, [&] { return sh->stop || !sh->jobs.empty(); });
      if (sh->stop) return;
      job j = std::move(sh->jobs.front());
      sh->jobs.pop_front();
      sh->running_until = j.deadline;
      lk.unlock();
      j.body(&sh->st);
      lk.lock();
      sh->running_until.reset();
    }
  }

  std::shared_ptr<shared> shared_;
};

result<std::unique_ptr<kafka_reader>> kafka_reader::open(config cfg) {
  auto rk = make_consumer(cfg.consumer);
  if (!rk) return std::move(rk).error();
  return std::unique_ptr<kafka_reader>(new kafka_reader(std::move(cfg), std::move(rk).value()));
}

kafka_reader::kafka_reader(config cfg, handle_ptr first)
    : cfg_(std::move(cfg)),
      lanes_(static_cast<std::size_t>(std::max(0, cfg_.partitions))),
      stuck_(lanes_.size()) {
  if (!lanes_.empty()) lanes_[0] = std::make_shared<lane>(std::move(first));
}

// Each lane stops; one whose call is stuck in librdkafka lets it end on its own.
kafka_reader::~kafka_reader() = default;

result<std::shared_ptr<kafka_reader::lane>> kafka_reader::lane_of(partition_id p) {
  std::lock_guard lk(mu_);
  const auto i = static_cast<std::size_t>(p());
  auto& l = lanes_.at(i);
  if (l && l->stuck(cfg_.request)) {
    // A new lane (consumer and thread) takes over the jobs queued behind the stuck call; its
    // consumer learns the leaders afresh. At most max_stuck_lanes stuck ones per partition
    // wait for their calls to end; beyond, callers time out as they would behind it.
    auto& waiting = stuck_.at(i);
    std::erase_if(waiting, [](const std::weak_ptr<const void>& w) { return w.expired(); });
    if (waiting.size() < max_stuck_lanes) {
      auto rk = make_consumer(cfg_.consumer);
      if (!rk) return std::move(rk).error();
      waiting.push_back(l->thread_token());
      auto queued = l->abandon();
      l = std::make_shared<lane>(std::move(rk).value());
      l->adopt(std::move(queued));
      spdlog::warn("{}", log_line("kafka_reader_lane_replaced",
                                  {{"partition", p()}, {"stuck_lanes", waiting.size()}}));
    }
  }
  if (!l) {
    auto rk = make_consumer(cfg_.consumer);
    if (!rk) return std::move(rk).error();
    l = std::make_shared<lane>(std::move(rk).value());
  }
  return l;
}

result<std::vector<log_record>> kafka_reader::read(partition_id p, log_offset from,
                                                   std::size_t max_records,
                                                   std::chrono::milliseconds wait) {
  auto l = lane_of(p);
  if (!l) return std::move(l).error();
  // Waiting for records that are not there yet, then fetching the ones that are: never more
  // than `wait` plus one request timeout, whatever the broker does.
  const auto deadline = clock::now() + wait + cfg_.request;
  return l.value()->call<std::vector<log_record>>(
      "kafka_reader_read", p, deadline,
      [p, from, max_records, wait, topic = cfg_.topic, request = cfg_.request](lane_state& st) {
        return read_on_lane(st, topic, request, p, from, max_records, wait);
      });
}

result<log_offset> kafka_reader::end_offset(partition_id p) {
  auto l = lane_of(p);
  if (!l) return std::move(l).error();
  return l.value()->call<log_offset>(
      "kafka_reader_end_offset", p, clock::now() + cfg_.request,
      [p, topic = cfg_.topic, request = cfg_.request](lane_state& st) {
        return query_end_offset(st.rk.get(), topic, p, request);
      });
}

}  // namespace caseline::events::detail
