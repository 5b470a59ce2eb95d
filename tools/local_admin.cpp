#include "tools/local_admin.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "gateway/problem.h"

namespace caseline::tools {

namespace {

constexpr std::size_t max_request = std::size_t{64} * 1024;
constexpr std::size_t max_answer = std::size_t{16} * 1024 * 1024;  // a token list of every token
// How long a client may take to send its request, and to read the answer.
constexpr std::chrono::seconds peer_timeout{5};

std::string errno_text(int e) { return std::strerror(e); }

// A failed system call: its errno's message, then what was being done.
error system_error(int e, std::string what) {
  return make_error(std::error_code(e, std::system_category()), std::move(what));
}

// A file descriptor closed once.
class fd_guard {
 public:
  explicit fd_guard(int fd = -1) : fd_(fd) {}
  ~fd_guard() { reset(); }
  fd_guard(fd_guard&& o) noexcept : fd_(o.release()) {}
  fd_guard& operator=(fd_guard&& o) noexcept {
    reset(o.release());
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// The socket's address: <data_dir>/admin.sock, or, when that is too long for sun_path, the same
// file reached through the open directory `dir_fd` (/proc/self/fd/N/admin.sock).
result<sockaddr_un> socket_address(const std::string& data_dir, int dir_fd) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string path = data_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += local_admin_socket_name;
  if (path.size() >= sizeof a.sun_path)
    path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + std::string(local_admin_socket_name);
  if (path.size() >= sizeof a.sun_path)
    return system_error(ENAMETOOLONG, "the admin socket's address " + path);
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

result<fd_guard> open_dir(const std::string& data_dir) {
  fd_guard d(::open(data_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (d.get() < 0) return system_error(errno, "the data folder " + data_dir);
  return result<fd_guard>(std::move(d));
}

// Waits until `fd` is ready for `events`, up to `deadline`; false on timeout or error.
bool wait_ready(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Reads until the peer shuts its side down; false on a timeout, an error or more than `limit`.
bool read_all(int fd, std::string& out, std::size_t limit,
              std::chrono::steady_clock::time_point deadline) {
  char buf[16 * 1024];
  while (true) {
    if (!wait_ready(fd, POLLIN, deadline)) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      // The peer closed with part of what this side sent unread: what came before is whole.
      return errno == ECONNRESET && !out.empty();
    }
    if (out.size() + static_cast<std::size_t>(n) > limit) return false;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

bool write_all(int fd, std::string_view data, std::chrono::steady_clock::time_point deadline) {
  while (!data.empty()) {
    if (!wait_ready(fd, POLLOUT, deadline)) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

admin_answer problem_answer(int status, std::string_view type, std::string_view title,
                            std::string detail) {
  const auto p = gateway::problem_response(
      {status, std::string(type), std::string(title), std::move(detail), "", ""});
  return {status, p.body};
}

}  // namespace

class local_admin_socket::impl {
 public:
  impl(fd_guard dir, fd_guard listener, fd_guard wake, ino_t inode, handler h)
      : dir_(std::move(dir)),
        listener_(std::move(listener)),
        wake_(std::move(wake)),
        inode_(inode),
        handler_(std::move(h)) {
    thread_ = std::thread([this] { run(); });
  }

  ~impl() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto w = ::write(wake_.get(), &one, sizeof one);
    thread_.join();
    listener_.reset();
    // Removed only while it is still this server's socket file.
    struct stat st {};
    if (::fstatat(dir_.get(), std::string(local_admin_socket_name).c_str(), &st,
                  AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_ino == inode_)
      ::unlinkat(dir_.get(), std::string(local_admin_socket_name).c_str(), 0);
  }

 private:
  void run() {
    while (true) {
      pollfd p[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        spdlog::error("{}", log_line("local_admin_failed", {{"error", errno_text(errno)}}));
        return;
      }
      if (p[1].revents != 0) return;
      fd_guard c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c.get() < 0) {
        // Out of descriptors or memory: the connection stays queued and poll() wakes at once;
        // wait a little (a stop still wakes it) instead of spinning.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          if (!starved_)
            spdlog::error("{}",
                          log_line("local_admin_accept_failed", {{"error", errno_text(errno)}}));
          starved_ = true;
          pollfd w{wake_.get(), POLLIN, 0};
          if (::poll(&w, 1, 100) > 0) return;
        }
        continue;  // otherwise the peer went away before it was accepted: the next one
      }
      starved_ = false;
      serve(c.get());
    }
  }

  void serve(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
    const local_peer peer{cred.uid, cred.pid};
    const auto deadline = std::chrono::steady_clock::now() + peer_timeout;
    admin_answer a;
    std::string in;
    // Read first in every case, so that the answer is not lost to a reset of a connection closed
    // with the request unread.
    const bool whole = read_all(fd, in, max_request, deadline);
    if (cred.uid != ::geteuid() && cred.uid != 0) {
      spdlog::warn("{}", log_line("local_admin_refused", {{"uid", cred.uid}, {"pid", cred.pid}}));
      a = problem_answer(403, "forbidden", "Forbidden",
                         "the local admin socket serves only the server's own user and root");
    } else if (!whole) {
      a = problem_answer(400, "bad-request", "Bad request",
                         "a request is \"METHOD PATH\\n\" and a body of at most 64 KiB, sent "
                         "within 5 s");
    } else {
      a = answer(in, peer);
    }
    std::string out = std::to_string(a.status) + "\n" + a.body;
    write_all(fd, out, std::chrono::steady_clock::now() + peer_timeout);
  }

  admin_answer answer(std::string_view in, const local_peer& peer) {
    const auto eol = in.find('\n');
    const std::string_view line = in.substr(0, eol);
    const auto space = line.find(' ');
    if (eol == std::string_view::npos || space == std::string_view::npos)
      return problem_answer(400, "bad-request", "Bad request",
                            "the first line must be \"METHOD PATH\"");
    local_request r{std::string(line.substr(0, space)), std::string(line.substr(space + 1)),
                    std::string(in.substr(eol + 1))};
    admin_answer a;
    try {
      a = handler_(r, peer);
    } catch (const std::exception& ex) {
      spdlog::error("{}", log_line("local_admin_exception", {{"what", ex.what()}}));
      a = problem_answer(500, "internal", "Internal error", "see the server's log");
    }
    spdlog::info("{}", log_line("local_admin_request", {{"method", r.method},
                                                        {"path", r.path},
                                                        {"status", a.status},
                                                        {"uid", peer.uid},
                                                        {"pid", peer.pid}}));
    return a;
  }

  fd_guard dir_;
  fd_guard listener_;
  fd_guard wake_;
  ino_t inode_;
  handler handler_;
  std::thread thread_;
  bool starved_{false};  // the last accept() ran out of descriptors (logged once)
};

local_admin_socket::local_admin_socket(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
local_admin_socket::~local_admin_socket() = default;

result<std::unique_ptr<local_admin_socket>> local_admin_socket::open(const std::string& data_dir,
                                                                     handler h) {
  auto dir = open_dir(data_dir);
  if (!dir) return dir.error();
  const std::string name(local_admin_socket_name);
  struct stat st {};
  if (::fstatat(dir.value().get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    // A server that was killed left it; this server holds the data folder's store now.
    if (!S_ISSOCK(st.st_mode))
      return system_error(EEXIST, data_dir + "/" + name + " is not a socket: remove it");
    if (::unlinkat(dir.value().get(), name.c_str(), 0) != 0)
      return system_error(errno, "removing the old " + data_dir + "/" + name);
  }
  auto address = socket_address(data_dir, dir.value().get());
  if (!address) return address.error();
  fd_guard s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return system_error(errno, "a Unix socket");
  const auto fail = [&](std::string_view what) {
    return system_error(errno, fmt::format("{} {}/{}", what, data_dir, name));
  };
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&address.value()), sizeof(sockaddr_un)) !=
      0)
    return fail("binding");
  // From here a failure removes the file it bound, so that none is left behind.
  const auto fail_bound = [&](std::string_view what) {
    auto e = fail(what);
    ::unlinkat(dir.value().get(), name.c_str(), 0);
    return e;
  };
  // Whatever the umask: only the owner connects (the peer's user is checked again).
  if (::fchmodat(dir.value().get(), name.c_str(), 0600, 0) != 0 ||
      ::fstatat(dir.value().get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return fail_bound("making owner-only");
  if (::listen(s.get(), 16) != 0) return fail_bound("listening on");
  fd_guard wake(::eventfd(0, EFD_CLOEXEC));
  if (wake.get() < 0) return fail_bound("an eventfd for");
  return std::unique_ptr<local_admin_socket>(new local_admin_socket(std::make_unique<impl>(
      std::move(dir).value(), std::move(s), std::move(wake), st.st_ino, std::move(h))));
}

result<std::optional<admin_answer>> local_admin_request(const std::string& data_dir,
                                                        const local_request& request,
                                                        std::chrono::milliseconds timeout) {
  using none = std::optional<admin_answer>;
  auto dir = open_dir(data_dir);
  if (!dir) {
    if (dir.error().code == std::errc::no_such_file_or_directory) return none{};
    return dir.error();
  }
  auto address = socket_address(data_dir, dir.value().get());
  if (!address) return address.error();
  fd_guard s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return system_error(errno, "a Unix socket");
  // A connect waits while the server's queue is full (it serves one request at a time): at most
  // `timeout` (a Unix socket's connect honours the send timeout).
  const auto ms = timeout.count();
  const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  if (::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
    return system_error(errno, "a send timeout on a Unix socket");
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&address.value()),
                sizeof(sockaddr_un)) != 0) {
    // No socket file, or one whose server is gone: no server runs on this data folder.
    if (errno == ENOENT || errno == ECONNREFUSED) return none{};
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return system_error(ETIMEDOUT, "the admin socket of the server running on " + data_dir +
                                         " is busy: no connection within " + std::to_string(ms) +
                                         " ms");
    return system_error(
        errno, "the admin socket of the server running on " + data_dir +
                   (errno == EACCES ? " (only the server's user and root may use it)" : ""));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string out = request.method + " " + request.path + "\n" + request.body;
  if (!write_all(s.get(), out, deadline) || ::shutdown(s.get(), SHUT_WR) != 0)
    return system_error(
        ETIMEDOUT, "the admin socket of the server running on " + data_dir + " took no request");
  std::string in;
  if (!read_all(s.get(), in, max_answer, deadline))
    return system_error(ETIMEDOUT, "the admin socket of the server running on " + data_dir +
                                       " gave no answer within " + std::to_string(timeout.count()) +
                                       " ms");
  const auto eol = in.find('\n');
  int status = 0;
  const auto [end, ec] = std::from_chars(in.data(), in.data() + std::min(eol, in.size()), status);
  if (eol == std::string::npos || ec != std::errc{} || end != in.data() + eol)
    return system_error(
        EPROTO, "the admin socket of the server running on " + data_dir + " answered no status");
  return none{admin_answer{status, in.substr(eol + 1)}};
}

}  // namespace caseline::tools
