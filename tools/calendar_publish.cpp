#include "tools/calendar_publish.h"

#include <fstream>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/calendar.h"

namespace caseline::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

int run_calendar_publish(const calendar_publish_options& o, std::ostream& out, std::ostream& err) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    err << "caseline calendar publish: cannot read " << o.file << "\n";
    return 2;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto blocks = core::calendar::split_years(text.str());
  if (!blocks) {
    err << "caseline calendar publish: " << o.file << ": " << blocks.error().message() << "\n";
    return 2;
  }
  // http://HOST[:PORT][/]
  std::string_view rest = o.url;
  std::string host, port = "80";
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    if (rest.ends_with('/')) rest.remove_suffix(1);
    const auto colon = rest.rfind(':');
    host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = std::string(rest.substr(colon + 1));
  }
  if (host.empty() || host.find('/') != std::string::npos || port.empty() ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    err << "caseline calendar publish: --url must be http://HOST:PORT, not '" << o.url << "'\n";
    return 2;
  }
  for (const auto& [year, block] : blocks.value()) {
    try {
      asio::io_context ioc;
      beast::tcp_stream stream(ioc);
      asio::ip::tcp::resolver resolver(ioc);
      stream.expires_after(std::chrono::seconds(30));
      stream.connect(resolver.resolve(host, port));
      bhttp::request<bhttp::string_body> req{bhttp::verb::put,
                                             "/v1/calendar/" + std::to_string(year), 11};
      req.set(bhttp::field::host, host);
      req.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      req.set(bhttp::field::authorization, "Bearer " + o.token);
      req.body() = block;
      req.prepare_payload();
      bhttp::write(stream, req);
      beast::flat_buffer buffer;
      bhttp::response<bhttp::string_body> resp;
      bhttp::read(stream, buffer, resp);
      if (resp.result_int() / 100 != 2) {
        err << "caseline calendar publish: " << year << ": " << resp.result_int() << ' '
            << resp.body() << "\n";
        return 1;
      }
      out << resp.body() << "\n";
    } catch (const std::exception& ex) {
      err << "caseline calendar publish: " << year << ": " << o.url << ": " << ex.what() << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace caseline::tools
