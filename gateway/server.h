#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "gateway/http.h"
#include "gateway/metrics.h"

namespace caseline::gateway {

struct server_options {
  std::string host{"127.0.0.1"};
  std::uint16_t port{8080};  // 0: any free port (see http_server::port())
  unsigned threads{2};       // I/O threads, each with its own loop; connections dealt out in turn
  std::size_t body_limit{std::size_t{64} * 1024};
  std::size_t header_limit{std::size_t{8} * 1024};
  std::chrono::seconds read_timeout{15};   // a whole request must arrive within this
  std::chrono::seconds idle_timeout{60};   // a keep-alive connection with no request
  // Open connections at once: in total (capped at start by what RLIMIT_NOFILE leaves after a
  // reserve for the store and the log), and from one client address (an IPv6 /64; at most half
  // the total; a trusted proxy only by the total). See connection_limiter.
  std::size_t max_connections{10'000};
  std::size_t max_connections_per_address{256};
  // Reverse proxies (ADDR or ADDR/PREFIX) whose Forwarded / X-Forwarded-For name the client
  // (http_request::client); from any other peer those headers are ignored.
  std::vector<std::string> trusted_proxies;
};

// Handles one request; answers through the responder exactly once (from any thread).
using request_handler = std::function<void(http_request, responder)>;

// The HTTP/1.1 server (Boost.Beast, kept out of this header). Rejects what the handler must
// never see: oversize bodies and headers (413/431), request smuggling vectors (Content-Length
// with Transfer-Encoding, a Transfer-Encoding not ending in chunked: 400), malformed requests
// (400), slow clients (timeouts), connections over the limits (closed at once, with a 503
// where it can be written without waiting). Every error it produces itself is problem+json.
//
// Lifecycle: start() binds and runs the I/O threads; stop() stops accepting, lets requests in
// flight finish and their answers be written (up to `grace`; answers close their connections),
// then stops the I/O threads. A responder called after that drops its answer, but it still
// refers to the server: the server must outlive every responder it handed out, so whatever
// holds them (the api's workers, the writer's commands in flight) is finished first.
// Thread-safe.
class http_server {
 public:
  http_server(server_options options, request_handler handler);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  result<void> start();
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  std::uint16_t port() const;
  std::size_t active_requests() const;
  // Connections open, accepted and refused (caseline_connections_*), for /metrics.
  std::vector<gauge_sample> connection_metrics() const;

  class impl;  // opaque: keeps Beast and Asio out of this header

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace caseline::gateway
