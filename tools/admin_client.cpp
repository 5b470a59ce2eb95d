#include "tools/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "events/errc.h"

namespace caseline::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

result<admin_answer> admin_request(const admin_target& to, std::string_view method,
                                   const std::string& path, const std::string& body,
                                   std::string_view content_type) {
  std::string_view rest = to.url;
  std::string host, port = "80";
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    if (rest.ends_with('/')) rest.remove_suffix(1);
    const auto colon = rest.rfind(':');
    host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = std::string(rest.substr(colon + 1));
  }
  if (host.empty() || host.find('/') != std::string::npos || port.empty() ||
      port.find_first_not_of("0123456789") != std::string::npos)
    return make_error(events::errc::bad_config, "--url must be http://HOST:PORT, not '" + to.url + "'");
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    asio::ip::tcp::resolver resolver(ioc);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, port));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), path, 11};
    req.set(bhttp::field::host, host);
    if (!body.empty()) req.set(bhttp::field::content_type, content_type);
    req.set(bhttp::field::authorization, "Bearer " + to.token);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> resp;
    bhttp::read(stream, buffer, resp);
    return admin_answer{static_cast<int>(resp.result_int()), std::move(resp.body())};
  } catch (const std::exception& ex) {
    return make_error(events::errc::unavailable, to.url + ": " + ex.what());
  }
}

}  // namespace caseline::tools
