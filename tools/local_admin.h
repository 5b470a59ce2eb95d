#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "tools/admin_client.h"

namespace caseline::tools {

// The local admin socket: a Unix-domain socket in a running server's data folder
// (<data>/admin.sock) through which the machine's operator administers the server's tokens
// without a bearer token. It is the way back for an operator who has lost every admin token:
// `caseline token create --data DIR` makes a new one while the hotline keeps running (on a
// stopped server, the same command writes the log itself).
//
// Who may use it: a peer whose user (SO_PEERCRED) is the server's own or root, the users who may
// open the data folder and its master key anyway; anyone else is answered 403. The socket file
// is made only readable and writable by its owner too.
//
// The exchange, one per connection: the client sends "METHOD PATH\n" and a body, then shuts its
// side down; the server answers "STATUS\n" and a body (JSON, problem+json for an error), then
// closes. The handler runs on the socket's own thread, one request at a time. A data folder
// whose path is too long for a socket address is reached through /proc/self/fd.
struct local_peer {
  uid_t uid{};
  pid_t pid{};
};

struct local_request {
  std::string method;
  std::string path;
  std::string body;
};

class local_admin_socket {
 public:
  using handler = std::function<admin_answer(const local_request&, const local_peer&)>;

  // Listens at <data_dir>/admin.sock (a socket file left by a server that was killed is
  // replaced: the data folder's store is locked by this server). Thread-safe; the destructor
  // stops the thread and removes the socket file.
  static result<std::unique_ptr<local_admin_socket>> open(const std::string& data_dir, handler h);
  ~local_admin_socket();
  local_admin_socket(const local_admin_socket&) = delete;
  local_admin_socket& operator=(const local_admin_socket&) = delete;

  class impl;

 private:
  explicit local_admin_socket(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

// One request through the socket of the server running on `data_dir`: nullopt when no server
// listens there (no socket file, or one left by a server that is not running), an error when
// the exchange fails, otherwise the server's answer.
result<std::optional<admin_answer>> local_admin_request(
    const std::string& data_dir, const local_request& request,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The socket file's name in the data folder.
inline constexpr std::string_view local_admin_socket_name = "admin.sock";

}  // namespace caseline::tools
