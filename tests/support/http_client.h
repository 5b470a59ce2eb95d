#pragma once

// The tests' one HTTP/1.1 client: blocking POSIX sockets, a fresh connection per request, and a
// deadline on every call (connect, send, read), so a server that hangs fails the test instead of
// hanging it. Raw bytes too, for the smuggling, malformed-request and slow-client cases.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace caseline::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_reply {
  int status{0};     // 0: no answer (no connection, or no complete head before the deadline)
  std::string head;  // the status line and the headers
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased

  std::string header(const std::string& lower_name) const;
  // The body parsed once and kept with the reply, so references into it live as long as the
  // reply; throws when the body is not JSON.
  const boost::json::value& json() const;
  mutable std::optional<boost::json::value> parsed;
};

// The deadline of a call to a server in this process (`request`, `raw_request`).
inline constexpr std::chrono::milliseconds default_deadline = std::chrono::seconds(10);
// The deadline of a call to a `caseline` process (`http_call`): above the log's delivery timeout,
// so that a write refused with 503 while the broker is down arrives before it.
inline constexpr std::chrono::milliseconds process_deadline = std::chrono::seconds(60);

// Connects to 127.0.0.1:port, from `from` when given (any 127.x address is the loopback on
// Linux, so a test can be several clients); -1 on failure. Sends and the connect itself give up
// after `deadline`.
// A port on 127.0.0.1 that nothing listens on now (bound, then closed: connections are refused
// until something binds it; a server of a group may be given it, its URL known before it starts).
std::uint16_t unused_port();

int connect_to(std::uint16_t port, const char* from = nullptr,
               std::chrono::milliseconds deadline = default_deadline);
// Sends every byte, or stops at the first failure (a closed peer, the send deadline).
void send_all(int fd, std::string_view bytes);
// Reads until the peer closes or the deadline passes; `closed` tells which.
std::string read_until_close(int fd, std::chrono::milliseconds deadline, bool* closed = nullptr);
// The reply in raw bytes (status 0 when they hold no complete head).
http_reply parse_reply(const std::string& raw);

// Sends raw bytes on a fresh connection and reads the answer until the server closes.
http_reply raw_request(std::uint16_t port, std::string_view bytes,
                       std::chrono::milliseconds deadline = default_deadline,
                       const char* from = nullptr);

// One request (Connection: close) to 127.0.0.1:port. A body goes as application/json unless
// `headers` name a Content-Type.
http_reply request(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body = {}, const header_list& headers = {},
                   const char* from = nullptr,
                   std::chrono::milliseconds deadline = default_deadline);

// The same to "HOST:PORT", the address a `caseline serve` prints.
http_reply http_call(const std::string& address, const std::string& method,
                     const std::string& target, const std::string& body = {},
                     const header_list& headers = {},
                     std::chrono::milliseconds deadline = process_deadline);

}  // namespace caseline::test
