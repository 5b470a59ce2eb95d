#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace caseline::tools {

// One HTTP request to a running server, for the subcommands that administer it through its API
// (token create|list|revoke, calendar publish, backup). Synchronous, one connection per call,
// 30 s deadline. Stateless and thread-safe.
struct admin_target {
  std::string url{"http://127.0.0.1:8080"};  // http://HOST[:PORT][/]
  std::string token;                         // an admin bearer token
};

struct admin_answer {
  int status{0};
  std::string body;
};

// A malformed URL or a transport failure is an error; any HTTP status is an answer.
result<admin_answer> admin_request(const admin_target& to, std::string_view method,
                                   const std::string& path, const std::string& body = {},
                                   std::string_view content_type = "application/json");

}  // namespace caseline::tools
