#include "projections/blob_store.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

#include "events/errc.h"
#include "events/record.h"

namespace caseline::projections {

namespace {

error io_error(const std::string& what) {
  return make_error(events::errc::unavailable, what + ": " + std::strerror(errno));
}

result<void> fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return io_error("open " + dir);
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return io_error("fsync " + dir);
  return success();
}

// Temporary file, fsync, rename, fsync of the folder: a crash leaves the whole file or none.
result<void> write_atomically(const std::string& folder, const std::string& path,
                              std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return make_error(events::errc::unavailable, "create " + folder + ": " + ec.message());
  // Unique per write: two threads may write the same blob at once (a claim here, its copy
  // applied from a group's audio topic); the last rename wins, each file whole.
  static std::atomic<std::uint64_t> writes{0};
  const std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(writes.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create " + tmp);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = io_error("write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto e = io_error("fsync " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = io_error("rename " + tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  return fsync_dir(folder);
}

result<std::string> read_whole(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(events::errc::not_found, "no file " + path);
    return io_error("open " + path);
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto e = io_error("read " + path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string blob_store::path_of(std::string_view sha) const {
  return dir_ + "/" + std::string(sha.substr(0, 2)) + "/" + std::string(sha);
}

result<std::string> blob_store::put(std::string_view bytes) {
  const std::string sha = events::to_hex(events::sha256(bytes));
  if (std::filesystem::exists(path_of(sha))) return sha;
  if (auto w = write(sha, bytes); !w) return w.error();
  return sha;
}

result<void> blob_store::write(std::string_view name, std::string_view bytes) {
  if (!is_sha256_hex(name))
    return make_error(events::errc::corrupt_record, "not a SHA-256: " + std::string(name));
  return write_atomically(dir_ + "/" + std::string(name.substr(0, 2)), path_of(name), bytes);
}

result<void> blob_store::write_file(std::string_view relative, std::string_view bytes) {
  const std::filesystem::path path = std::filesystem::path(dir_) / relative;
  return write_atomically(path.parent_path().string(), path.string(), bytes);
}

result<std::string> blob_store::read_file(std::string_view relative) const {
  return read_whole((std::filesystem::path(dir_) / relative).string());
}

bool blob_store::file_exists(std::string_view relative) const {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(dir_) / relative, ec);
}

result<void> blob_store::remove_all(std::string_view relative) {
  const std::filesystem::path path = std::filesystem::path(dir_) / relative;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec)
    return make_error(events::errc::unavailable, "remove " + path.string() + ": " + ec.message());
  return success();
}

result<std::string> blob_store::get(std::string_view sha) const {
  auto out = read(sha);
  if (!out) return out;
  if (events::to_hex(events::sha256(out.value())) != sha)
    return make_error(events::errc::corrupt_record,
                      "recording " + std::string(sha) + " does not match its hash");
  return out;
}

result<std::string> blob_store::read(std::string_view sha) const {
  if (!is_sha256_hex(sha))
    return make_error(events::errc::corrupt_record, "not a SHA-256: " + std::string(sha));
  auto out = read_whole(path_of(sha));
  if (!out && out.error().code == events::errc::not_found)
    return make_error(events::errc::not_found, "no recording " + std::string(sha));
  return out;
}

result<std::vector<std::string>> blob_store::list() const {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string folder = it->path().filename().string();
    if (folder.size() != 2 || !it->is_directory()) continue;
    for (auto f = fs::directory_iterator(it->path(), ec); !ec && f != fs::directory_iterator();
         f.increment(ec)) {
      const std::string name = f->path().filename().string();
      if (is_sha256_hex(name) && name.starts_with(folder)) out.push_back(name);
    }
  }
  if (ec) return make_error(events::errc::unavailable, "list " + dir_ + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

bool blob_store::exists(std::string_view sha) const {
  return is_sha256_hex(sha) && std::filesystem::exists(path_of(sha));
}

result<void> blob_store::remove(std::string_view sha) {
  if (!is_sha256_hex(sha))
    return make_error(events::errc::corrupt_record, "not a SHA-256: " + std::string(sha));
  const std::string path = path_of(sha);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return success();
    return io_error("unlink " + path);
  }
  return fsync_dir(dir_ + "/" + std::string(sha.substr(0, 2)));
}

}  // namespace caseline::projections
