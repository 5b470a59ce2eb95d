#include "tools/bench_ingest.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "gateway/server.h"

namespace caseline::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

struct run_result {
  std::vector<double> latencies_ms;  // of successful requests
  std::uint64_t ok{0};
  std::uint64_t failed{0};
  double seconds{0};
};

run_result drive(const std::string& host, const std::string& port, unsigned connections,
                 std::chrono::seconds duration, const std::string& center,
                 const std::string& token) {
  run_result total;
  std::mutex mu;
  const auto deadline = std::chrono::steady_clock::now() + duration;
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      run_result mine;
      asio::io_context ioc;
      beast::tcp_stream stream(ioc);
      auto connect = [&] {
        beast::error_code ec;
        asio::ip::tcp::resolver resolver(ioc);
        auto results = resolver.resolve(host, port, ec);
        if (!ec) stream.connect(results, ec);
        return !ec;
      };
      bool connected = connect();
      std::uint64_t n = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        if (!connected && !(connected = connect())) {
          ++mine.failed;
          continue;
        }
        bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/cases", 11};
        req.set(bhttp::field::host, host);
        req.set(bhttp::field::content_type, "application/json");
        if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
        req.keep_alive(true);
        req.body() = fmt::format(
            R"({{"channel":"phone","center":"{}","caller":{{"phone":"1380000{:04}","name":"bench"}},"content":"benchmark case {} of connection {}: the bus did not stop at the station"}})",
            center, (c * 7 + n) % 10000, n, c);
        req.prepare_payload();
        ++n;
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
        if (resp.result_int() == 201) {
          ++mine.ok;
          mine.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
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

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

void print_row(std::ostream& out, std::string_view name, const run_result& r) {
  out << fmt::format("{:<28} {:>10.0f} {:>8} {:>8} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f}\n", name,
                     static_cast<double>(r.ok) / r.seconds, r.ok, r.failed,
                     percentile(r.latencies_ms, 0.50), percentile(r.latencies_ms, 0.95),
                     percentile(r.latencies_ms, 0.99),
                     r.latencies_ms.empty() ? 0.0 : r.latencies_ms.back());
}

}  // namespace

int run_bench_ingest(const bench_ingest_options& o, std::ostream& out, std::ostream& err) {
  constexpr std::string_view scheme = "http://";
  if (!o.url.starts_with(scheme)) {
    err << "caseline bench ingest: --url must start with http://\n";
    return 2;
  }
  std::string hostport = o.url.substr(scheme.size());
  if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  const auto colon = hostport.rfind(':');
  const std::string host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  const std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  if (o.connections == 0 || o.connections > 1024 || o.duration.count() <= 0) {
    err << "caseline bench ingest: need 1-1024 connections and a positive duration\n";
    return 2;
  }
  out << fmt::format("POST /v1/cases, {} connections, {} s each run, {} hardware threads\n",
                     o.connections, o.duration.count(), std::thread::hardware_concurrency());
  out << fmt::format("{:<28} {:>10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}\n", "target", "req/s",
                     "ok", "failed", "p50 ms", "p95 ms", "p99 ms", "max ms");
  print_row(out, "caseline " + hostport, drive(host, port, o.connections, o.duration, o.center, o.token));
  if (o.baseline) {
    gateway::server_options so;
    so.port = 0;
    so.max_connections_per_address = 1024;  // every bench connection comes from one address
    gateway::http_server bare(so, [](gateway::http_request, gateway::responder respond) {
      gateway::http_response r;
      r.status = 201;
      r.body = R"({"id":"baseline"})";
      respond(std::move(r));
    });
    if (auto r = bare.start(); !r) {
      err << "caseline bench ingest: baseline server: " << r.error().message() << "\n";
      return 0;
    }
    print_row(out, "http layer only (baseline)",
              drive("127.0.0.1", std::to_string(bare.port()), o.connections, o.duration, o.center,
                    o.token));
    bare.stop();
  }
  return 0;
}

}  // namespace caseline::tools
