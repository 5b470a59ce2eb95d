#include "gateway/peer_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gateway/problem.h"

namespace caseline::gateway {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// What the answer of a write may weigh: far above any case (a case with its history is a few
// KiB), so that only a broken peer hits it.
constexpr std::uint64_t answer_limit = std::uint64_t{8} * 1024 * 1024;

// Headers of the owner's answer that are not passed on: hop-by-hop ones, those the server
// writes itself, and Content-Type (http_response::content_type).
bool not_passed_on(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "transfer-encoding" || lower_name == "content-length" ||
         lower_name == "date" || lower_name == "server" || lower_name == "content-type";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

using steady = std::chrono::steady_clock;

// One connection to a peer, with the io_context its operations run on: each call runs it on
// its own thread, one call at a time.
struct connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  steady::time_point idle_since{};

  // Whether the peer closed it (or sent something unasked) while it was idle: a peek that does
  // not wait. A connection that is still open and quiet has nothing to read.
  bool closed_by_peer() {
    char c = 0;
    const auto n = ::recv(stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }
};

// How one exchange on a connection ended.
enum class ended { answered, failed_unanswered, timed_out };

}  // namespace

struct peer_client::impl {
  explicit impl(peer_options o) : options(o) {}

  // The most recently used idle connection to `peer` that may still be used, if any.
  std::unique_ptr<connection> take(const std::string& peer) {
    std::lock_guard lk(mu);
    auto& idle = pools[peer];
    while (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      if (steady::now() - c->idle_since < options.idle_timeout && !c->closed_by_peer()) return c;
    }
    return nullptr;
  }

  void give_back(const std::string& peer, std::unique_ptr<connection> c) {
    c->idle_since = steady::now();
    std::lock_guard lk(mu);
    auto& idle = pools[peer];
    // Deliberately dropped (closed) when the pool is full: more idle connections than workers
    // that could use them only hold the peer's slots.
    if (idle.size() < options.max_idle_per_peer) idle.push_back(std::move(c));
  }

  // Resolves and connects a fresh connection before `deadline`; false when it could not. An
  // address is used as it is; a name is resolved on an io_context of its own, so that no
  // pooled connection keeps the resolver's thread.
  static bool connect(connection& c, const peer_address& peer, steady::time_point deadline,
                      std::string& why) {
    std::vector<asio::ip::tcp::endpoint> endpoints;
    beast::error_code ec;
    const auto address = asio::ip::make_address(peer.host, ec);
    const auto port = static_cast<std::uint16_t>(std::stoul(peer.port));
    if (!ec) {
      endpoints.emplace_back(address, port);
    } else {
      asio::io_context rioc;
      asio::ip::tcp::resolver resolver(rioc);
      why = "resolve: timed out";
      resolver.async_resolve(
          peer.host, peer.port,
          [&](beast::error_code ec2, const asio::ip::tcp::resolver::results_type& found) {
            if (ec2) {
              why = "resolve: " + ec2.message();
              return;
            }
            for (const auto& e : found) endpoints.push_back(e.endpoint());
          });
      rioc.run_until(deadline);
      if (endpoints.empty()) return false;
    }
    bool connected = false;
    why = "connect: timed out";
    c.stream.expires_at(deadline);
    c.stream.async_connect(endpoints, [&](beast::error_code ec2, const auto&) {
      if (ec2) {
        why = "connect: " + ec2.message();
        return;
      }
      connected = true;
    });
    c.ioc.run_until(deadline + std::chrono::milliseconds(100));
    return connected;
  }

  // Sends the request and reads the answer on `c` before `deadline`.
  static ended exchange(connection& c, const bhttp::request<bhttp::string_body>& req,
                        bhttp::response_parser<bhttp::string_body>& parser,
                        steady::time_point deadline, std::string& why) {
    c.ioc.restart();
    c.stream.expires_at(deadline);
    bool answered = false;
    bool timed_out = false;
    why = "answer: timed out";
    bhttp::async_write(c.stream, req, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        timed_out = ec == beast::error::timeout;
        why = "send: " + ec.message();
        return;
      }
      bhttp::async_read(c.stream, c.buffer, parser, [&](beast::error_code ec2, std::size_t) {
        if (ec2) {
          timed_out = ec2 == beast::error::timeout;
          why = "read: " + ec2.message();
          return;
        }
        answered = true;
      });
    });
    c.ioc.run_until(deadline + std::chrono::milliseconds(100));
    if (answered) return ended::answered;
    if (timed_out || !c.ioc.stopped()) return ended::timed_out;
    return parser.got_some() || c.buffer.size() > 0 ? ended::timed_out : ended::failed_unanswered;
  }

  const peer_options options;
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<connection>>> pools;  // guarded by mu
  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> reused{0};
  std::atomic<std::uint64_t> resent{0};
};

std::optional<peer_address> parse_peer_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());
  if (url.ends_with('/')) url.remove_suffix(1);
  if (url.empty() || url.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
  peer_address a;
  std::string_view port = "80";
  std::string_view host = url;
  if (url.front() == '[') {  // [IPv6]:port
    const auto close = url.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = url.substr(1, close - 1);
    const auto rest = url.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (const auto colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  a.host = std::string(host);
  a.port = std::string(port);
  return a;
}

peer_client::peer_client(peer_options options) : impl_(std::make_unique<impl>(options)) {}
peer_client::~peer_client() = default;

peer_counters peer_client::counters() const {
  return {impl_->opened.load(), impl_->reused.load(), impl_->resent.load()};
}

const peer_options& peer_client::options() const { return impl_->options; }

result<http_response> peer_client::send(
    std::string_view url, std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
    resend may_resend) {
  const auto peer = parse_peer_url(url);
  if (!peer) return make_error(errc::not_ready, "the owner's URL is not http://HOST:PORT");
  const auto deadline = steady::now() + impl_->options.answer;
  const std::string key = peer->host + ":" + peer->port;
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.set(bhttp::field::host, key);
  req.keep_alive(true);
  req.body() = std::string(body);
  req.prepare_payload();

  auto unanswered = [](const std::string& why) {
    return make_error(errc::owner_unreachable, "no complete answer (" + why + ")");
  };
  std::string why;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  auto fresh_parser = [&] {
    parser.emplace();
    parser->body_limit(answer_limit);
  };
  auto c = impl_->take(key);
  if (c) {
    impl_->reused.fetch_add(1, std::memory_order_relaxed);
    fresh_parser();
    switch (impl::exchange(*c, req, *parser, deadline, why)) {
      case ended::answered:
        break;
      case ended::timed_out:
        return unanswered(why);
      case ended::failed_unanswered:
        if (may_resend != resend::safe) return unanswered("a kept-alive connection failed, " + why);
        impl_->resent.fetch_add(1, std::memory_order_relaxed);
        c.reset();
        break;
    }
  }
  if (!c) {
    c = std::make_unique<connection>();
    impl_->opened.fetch_add(1, std::memory_order_relaxed);
    if (!impl::connect(*c, *peer, std::min(deadline, steady::now() + impl_->options.connect), why))
      return make_error(errc::not_ready, "not reached (" + why + ")");
    fresh_parser();
    if (impl::exchange(*c, req, *parser, deadline, why) != ended::answered) return unanswered(why);
  }
  auto res = parser->release();
  if (res.keep_alive()) impl_->give_back(key, std::move(c));
  http_response out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.headers.reserve(8);
  for (const auto& field : res) {
    auto name = lower(field.name_string());
    if (not_passed_on(name)) continue;
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(res.body());
  return out;
}

}  // namespace caseline::gateway
