#include "events/storage/info_log.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"

namespace caseline::storage {

namespace {

constexpr std::size_t max_file_bytes = std::size_t{64} << 20;

const char* level_name(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::DEBUG_LEVEL:
      return "debug";
    case rocksdb::InfoLogLevel::INFO_LEVEL:
      return "info";
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      return "warn";
    case rocksdb::InfoLogLevel::ERROR_LEVEL:
      return "error";
    case rocksdb::InfoLogLevel::FATAL_LEVEL:
      return "fatal";
    case rocksdb::InfoLogLevel::HEADER_LEVEL:
      return "header";
    default:
      return "info";
  }
}

class tolerant_file_logger final : public rocksdb::Logger {
 public:
  explicit tolerant_file_logger(std::string dir)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    std::lock_guard lk(mu_);
    reopen();
  }
  ~tolerant_file_logger() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    std::array<char, 4096> text{};
    const int n = std::vsnprintf(text.data(), text.size(), format, ap);
    if (n < 0) return;
    const std::string_view message(text.data(), std::min<std::size_t>(n, text.size() - 1));
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL && level != rocksdb::InfoLogLevel::HEADER_LEVEL)
      spdlog::error("{}", log_line("rocksdb", {{"dir", dir_},
                                               {"level", level_name(level)},
                                               {"message", std::string(message)}}));
    write_line(level, message);
  }

 private:
  // "2026/12/03-16:05:00.123456 <thread> [level] message", as RocksDB's own file logger writes.
  void write_line(rocksdb::InfoLogLevel level, std::string_view message) {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
        1'000'000;
    std::tm tm{};
    ::localtime_r(&secs, &tm);
    std::array<char, 96> head{};
    const int h =
        std::snprintf(head.data(), head.size(), "%04d/%02d/%02d-%02d:%02d:%02d.%06lld %zx [%s] ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, static_cast<long long>(micros),
                      std::hash<std::thread::id>{}(std::this_thread::get_id()), level_name(level));
    std::string line(head.data(), static_cast<std::size_t>(std::max(h, 0)));
    line.append(message);
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    std::lock_guard lk(mu_);
    if (written_ + line.size() > max_file_bytes) reopen();
    if (fd_ < 0) return;
    // A line that cannot be written (a full disk) is dropped; the next one is tried again.
    const ssize_t w = ::write(fd_, line.data(), line.size());
    if (w > 0) written_ += static_cast<std::size_t>(w);
  }

  // The current file becomes LOG.old; a new LOG is begun (guarded by mu_).
  void reopen() {
    if (fd_ >= 0) ::close(fd_);
    const std::string log = dir_ + "/LOG";
    std::error_code ec;
    std::filesystem::rename(log, dir_ + "/LOG.old", ec);
    fd_ = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    written_ = 0;
  }

  const std::string dir_;
  std::mutex mu_;
  int fd_{-1};              // guarded by mu_
  std::size_t written_{0};  // guarded by mu_
};

}  // namespace

void use_info_log(rocksdb::DBOptions& options, const std::string& dir) {
  options.info_log = std::make_shared<tolerant_file_logger>(dir);
}

}  // namespace caseline::storage
