#include "events/storage/disk_guard.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include <sys/statvfs.h>

#include "events/errc.h"

namespace caseline::storage {

namespace {

constexpr std::uint64_t mib = std::uint64_t{1024} * 1024;

// What an unprivileged writer may still use on the disk under `dir` (statvfs(3)'s f_bavail).
result<std::uint64_t> free_bytes_under(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) {
    const int err = errno;
    return make_error(events::errc::fatal,
                      "read the free space under " + dir + ": " + std::strerror(err));
  }
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace

disk_guard::disk_guard(std::string dir, std::uint64_t reserve_bytes)
    : dir_(std::move(dir)), reserve_(reserve_bytes) {}

result<bool> disk_guard::refresh() {
  auto free = free_bytes_under(dir_);
  if (!free) return free.error();
  free_.store(free.value(), std::memory_order_relaxed);
  const bool refuse = free.value() < reserve_;
  return refusing_.exchange(refuse, std::memory_order_relaxed) != refuse;
}

error disk_guard::refusal() const {
  return make_error(events::errc::disk_full,
                    std::to_string(free_bytes() / mib) + " MiB free on the disk of " + dir_ +
                        ", below the " + std::to_string(reserve_ / mib) +
                        " MiB the server keeps for what the log already holds "
                        "(--min-free-disk-mib); nothing was written: free space on that disk");
}

}  // namespace caseline::storage
