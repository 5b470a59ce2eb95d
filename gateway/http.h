#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace caseline::gateway {

// A request as handlers see it: no Beast type, so that handlers and their tests do not pull in
// Beast and Asio.
struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // decoded path, without the query
  std::multimap<std::string, std::string> query;  // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The client's address: the peer's, or the one a trusted proxy forwarded (client_address.h).
  std::string client;
  // What per-address limits count it under (address_key(): IPv4 itself, IPv6 by its /64).
  std::string client_key;

  std::optional<std::string_view> header(std::string_view lower_name) const;
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct http_response {
  int status{200};
  std::string content_type{"application/json"};
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Handlers answer through this, exactly once, from any thread.
using responder = std::function<void(http_response)>;

// Parses "a=1&b=x%20y" into name/value pairs; false on a malformed escape.
bool parse_query(std::string_view query, std::multimap<std::string, std::string>& out);
// Percent-decodes a path or query component; nullopt on a malformed escape or a NUL.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

}  // namespace caseline::gateway
