#include "gateway/peer_client.h"

#include <cctype>
#include <optional>

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

}  // namespace

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

result<http_response> send_to_peer(std::string_view url, std::string_view method,
                                   std::string_view target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   std::string_view body, peer_timeouts timeouts) {
  const auto peer = parse_peer_url(url);
  if (!peer) return make_error(errc::not_ready, "the owner's URL is not http://HOST:PORT");
  // One io_context per call, run on the calling thread (an api worker): the timeouts of the
  // stream bound every step, so the call returns in bounded time whatever the peer does.
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.set(bhttp::field::host, peer->host + ":" + peer->port);
  req.keep_alive(false);
  req.body() = std::string(body);
  req.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(answer_limit);
  beast::error_code failed;
  std::string step = "resolve";
  bool answered = false;
  auto fail = [&](beast::error_code ec, const char* what) {
    failed = ec;
    step = what;
  };
  stream.expires_after(timeouts.connect);
  resolver.async_resolve(
      peer->host, peer->port,
      [&](beast::error_code ec, const asio::ip::tcp::resolver::results_type& found) {
        if (ec) return fail(ec, "resolve");
        stream.async_connect(found, [&](beast::error_code ec2, const auto&) {
          if (ec2) return fail(ec2, "connect");
          stream.expires_after(timeouts.exchange);
          bhttp::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
            if (ec3) return fail(ec3, "send");
            bhttp::async_read(stream, buffer, parser, [&](beast::error_code ec4, std::size_t) {
              if (ec4) return fail(ec4, "read");
              answered = true;
            });
          });
        });
      });
  // The resolver has no timeout of its own: the run as a whole is bounded too.
  ioc.run_for(timeouts.connect + timeouts.exchange);
  if (!answered) {
    beast::error_code ignored;
    stream.socket().close(ignored);  // deliberately ignored: the connection is given up
    if (!failed) step = "answer (timed out)";
    return make_error(errc::not_ready, "the partition's owner did not answer (" + step +
                                           (failed ? ": " + failed.message() : std::string()) +
                                           ")");
  }
  const auto& res = parser.get();
  http_response out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.body = res.body();
  for (const auto& field : res) {
    auto name = lower(field.name_string());
    if (not_passed_on(name)) continue;
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

}  // namespace caseline::gateway
