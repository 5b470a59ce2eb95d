#pragma once

#include <string>
#include <utility>
#include <vector>

namespace caseline::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_reply {
  int status{0};  // 0: no answer (connection failed)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  std::string header(const std::string& lower_name) const;
};

// One request over a fresh connection to "HOST:PORT".
http_reply http_call(const std::string& address, const std::string& method,
                     const std::string& target, const std::string& body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {});

// Raw bytes over a fresh connection; returns whatever the server sent before closing or the
// timeout (for smuggling and malformed-request tests).
std::string raw_call(const std::string& address, const std::string& bytes, int timeout_ms = 5000);

}  // namespace caseline::test
