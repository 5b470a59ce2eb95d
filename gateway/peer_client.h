#pragma once

// The HTTP client a server of the group forwards a write with (gateway/forwarding.h): a small
// keep-alive pool per peer. No Beast or Asio type in this header.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "gateway/http.h"

namespace caseline::gateway {

// How long a forward may hold the api worker that makes it, and how many connections are kept.
struct peer_options {
  std::chrono::milliseconds connect{1000};  // resolve and connect a fresh connection
  // The whole forward, from taking a connection to the last byte of the answer, a resend on a
  // fresh connection included: above the owner's log delivery timeout (10 s), so that a write
  // its log confirms slowly is still the owner's answer. Past it the answer is 503
  // owner-unreachable (the write may have been made: retry with the same Idempotency-Key).
  std::chrono::milliseconds answer{12000};
  std::size_t max_idle_per_peer{8};  // idle connections kept per peer (above: closed)
  // An idle connection older than this is closed, not reused: well below the owner's own idle
  // timeout (60 s), so that the owner never closes a connection this side is about to reuse.
  std::chrono::milliseconds idle_timeout{15000};
};

// Where a peer is: "http://HOST:PORT" (an advertised base URL; a trailing slash is allowed).
struct peer_address {
  std::string host;
  std::string port;
};
// nullopt for anything but a plain http URL without a path.
std::optional<peer_address> parse_peer_url(std::string_view url);

// Connections counted since the client was made (/metrics).
struct peer_counters {
  std::uint64_t opened{0};  // fresh connections (a resend's included)
  std::uint64_t reused{0};  // requests sent on a pooled connection
  std::uint64_t resent{0};  // requests sent again on a fresh connection after a pooled one failed
};

// Whether a request may be sent a second time when a pooled connection fails before any byte
// of the answer arrived (the owner closed it, or crashed, perhaps after reading the request).
enum class resend { never, safe };

// Sends requests to the servers of the group and returns their answers as they came: status,
// Content-Type, body and every header but the hop-by-hop ones (Connection, Keep-Alive,
// Transfer-Encoding, Content-Length, Date, Server).
//
// Each call runs on the calling thread (an api worker) and returns within peer_options::answer
// whatever the peer does. A connection is taken from the peer's pool (the most recently used
// one that is neither older than idle_timeout nor closed by the peer) or opened; after a
// complete answer that keeps the connection alive it goes back. When a pooled connection fails
// before any byte of the answer, a request marked resend::safe is sent once more on a fresh
// connection; any other is answered owner_unreachable.
//
// Errors: errc::not_ready when nothing was sent (the URL is not one, the peer could not be
// connected to); errc::owner_unreachable when the request may have reached the peer (no
// complete answer in time, or the connection failed after sending).
//
// Lifecycle: one per api; connections close when it is destroyed. Thread-safe: a connection
// is used by one call at a time, the pool is guarded by a mutex.
class peer_client {
 public:
  explicit peer_client(peer_options options = {});
  ~peer_client();
  peer_client(const peer_client&) = delete;
  peer_client& operator=(const peer_client&) = delete;

  result<http_response> send(std::string_view url, std::string_view method, std::string_view target,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             std::string_view body, resend may_resend);
  peer_counters counters() const;
  const peer_options& options() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace caseline::gateway
