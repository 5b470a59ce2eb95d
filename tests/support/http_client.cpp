#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <strings.h>
#include <cctype>
#include <stdexcept>

#include <boost/json/parse.hpp>

namespace caseline::test {

std::uint16_t unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("unused_port: no socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("unused_port: cannot bind 127.0.0.1:0");
  return ntohs(a.sin_port);
}

namespace {

// A stream socket whose connect and sends give up after `deadline` (Linux applies SO_SNDTIMEO
// to connect too); -1 on failure.
int deadline_socket(int family, std::chrono::milliseconds deadline) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(deadline.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((deadline.count() % 1000) * 1000);
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Connects to "HOST:PORT" (a name or an address; IPv6 in brackets); -1 on failure.
int connect_address(const std::string& address, std::chrono::milliseconds deadline) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (const addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = deadline_socket(a->ai_family, deadline);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

std::string request_bytes(const std::string& method, const std::string& target,
                          const std::string& host, const std::string& body,
                          const header_list& headers) {
  std::string req = method;
  req.append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
  req.append("\r\nConnection: close\r\n");
  bool has_ct = false;
  for (const auto& [n, v] : headers) {
    req.append(n).append(": ").append(v).append("\r\n");
    if (::strcasecmp(n.c_str(), "Content-Type") == 0) has_ct = true;
  }
  if (!body.empty() && !has_ct) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  return req;
}

// Sends `bytes` on `fd` (closed afterwards) and reads the answer until the server closes.
http_reply exchange(int fd, std::string_view bytes, std::chrono::milliseconds deadline) {
  if (fd < 0) return {};
  send_all(fd, bytes);
  auto raw = read_until_close(fd, deadline);
  ::close(fd);
  return parse_reply(raw);
}

}  // namespace

std::string http_reply::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

const boost::json::value& http_reply::json() const {
  if (!parsed) parsed = boost::json::parse(body);
  return *parsed;
}

int connect_to(std::uint16_t port, const char* from, std::chrono::milliseconds deadline) {
  const int fd = deadline_socket(AF_INET, deadline);
  if (fd < 0) return -1;
  if (from) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, from, &local.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string read_until_close(int fd, std::chrono::milliseconds deadline, bool* closed) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + deadline;
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (closed) *closed = false;
      return out;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

http_reply parse_reply(const std::string& raw) {
  http_reply r;
  const auto end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end);
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    const auto eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[name] = value;
    pos = eol + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

http_reply raw_request(std::uint16_t port, std::string_view bytes,
                       std::chrono::milliseconds deadline, const char* from) {
  return exchange(connect_to(port, from, deadline), bytes, deadline);
}

http_reply request(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body, const header_list& headers, const char* from,
                   std::chrono::milliseconds deadline) {
  return exchange(connect_to(port, from, deadline),
                  request_bytes(method, target, "127.0.0.1", body, headers), deadline);
}

http_reply http_call(const std::string& address, const std::string& method,
                     const std::string& target, const std::string& body, const header_list& headers,
                     std::chrono::milliseconds deadline) {
  const auto host = address.substr(0, address.rfind(':'));
  return exchange(connect_address(address, deadline),
                  request_bytes(method, target, host, body, headers), deadline);
}

}  // namespace caseline::test
