#include "gateway/server.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/thread_name.h"
#include "gateway/client_address.h"
#include "gateway/connection_limit.h"
#include "gateway/detail/io_thread.h"
#include "gateway/problem.h"
#include "gateway/routes.h"

namespace caseline::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// The loop of the server whose I/O thread this is (defer_on_io_thread); null on other threads.
thread_local asio::io_context* this_thread_loop = nullptr;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// The last transfer coding of a Transfer-Encoding value, lower-cased and trimmed.
std::string last_coding(std::string_view te) {
  const auto comma = te.rfind(',');
  std::string_view last = comma == std::string_view::npos ? te : te.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  const auto semi = last.find(';');
  if (semi != std::string_view::npos) last = last.substr(0, semi);
  return lower(last);
}

// Descriptors kept for everything but client connections: the store's files, the log's sockets
// and files, the reserve descriptor.
constexpr rlim_t descriptors_kept = 1024;

// Raises the soft RLIMIT_NOFILE to the hard one and returns how many connections the rest
// allows, at most `wanted`.
std::size_t connections_allowed(std::size_t wanted) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;  // cannot tell: trust the option
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
    rlimit up = rl;
    up.rlim_cur = rl.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
    // Not raised: the soft limit stands and the cap below follows it.
  }
  if (rl.rlim_cur == RLIM_INFINITY) return wanted;
  const rlim_t kept = std::min(descriptors_kept, rl.rlim_cur / 2);
  const auto usable = static_cast<std::size_t>(rl.rlim_cur - kept);
  if (usable < wanted)
    spdlog::warn("{}", log_line("max_connections_capped",
                                {{"wanted", static_cast<std::int64_t>(wanted)},
                                 {"allowed", static_cast<std::int64_t>(usable)},
                                 {"rlimit_nofile", static_cast<std::int64_t>(rl.rlim_cur)}}));
  return std::min(wanted, usable);
}

// The whole answer to a refused connection, written once without waiting: a 503 problem.
std::string refusal_bytes(refusal r, const connection_limits& limits) {
  std::string detail;
  switch (r) {
    case refusal::per_address:
      detail = "this address holds its share of connections (" +
               std::to_string(limits.per_address) + "); close one or retry later";
      break;
    case refusal::reserved:
      detail = "the last connections are kept for addresses that hold few; retry later";
      break;
    default: detail = "the server holds as many connections as it can; retry later"; break;
  }
  const auto p = problem_response({503, "too-many-connections", "Too many connections", detail,
                                   "", ""});
  return "HTTP/1.1 503 Service Unavailable\r\nServer: caseline\r\nContent-Type: " +
         p.content_type + "\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
         std::to_string(p.body.size()) + "\r\n\r\n" + p.body;
}

bool out_of_descriptors(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

ip_address peer_address(const tcp::endpoint& e) {
  if (e.address().is_v4()) {
    const auto b = e.address().to_v4().to_bytes();
    return ip_from_bytes(b.data(), b.size());
  }
  const auto b = e.address().to_v6().to_bytes();
  return ip_from_bytes(b.data(), b.size());
}

}  // namespace

class http_server::impl {
 public:
  impl(server_options options, request_handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        loops_(make_loops(std::max(1u, options_.threads))),
        acceptor_(asio::make_strand(*loops_.front())),
        backoff_(acceptor_.get_executor()) {}

  ~impl() {
    stop(std::chrono::milliseconds(0));
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
  }

  result<void> start() {
    auto proxies = trusted_proxies::parse(options_.trusted_proxies);
    if (!proxies) return make_error(errc::internal, proxies.error().message());
    trusted_ = std::move(proxies).value();
    limits_ = {connections_allowed(options_.max_connections),
               options_.max_connections_per_address};
    limiter_ = std::make_unique<connection_limiter>(limits_);
    limits_.per_address = limiter_->stats().per_address_limit;
    for (std::size_t r = 0; r < refusal_kinds; ++r)
      refusal_bytes_[r] = refusal_bytes(static_cast<refusal>(r), limits_);
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    beast::error_code ec;
    const auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return make_error(errc::internal, "bad listen address " + options_.host);
    const tcp::endpoint endpoint{address, options_.port};
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    // Accepting by hand when descriptors run out (on_no_descriptors) must not block.
    if (!ec) acceptor_.non_blocking(true, ec);
    if (ec)
      return make_error(errc::internal, "cannot listen on " + options_.host + ":" +
                                            std::to_string(options_.port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    for (auto& loop : loops_) {
      // A loop without a connection yet has no work: the guard keeps it running until stop().
      work_.push_back(asio::make_work_guard(*loop));
      threads_.emplace_back([l = loop.get(), name = "http-io-" + std::to_string(threads_.size())] {
        events::name_this_thread(name);
        this_thread_loop = l;
        l->run();
        this_thread_loop = nullptr;
      });
    }
    return success();
  }

  void stop(std::chrono::milliseconds grace) {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;  // closing a listening socket cannot fail in a way we act on
      acceptor_.close(ignored);
      backoff_.cancel();
    });
    {
      std::unique_lock lk(mu_);
      idle_cv_.wait_for(lk, grace, [&] { return active_requests_ == 0; });
    }
    work_.clear();
    for (auto& loop : loops_) loop->stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  std::uint16_t port() const { return port_; }
  std::size_t active_requests() const {
    std::lock_guard lk(mu_);
    return active_requests_;
  }

  const server_options& options() const { return options_; }
  const request_handler& handler() const { return handler_; }
  bool stopping() const { return stopped_.load(); }

  void request_started() {
    std::lock_guard lk(mu_);
    ++active_requests_;
  }
  void request_finished() {
    std::lock_guard lk(mu_);
    if (--active_requests_ == 0) idle_cv_.notify_all();
  }
  const trusted_proxies& trusted() const { return trusted_; }
  connection_limiter& limiter() { return *limiter_; }
  std::vector<gauge_sample> connection_metrics() const {
    return limiter_ ? connection_gauges(limiter_->stats()) : std::vector<gauge_sample>{};
  }

 private:
  // One loop per I/O thread (io_context with concurrency hint 1): a connection lives on one
  // loop, so its handlers, and the work its answers defer, run on one thread without waking
  // another; the connections are dealt out to the loops in turn.
  static std::vector<std::unique_ptr<asio::io_context>> make_loops(unsigned n) {
    std::vector<std::unique_ptr<asio::io_context>> loops;
    for (unsigned i = 0; i < n; ++i) loops.push_back(std::make_unique<asio::io_context>(1));
    return loops;
  }
  asio::io_context& next_loop() { return *loops_[next_loop_++ % loops_.size()]; }

  void do_accept() {
    acceptor_.async_accept(
        next_loop(), [this](beast::error_code ec, tcp::socket s) { on_accept(ec, std::move(s)); });
  }
  void on_accept(beast::error_code ec, tcp::socket socket);
  void on_no_descriptors();
  void refuse(tcp::socket& socket, refusal r);
  void resume_after(std::chrono::milliseconds pause);

  server_options options_;
  request_handler handler_;
  trusted_proxies trusted_;
  connection_limits limits_;
  // Declared before the io_context: sessions still queued in it when it is destroyed release
  // their count here.
  std::unique_ptr<connection_limiter> limiter_;
  std::array<std::string, refusal_kinds> refusal_bytes_;
  // Declared before the acceptor and the sessions' sockets that run on them.
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::size_t next_loop_{0};  // the loop of the next accepted connection; on the acceptor's strand
  tcp::acceptor acceptor_;      // on a strand: accepting, stop() and the backoff never overlap
  asio::steady_timer backoff_;  // the pause before accepting again after a failed accept
  // A descriptor held back so that, when the process runs out, one can be freed to accept and
  // close a waiting connection instead of leaving it in the backlog (where the acceptor would
  // see the same failure again at once).
  int reserve_fd_{-1};
  std::chrono::steady_clock::time_point last_exhaustion_log_{};
  std::vector<std::thread> threads_;
  std::uint16_t port_{0};
  std::atomic<bool> stopped_{false};
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::size_t active_requests_{0};
};

namespace {

// One connection: read a header, check it, read the body, hand the request over, write the
// answer, repeat while keep-alive. Runs on the one thread of its loop.
class session : public std::enable_shared_from_this<session> {
 public:
  // Admitted by the server's connection_limiter under `key`; released when the session ends,
  // after its descriptor is closed, so that the open-connections gauge never counts fewer
  // descriptors than the server holds.
  session(tcp::socket socket, http_server::impl& server, ip_address peer, std::string key)
      : stream_(std::move(socket)), server_(server), peer_(peer), key_(std::move(key)) {}
  ~session() {
    beast::error_code ignored;  // closing a socket the peer already reset has nothing to report
    stream_.socket().close(ignored);
    server_.limiter().release(key_);
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options().header_limit));
    body_limit_ = std::max(server_.options().body_limit, max_route_body_limit());
    parser_->body_limit(body_limit_);
    stream_.expires_after(first_request_ ? server_.options().read_timeout
                                         : server_.options().idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    first_request_ = false;
    const auto& h = parser_->get();
    const bool has_te = h.find(bhttp::field::transfer_encoding) != h.end();
    const bool has_cl = h.find(bhttp::field::content_length) != h.end();
    if (has_te && has_cl)
      return reject({400, "bad-request", "Bad request",
                     "Content-Length together with Transfer-Encoding is refused", "", ""});
    if (has_te && last_coding(h[bhttp::field::transfer_encoding]) != "chunked")
      return reject({400, "bad-request", "Bad request",
                     "a Transfer-Encoding that does not end in chunked is refused", "", ""});
    if (h.count(bhttp::field::content_length) > 1 || h.count(bhttp::field::host) > 1)
      return reject({400, "bad-request", "Bad request", "duplicate Content-Length or Host", "",
                     ""});
    // RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without Host.
    if (h.version() >= 11 && h.count(bhttp::field::host) == 0)
      return reject({400, "bad-request", "Bad request", "an HTTP/1.1 request needs a Host header",
                     "", ""});
    // A route may take a larger body than the default (call audio). The header was read with
    // the largest limit of any route (Beast checks Content-Length while parsing the header);
    // now that the route is known, its own limit applies.
    body_limit_ = std::max(server_.options().body_limit,
                           route_body_limit(std::string_view(h.method_string()),
                                            std::string_view(h.target())));
    if (const auto length = parser_->content_length(); length && *length > body_limit_)
      return on_read_error(bhttp::error::body_limit);
    parser_->body_limit(body_limit_);
    stream_.expires_after(server_.options().read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code e, std::size_t) {
                        self->on_read(e);
                      });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset)
      return close();
    if (ec == bhttp::error::body_limit)
      return reject({413, "payload-too-large", "Payload too large",
                     "the body exceeds " + std::to_string(body_limit_) +
                         " bytes",
                     "", ""});
    if (ec == bhttp::error::header_limit)
      return reject({431, "headers-too-large", "Request header fields too large",
                     "the header exceeds " + std::to_string(server_.options().header_limit) +
                         " bytes",
                     "", ""});
    return reject({400, "bad-request", "Bad request", "malformed HTTP request: " + ec.message(),
                   "", ""});
  }

  // Answers with a problem and closes: the connection's framing can no longer be trusted.
  void reject(const problem& p) {
    keep_alive_ = false;
    write(problem_response(p));
  }

  void on_read(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto req = parser_->release();
    keep_alive_ = req.keep_alive() && !server_.stopping();
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    const auto q = r.target.find('?');
    auto path = percent_decode(std::string_view(r.target).substr(0, q), false);
    if (!path || r.target.empty() || r.target.front() != '/')
      return reject({400, "bad-request", "Bad request", "the request target is malformed", "",
                     ""});
    r.path = std::move(*path);
    if (q != std::string::npos && !parse_query(std::string_view(r.target).substr(q + 1), r.query))
      return reject({400, "bad-request", "Bad request", "the query string is malformed", "", ""});
    for (const auto& field : req)
      r.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
    r.body = std::move(req.body());
    // Forwarding headers count only from a trusted proxy; from anyone else they are ignored.
    forwarding_headers forwarding;
    if (server_.trusted().contains(peer_))
      for (const auto& [name, value] : r.headers) {
        if (name == "forwarded") forwarding.forwarded.emplace_back(value);
        if (name == "x-forwarded-for") forwarding.x_forwarded_for.emplace_back(value);
      }
    const auto client = client_address(peer_, forwarding, server_.trusted());
    r.client = client.to_string();
    r.client_key = address_key(client);

    // In flight until its answer is written (or the connection fails): stop() waits for that,
    // so that an answer decided before the stop reaches its client.
    server_.request_started();
    answering_ = true;
    stream_.expires_never();  // the handler may wait for the log; the write has its own timeout
    // Deferred, not posted: answered on the thread of the connection's own loop, the write
    // waits in that thread's queue behind the handler running now, no other thread woken; from
    // any other thread (the writer, a worker, another loop) defer is a post.
    server_.handler()(std::move(r), [self = shared_from_this()](http_response resp) {
      asio::defer(self->stream_.get_executor(),
                  [self, resp = std::move(resp)]() mutable { self->write(std::move(resp)); });
    });
  }

  void write(http_response resp) {
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
    msg->version(11);
    msg->result(static_cast<unsigned>(resp.status));
    msg->set(bhttp::field::server, "caseline");
    msg->set(bhttp::field::content_type, resp.content_type);
    for (auto& [name, value] : resp.headers) {
      // Nothing a client sent may break the header block: CR and LF are never written.
      if (has_crlf(name) || has_crlf(value)) continue;
      msg->set(name, value);
    }
    msg->body() = std::move(resp.body);
    if (server_.stopping()) keep_alive_ = false;  // no further request on a stopping server
    msg->keep_alive(keep_alive_);
    msg->prepare_payload();
    stream_.expires_after(server_.options().read_timeout);
    bhttp::async_write(stream_, *msg,
                       [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                         if (self->answering_) {
                           self->answering_ = false;
                           self->server_.request_finished();
                         }
                         if (ec) return self->close();
                         if (!self->keep_alive_) return self->close();
                         self->do_read();
                       });
  }

  void close() {
    beast::error_code ignored;  // the peer may already be gone; there is nothing left to do
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  http_server::impl& server_;
  const ip_address peer_;
  const std::string key_;  // the peer's address_key, as the limiter counts it
  bool keep_alive_{true};
  bool first_request_{true};
  bool answering_{false};  // a request was handed to the handler and its answer is not written
  std::size_t body_limit_{0};  // of the request being read
};

}  // namespace

bool defer_on_io_thread(std::function<void()> f) {
  if (!this_thread_loop) return false;
  // A continuation of the running handler: queued on this thread, no other thread woken.
  asio::defer(*this_thread_loop, std::move(f));
  return true;
}

// Never stops accepting and never spins: a connection over a limit is closed at once; when
// descriptors run out, a waiting connection is accepted on the reserve descriptor and closed;
// any other failure pauses briefly.
void http_server::impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open() || stopped_.load()) return;
  if (out_of_descriptors(ec)) return on_no_descriptors();
  if (ec) {
    // A connection that went away before it was accepted costs nothing more; anything else
    // might repeat at once, so the acceptor pauses instead of spinning.
    if (ec == asio::error::connection_aborted || ec == asio::error::connection_reset)
      return do_accept();
    spdlog::warn("{}", log_line("accept_failed", {{"error", ec.message()}}));
    return resume_after(std::chrono::milliseconds(100));
  }
  beast::error_code peer_ec;
  const auto endpoint = socket.remote_endpoint(peer_ec);
  if (peer_ec) {  // gone already
    socket.close(peer_ec);
    return do_accept();
  }
  const auto peer = peer_address(endpoint);
  auto key = address_key(peer);
  if (const auto r = limiter_->admit(key, trusted_.contains(peer)); r != refusal::none) {
    refuse(socket, r);
    return do_accept();
  }
  beast::error_code ignored;  // Nagle stays on if this fails: slower, still correct
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<session>(std::move(socket), *this, peer, std::move(key))->run();
  do_accept();
}

// Answers 503 and closes, all without waiting: on a fresh connection the send buffer is empty,
// so the answer is written at once or not at all. What the client already sent is read first,
// so that the close is a FIN (unread data would make it a reset that may discard the answer).
void http_server::impl::refuse(tcp::socket& socket, refusal r) {
  const int fd = socket.native_handle();
  char scratch[4096];
  for (int i = 0; i < 16; ++i)
    if (::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) <= 0) break;
  const auto& bytes = refusal_bytes_[static_cast<std::size_t>(r)];
  // Best effort, deliberately unchecked: a peer that is gone or not reading gets the close alone.
  [[maybe_unused]] const auto sent =
      ::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  beast::error_code ignored;  // the peer may be gone already; there is nothing left to do
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

void http_server::impl::on_no_descriptors() {
  limiter_->count_refusal(refusal::fd_exhausted);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_exhaustion_log_ > std::chrono::seconds(10)) {
    last_exhaustion_log_ = now;
    spdlog::warn("{}", log_line("accept_out_of_descriptors",
                                {{"open_connections",
                                  static_cast<std::int64_t>(limiter_->stats().open)}}));
  }
  bool drained = false;
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_);
    reserve_fd_ = -1;
    const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      drained = true;
    }
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  // One waiting connection closed: try the next one at once (each turn empties the backlog by
  // one, so this is no spin). Otherwise pause until descriptors may be free again.
  if (drained && reserve_fd_ >= 0) return do_accept();
  resume_after(std::chrono::milliseconds(50));
}

void http_server::impl::resume_after(std::chrono::milliseconds pause) {
  backoff_.expires_after(pause);
  backoff_.async_wait([this](beast::error_code ec) {
    if (ec || !acceptor_.is_open() || stopped_.load()) return;
    if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    do_accept();
  });
}

http_server::http_server(server_options options, request_handler handler)
    : impl_(std::make_unique<impl>(std::move(options), std::move(handler))) {}
http_server::~http_server() = default;
result<void> http_server::start() { return impl_->start(); }
void http_server::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }
std::uint16_t http_server::port() const { return impl_->port(); }
std::size_t http_server::active_requests() const { return impl_->active_requests(); }
std::vector<gauge_sample> http_server::connection_metrics() const {
  return impl_->connection_metrics();
}

}  // namespace caseline::gateway
