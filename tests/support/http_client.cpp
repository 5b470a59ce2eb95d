#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace caseline::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {
std::pair<std::string, std::string> split(const std::string& address) {
  const auto colon = address.rfind(':');
  return {address.substr(0, colon), address.substr(colon + 1)};
}
}  // namespace

std::string http_reply::header(const std::string& lower_name) const {
  for (const auto& [n, v] : headers)
    if (n == lower_name) return v;
  return {};
}

http_reply http_call(const std::string& address, const std::string& method,
                     const std::string& target, const std::string& body,
                     std::vector<std::pair<std::string, std::string>> headers) {
  http_reply out;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  const auto [host, port] = split(address);
  asio::ip::tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port, ec);
  if (ec) return out;
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(results, ec);
  if (ec) return out;
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, host);
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  for (auto& [n, v] : headers) req.set(n, v);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req, ec);
  if (ec) return out;
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> resp;
  bhttp::read(stream, buffer, resp, ec);
  if (ec) return out;
  out.status = static_cast<int>(resp.result_int());
  out.body = resp.body();
  for (const auto& f : resp) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  return out;
}

std::string raw_call(const std::string& address, const std::string& bytes, int timeout_ms) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  const auto [host, port] = split(address);
  asio::ip::tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port, ec);
  if (ec) return {};
  stream.connect(results, ec);
  if (ec) return {};
  asio::write(stream.socket(), asio::buffer(bytes), ec);
  std::string got;
  char buf[4096];
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  for (;;) {
    const std::size_t n = stream.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
    if (ec) break;
  }
  return got;
}

}  // namespace caseline::test
