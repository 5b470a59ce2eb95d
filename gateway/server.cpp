#include "gateway/server.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gateway/problem.h"
#include "gateway/routes.h"

namespace caseline::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

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

}  // namespace

class http_server::impl {
 public:
  impl(server_options options, request_handler handler)
      : options_(std::move(options)), handler_(std::move(handler)), acceptor_(ioc_) {}

  ~impl() { stop(std::chrono::milliseconds(0)); }

  result<void> start() {
    beast::error_code ec;
    const auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return make_error(errc::internal, "bad listen address " + options_.host);
    const tcp::endpoint endpoint{address, options_.port};
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return make_error(errc::internal, "cannot listen on " + options_.host + ":" +
                                            std::to_string(options_.port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    for (unsigned i = 0; i < std::max(1u, options_.threads); ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    return success();
  }

  void stop(std::chrono::milliseconds grace) {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;  // closing a listening socket cannot fail in a way we act on
      acceptor_.close(ignored);
    });
    {
      std::unique_lock lk(mu_);
      idle_cv_.wait_for(lk, grace, [&] { return active_requests_ == 0; });
    }
    ioc_.stop();
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
  std::atomic<std::size_t>& connections() { return connections_; }

 private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      on_accept(ec, std::move(s));
    });
  }
  void on_accept(beast::error_code ec, tcp::socket socket);

  server_options options_;
  request_handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::uint16_t port_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> connections_{0};
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::size_t active_requests_{0};
};

namespace {

// One connection: read a header, check it, read the body, hand the request over, write the
// answer, repeat while keep-alive. Runs on its own strand.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, http_server::impl& server)
      : stream_(std::move(socket)), server_(server) {
    ++server_.connections();
  }
  ~session() { --server_.connections(); }

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
    beast::error_code ignored;  // a peer that went away has no address; it is only for logs
    const auto endpoint = stream_.socket().remote_endpoint(ignored);
    r.client = endpoint.address().to_string();

    server_.request_started();
    stream_.expires_never();  // the handler may wait for the log; the write has its own timeout
    server_.handler()(std::move(r), [self = shared_from_this()](http_response resp) {
      asio::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
        self->server_.request_finished();
        self->write(std::move(resp));
      });
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
    msg->keep_alive(keep_alive_);
    msg->prepare_payload();
    stream_.expires_after(server_.options().read_timeout);
    bhttp::async_write(stream_, *msg,
                       [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
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
  bool keep_alive_{true};
  bool first_request_{true};
  std::size_t body_limit_{0};  // of the request being read
};

}  // namespace

void http_server::impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (!ec) {
    if (connections_.load() >= options_.max_connections) {
      beast::error_code ignored;  // refused: too many connections
      socket.close(ignored);
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<session>(std::move(socket), *this)->run();
    }
  }
  do_accept();
}

http_server::http_server(server_options options, request_handler handler)
    : impl_(std::make_unique<impl>(std::move(options), std::move(handler))) {}
http_server::~http_server() = default;
result<void> http_server::start() { return impl_->start(); }
void http_server::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }
std::uint16_t http_server::port() const { return impl_->port(); }
std::size_t http_server::active_requests() const { return impl_->active_requests(); }

}  // namespace caseline::gateway
