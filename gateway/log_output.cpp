#include "gateway/log_output.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/thread_name.h"

namespace caseline::gateway {

namespace {

std::atomic<std::uint64_t> dropped_total{0};

// Writes all of `s` to `fd`; returns the bytes that could not be written (a closed or broken
// output), retrying interrupted and partial writes.
std::size_t write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const auto n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return s.size();
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace

// The lines are formatted by the caller under the sink's mutex (spdlog's formatter is not
// thread-safe) into `queued_`; the writer thread swaps `queued_` out and writes it. The mutex
// guards every member below but `fd_`, `gather_` and `max_` (constant) and `thread_`.
class log_output::sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit sink(const log_output_options& o)
      : fd_(o.fd), gather_(o.gather), max_(std::max<std::size_t>(o.max_queued_bytes, 1)) {
    // The writer thread never takes a signal: `caseline serve` blocks SIGTERM and SIGINT and
    // waits for them on its main thread after this thread exists, and a process signal the
    // kernel gave this thread would end the process at once, without its orderly stop. The
    // thread inherits the mask it is created under, so it is blocked from its first instruction.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    thread_ = std::thread([this] {
      events::name_this_thread("log-output");
      run();
    });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }

  ~sink() override { stop(); }
  sink(const sink&) = delete;
  sink& operator=(const sink&) = delete;

  // Writes what is queued and stops the thread; later lines are written by their caller.
  void stop() {
    {
      std::lock_guard lk(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  void wait_written() {
    std::unique_lock lk(mutex_);
    const auto target = queued_total_;
    urgent_ = true;
    wake_.notify_one();
    written_cv_.wait(lk, [&] { return written_total_ >= target || stopped_; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    if (stopped_) {
      if (write_all(fd_, std::string_view(line.data(), line.size())) != 0)
        dropped_total.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (queued_.size() + line.size() > max_) {
      ++dropped_unsaid_;
      dropped_total.fetch_add(1, std::memory_order_relaxed);
      if (idle_) wake_.notify_one();
      return;
    }
    queued_.append(line.data(), line.size());
    queued_total_ += line.size();
    // The writer is woken only when it sleeps with nothing to write, or the queue fills up:
    // while it gathers, lines are added without a wake-up.
    if (idle_ || queued_.size() >= max_ / 2) wake_.notify_one();
  }

  // Called by the logger for a line at its flush level (warnings and errors) and by
  // logger::flush(): the queue is written without gathering more. Never waits here.
  void flush_() override {
    urgent_ = true;
    wake_.notify_one();
  }

 private:
  void run() {
    std::string out;
    std::unique_lock lk(mutex_);
    for (;;) {
      idle_ = true;
      wake_.wait(lk, [&] { return stopping_ || !queued_.empty() || dropped_unsaid_ > 0; });
      idle_ = false;
      if (!stopping_ && !urgent_)
        wake_.wait_for(lk, gather_,
                       [&] { return stopping_ || urgent_ || queued_.size() >= max_ / 2; });
      urgent_ = false;
      if (queued_.empty() && dropped_unsaid_ == 0 && stopping_) break;
      out.swap(queued_);
      const auto total = queued_total_;
      const auto unsaid = std::exchange(dropped_unsaid_, 0);
      lk.unlock();
      if (unsaid > 0) out += notice(unsaid);
      if (const auto lost = write_all(fd_, out); lost > 0) {
        const auto lines =
            std::count(out.end() - static_cast<std::ptrdiff_t>(lost), out.end(), '\n');
        dropped_total.fetch_add(static_cast<std::uint64_t>(std::max<std::ptrdiff_t>(lines, 1)),
                                std::memory_order_relaxed);
      }
      out.clear();
      lk.lock();
      written_total_ = total;
      written_cv_.notify_all();
    }
    stopped_ = true;
    written_cv_.notify_all();
  }

  // The line that says lines were dropped, in the format of every other line (outside the
  // mutex: the formatter is used by the writer thread only here, with its own copy).
  std::string notice(std::uint64_t lines) {
    if (!notice_formatter_) notice_formatter_ = formatter_clone();
    const auto text =
        log_line("log_lines_dropped", {{"lines", lines}, {"reason", "the log queue was full"}});
    const spdlog::details::log_msg msg("", spdlog::level::warn, text);
    spdlog::memory_buf_t buf;
    notice_formatter_->format(msg, buf);
    return {buf.data(), buf.size()};
  }

  std::unique_ptr<spdlog::formatter> formatter_clone() {
    std::lock_guard lk(mutex_);
    return formatter_->clone();
  }

  const int fd_;
  const std::chrono::milliseconds gather_;
  const std::size_t max_;
  std::string queued_;
  std::uint64_t queued_total_{0};   // bytes queued since the start
  std::uint64_t written_total_{0};  // of them, handed to write(2)
  std::uint64_t dropped_unsaid_{0};
  bool idle_{false};
  bool urgent_{false};
  bool stopping_{false};
  bool stopped_{false};
  std::condition_variable wake_;
  std::condition_variable written_cv_;
  std::unique_ptr<spdlog::formatter> notice_formatter_;  // the writer thread's
  std::thread thread_;
};

std::unique_ptr<log_output> log_output::install(const log_output_options& o) {
  auto s = std::make_shared<sink>(o);
  auto logger = std::make_shared<spdlog::logger>("caseline", s);
  logger->set_pattern(o.pattern);
  logger->set_level(spdlog::default_logger()->level());
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return std::unique_ptr<log_output>(new log_output(std::move(s)));
}

log_output::log_output(std::shared_ptr<sink> s) : sink_(std::move(s)) {}

log_output::~log_output() { sink_->stop(); }

void log_output::flush() { sink_->wait_written(); }

std::uint64_t log_lines_dropped() { return dropped_total.load(std::memory_order_relaxed); }

}  // namespace caseline::gateway
