#include "tools/http_load.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "gateway/server.h"

namespace caseline::tools {

std::optional<http_endpoint> parse_http_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return std::nullopt;
  std::string hostport(url.substr(scheme.size()));
  if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  const auto colon = hostport.rfind(':');
  http_endpoint e{colon == std::string::npos ? hostport : hostport.substr(0, colon),
                  colon == std::string::npos ? "80" : hostport.substr(colon + 1)};
  if (e.host.empty() || e.port.empty()) return std::nullopt;
  return e;
}

double load_result::per_second() const {
  return seconds > 0 ? static_cast<double>(ok) / seconds : 0;
}

double load_result::percentile(double p) const {
  if (latencies_ms.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size() - 1));
  return latencies_ms[i];
}

namespace {

using steady = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

http_answer bad_answer(std::string problem) {
  http_answer a;
  a.state = http_answer::progress::bad;
  a.problem = std::move(problem);
  return a;
}

// The bytes of one request as Beast's client wrote them before: Host, the JSON body's type and
// length, the bearer token.
std::string render_request(const load_request& r, const http_endpoint& to,
                           const std::string& token) {
  std::string out = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", r.method, r.target, to.host);
  if (!r.body.empty()) out += "Content-Type: application/json\r\n";
  if (!token.empty())
    fmt::format_to(std::back_inserter(out), "Authorization: Bearer {}\r\n", token);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", r.body.size());
  out += "\r\n";
  out += r.body;
  return out;
}

// One keep-alive connection of a loop: at most one request in flight.
struct connection {
  unsigned index{0};
  int fd{-1};
  std::uint64_t n{0};  // requests started on it
  bool in_flight{false};
  bool done{false};        // starts no more requests
  bool want_write{false};  // registered for EPOLLOUT: the request is not all written
  std::string out;         // the request being written
  std::size_t written{0};
  std::string in;  // answer bytes read and not yet consumed
  steady::time_point t0;
};

// Drives `conns` from one thread until each has started its last request and had its answer.
class loop {
 public:
  loop(const sockaddr_storage& addr, socklen_t addr_len, const http_endpoint& to,
       const load_options& o, const request_maker& make, const answer_sink& sink,
       const std::function<bool()>& more, std::vector<unsigned> indexes)
      : addr_(addr), addr_len_(addr_len), to_(to), o_(o), make_(make), sink_(sink), more_(more) {
    conns_.resize(indexes.size());
    for (std::size_t i = 0; i < indexes.size(); ++i) conns_[i].index = indexes[i];
  }

  load_result run(steady::time_point deadline) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      result_.failed += conns_.size();
      return std::move(result_);
    }
    for (auto& c : conns_) next(c);
    // Answers still in flight at the deadline get this long before they count as failed.
    const auto give_up = deadline + std::chrono::seconds(30);
    std::vector<epoll_event> events(conns_.size());
    while (active() && steady::now() < give_up) {
      // A connection that could not connect tries again on the next turn, a few ms on.
      const bool waiting = std::any_of(conns_.begin(), conns_.end(),
                                       [](const connection& c) { return !c.done && c.fd < 0; });
      const int n =
          ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), waiting ? 5 : 100);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        auto& c = conns_[events[static_cast<std::size_t>(i)].data.u32];
        const auto ev = events[static_cast<std::size_t>(i)].events;
        if (c.fd < 0) continue;
        if ((ev & EPOLLOUT) && c.in_flight) write_some(c);
        if (c.fd >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) read_some(c);
      }
      if (waiting)
        for (auto& c : conns_)
          if (!c.done && c.fd < 0) next(c);
    }
    for (auto& c : conns_) {
      if (c.in_flight) ++result_.failed;  // no answer within the 30 s after the deadline
      close(c);
    }
    ::close(epoll_);
    return std::move(result_);
  }

 private:
  bool active() const {
    return std::any_of(conns_.begin(), conns_.end(),
                       [](const connection& c) { return !c.done || c.in_flight; });
  }

  bool connect(connection& c) {
    const int fd = ::socket(addr_.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    // A blocking connect (loopback or a near host), then non-blocking reads and writes.
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0) {
      ::close(fd);
      return false;
    }
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // best effort
    if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
      ::close(fd);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      return false;
    }
    c.fd = fd;
    c.want_write = false;
    c.in.clear();
    return true;
  }

  void close(connection& c) {
    if (c.fd < 0) return;
    ::close(c.fd);  // also takes it out of the epoll set
    c.fd = -1;
  }

  // A request failed: count it; the connection reconnects for the next one.
  void fail(connection& c) {
    ++result_.failed;
    c.in_flight = false;
    close(c);
  }

  // Starts the connection's next request, if the run wants more.
  void next(connection& c) {
    if (c.done) return;
    if (!more_()) {
      c.done = true;
      close(c);
      return;
    }
    const std::uint64_t n = c.n++;
    if (c.fd < 0 && !connect(c)) {
      ++result_.failed;  // as a request: the run wanted it and the server did not take it
      return;
    }
    c.out = render_request(make_(c.index, n), to_, o_.token);
    c.written = 0;
    c.in_flight = true;
    c.t0 = steady::now();
    write_some(c);
  }

  void write_some(connection& c) {
    while (c.written < c.out.size()) {
      const auto w = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
      if (w > 0) {
        c.written += static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return want_write(c, true);
      return fail(c);
    }
    want_write(c, false);
  }

  void want_write(connection& c, bool on) {
    if (c.want_write == on) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
    if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev) != 0) return fail(c);
    c.want_write = on;
  }

  void read_some(connection& c) {
    char buf[16384];
    for (;;) {
      const auto r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r > 0) {
        c.in.append(buf, static_cast<std::size_t>(r));
        if (static_cast<std::size_t>(r) < sizeof buf) break;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // The server closed (or reset) the connection: a request in flight failed with it.
      if (c.in_flight) return fail(c);
      return close(c);
    }
    if (!c.in_flight) {  // bytes nobody asked for: the connection is not usable
      c.in.clear();
      return close(c);
    }
    const http_answer a = parse_http_answer(c.in);
    if (a.state == http_answer::progress::incomplete) return;
    if (a.state == http_answer::progress::bad) return fail(c);
    const auto t1 = steady::now();
    c.in_flight = false;
    if (a.status == o_.expect_status) {
      ++result_.ok;
      result_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - c.t0).count());
      if (sink_)
        sink_(c.index,
              std::string(std::string_view(c.in).substr(a.body_offset, a.size - a.body_offset)));
    } else {
      ++result_.failed;
    }
    c.in.erase(0, a.size);
    if (a.close || !c.in.empty()) close(c);  // nothing may follow an answer we did not ask for
    next(c);
  }

  const sockaddr_storage& addr_;
  const socklen_t addr_len_;
  const http_endpoint& to_;
  const load_options& o_;
  const request_maker& make_;
  const answer_sink& sink_;
  const std::function<bool()>& more_;
  std::vector<connection> conns_;
  int epoll_{-1};
  load_result result_;
};

}  // namespace

http_answer parse_http_answer(std::string_view bytes) {
  const auto head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (bytes.size() > std::size_t{64} * 1024)
      return bad_answer("an answer head longer than 64 KiB");
    return {};
  }
  const std::string_view head = bytes.substr(0, head_end);
  auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ')
    return bad_answer("not an HTTP/1.x status line");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    const char d = status_line[i];
    if (d < '0' || d > '9') return bad_answer("a status that is not three digits");
    status = status * 10 + (d - '0');
  }
  http_answer a;
  a.status = status;
  std::optional<std::size_t> length;
  while (line_end != std::string_view::npos) {
    const auto from = line_end + 2;
    line_end = head.find("\r\n", from);
    const std::string_view line = head.substr(
        from, line_end == std::string_view::npos ? std::string_view::npos : line_end - from);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return bad_answer("a header line without a colon");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::size_t v = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc{} || end != value.data() + value.size() || value.empty())
        return bad_answer("a Content-Length that is not a number");
      if (length && *length != v) return bad_answer("two different Content-Length headers");
      length = v;
    } else if (iequals(name, "transfer-encoding")) {
      return bad_answer("a chunked answer, which the load generator does not read");
    } else if (iequals(name, "connection")) {
      a.close = iequals(value, "close");
    }
  }
  // Without a length, only answers that cannot have a body are complete (1xx, 204, 304).
  if (!length && !(status / 100 == 1 || status == 204 || status == 304))
    return bad_answer("an answer without Content-Length");
  a.body_offset = head_end + 4;
  a.size = a.body_offset + length.value_or(0);
  if (bytes.size() < a.size) return {};
  a.state = http_answer::progress::complete;
  return a;
}

load_result drive_http(const http_endpoint& to, const load_options& o, const request_maker& make,
                       const answer_sink& sink) {
  load_result total;
  std::atomic<std::uint64_t> sent{0};
  const auto started = steady::now();
  const auto deadline = started + o.duration;
  const std::function<bool()> more = [&] {
    return steady::now() < deadline && (o.max_requests == 0 || sent.fetch_add(1) < o.max_requests);
  };
  // The server's address, resolved once.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(to.host.c_str(), to.port.c_str(), &hints, &found) != 0 || found == nullptr) {
    total.failed = o.connections;
    return total;
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  const auto addr_len = found->ai_addrlen;
  ::freeaddrinfo(found);
  // Up to 64 connections a loop: one loop for the benches' 32.
  constexpr unsigned per_loop = 64;
  const unsigned loops = std::max(1u, (o.connections + per_loop - 1) / per_loop);
  std::vector<load_result> results(loops);
  std::vector<std::thread> threads;
  for (unsigned l = 0; l < loops; ++l) {
    std::vector<unsigned> mine;
    for (unsigned c = l; c < o.connections; c += loops) mine.push_back(c);
    threads.emplace_back([&, l, mine = std::move(mine)]() mutable {
      loop driver(addr, addr_len, to, o, make, sink, more, std::move(mine));
      results[l] = driver.run(deadline);
    });
  }
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    total.ok += r.ok;
    total.failed += r.failed;
    total.latencies_ms.insert(total.latencies_ms.end(), r.latencies_ms.begin(),
                              r.latencies_ms.end());
  }
  total.seconds = std::chrono::duration<double>(steady::now() - started).count();
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  return total;
}

std::optional<load_result> drive_http_baseline(const load_options& o, const request_maker& make,
                                               int status, std::string body) {
  gateway::server_options so;
  so.port = 0;
  so.max_connections_per_address = 1024;  // every bench connection comes from one address
  gateway::http_server bare(so,
                            [status, body = std::move(body)](const gateway::http_request&,
                                                             const gateway::responder& respond) {
                              gateway::http_response r;
                              r.status = status;
                              r.body = body;
                              respond(std::move(r));
                            });
  if (auto r = bare.start(); !r) return std::nullopt;
  load_options bo = o;
  bo.expect_status = status;
  auto result = drive_http({"127.0.0.1", std::to_string(bare.port())}, bo, make);
  bare.stop();
  return result;
}

void print_load_header(std::ostream& out) {
  out << fmt::format("{:<36} {:>10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>11} {:>13}\n", "target",
                     "req/s", "ok", "failed", "p50 ms", "p95 ms", "p99 ms", "max ms", "CPU µs/req",
                     "disk KiB/req");
}

void print_load_row(std::ostream& out, std::string_view name, const load_result& r) {
  out << fmt::format(
      "{:<36} {:>10.0f} {:>8} {:>8} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>10} {:>13}\n", name,
      r.per_second(), r.ok, r.failed, r.percentile(0.50), r.percentile(0.95), r.percentile(0.99),
      r.latencies_ms.empty() ? 0.0 : r.latencies_ms.back(),
      r.server_cpu_us ? fmt::format("{:.0f}", *r.server_cpu_us) : "-",
      r.server_disk_kib ? fmt::format("{:.2f}", *r.server_disk_kib) : "-");
}

}  // namespace caseline::tools
