#include "tools/http_load.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <ostream>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gateway/server.h"

namespace caseline::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

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

load_result drive_http(const http_endpoint& to, const load_options& o, const request_maker& make,
                       const answer_sink& sink) {
  load_result total;
  std::mutex mu;
  std::atomic<std::uint64_t> sent{0};
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + o.duration;
  const auto more = [&] {
    return std::chrono::steady_clock::now() < deadline &&
           (o.max_requests == 0 || sent.fetch_add(1) < o.max_requests);
  };
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      load_result mine;
      asio::io_context ioc;
      beast::tcp_stream stream(ioc);
      auto connect = [&] {
        beast::error_code ec;
        asio::ip::tcp::resolver resolver(ioc);
        auto results = resolver.resolve(to.host, to.port, ec);
        if (!ec) stream.connect(results, ec);
        return !ec;
      };
      bool connected = connect();
      for (std::uint64_t n = 0; more(); ++n) {
        if (!connected && !(connected = connect())) {
          ++mine.failed;
          continue;
        }
        const load_request lr = make(c, n);
        bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(lr.method), lr.target, 11};
        req.set(bhttp::field::host, to.host);
        if (!lr.body.empty()) req.set(bhttp::field::content_type, "application/json");
        if (!o.token.empty()) req.set(bhttp::field::authorization, "Bearer " + o.token);
        req.keep_alive(true);
        req.body() = lr.body;
        req.prepare_payload();
        const auto t0 = std::chrono::steady_clock::now();
        beast::error_code ec;
        bhttp::write(stream, req, ec);
        beast::flat_buffer buffer;
        bhttp::response<bhttp::string_body> resp;
        if (!ec) bhttp::read(stream, buffer, resp, ec);
        const auto t1 = std::chrono::steady_clock::now();
        if (ec) {
          ++mine.failed;
          connected = false;
          beast::error_code ignored;  // reconnect on the next round
          stream.socket().close(ignored);
          continue;
        }
        if (static_cast<int>(resp.result_int()) == o.expect_status) {
          ++mine.ok;
          mine.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          if (sink) sink(c, resp.body());
        } else {
          ++mine.failed;
        }
      }
      std::lock_guard lk(mu);
      total.ok += mine.ok;
      total.failed += mine.failed;
      total.latencies_ms.insert(total.latencies_ms.end(), mine.latencies_ms.begin(),
                                mine.latencies_ms.end());
    });
  }
  for (auto& t : threads) t.join();
  total.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
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
