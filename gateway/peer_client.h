#pragma once

// The HTTP client a server of the group forwards a write with (gateway/forwarding.h). No Beast
// or Asio type in this header.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "gateway/http.h"

namespace caseline::gateway {

struct peer_timeouts {
  std::chrono::milliseconds connect{2000};  // resolve and connect
  // Sending the request and reading the whole answer: above what the owner itself may take to
  // answer a write (the log's delivery timeout, 10 s; the key index's catch-up, 10 s).
  std::chrono::milliseconds exchange{25000};
};

// Where a peer is: "http://HOST:PORT" (an advertised base URL; a trailing slash is allowed).
struct peer_address {
  std::string host;
  std::string port;
};
// nullopt for anything but a plain http URL without a path.
std::optional<peer_address> parse_peer_url(std::string_view url);

// Sends one request (Connection: close) to the peer at `url` and returns its answer as it came:
// status, Content-Type, body and every header but the hop-by-hop ones (Connection, Keep-Alive,
// Transfer-Encoding, Content-Length, Date, Server). Blocks the calling thread up to the
// timeouts. An error (errc::not_ready) when the URL is not one, the peer cannot be reached, or
// it did not answer in time. Thread-safe: each call has its own connection.
result<http_response> send_to_peer(std::string_view url, std::string_view method,
                                   std::string_view target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   std::string_view body, peer_timeouts timeouts = {});

}  // namespace caseline::gateway
