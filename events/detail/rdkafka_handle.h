#pragma once

// A thin RAII layer over the librdkafka C API (rdkafka.h). Private to events/: nothing outside
// events/ includes this header, so no librdkafka type reaches the public interface.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "core/result.h"

namespace caseline::events::detail {

struct rdkafka_deleter {
  void operator()(rd_kafka_t* p) const noexcept { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const noexcept { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const noexcept { rd_kafka_topic_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const noexcept { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_event_t* p) const noexcept { rd_kafka_event_destroy(p); }
  void operator()(rd_kafka_message_t* p) const noexcept { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const noexcept {
    rd_kafka_topic_partition_list_destroy(p);
  }
  void operator()(const rd_kafka_metadata_t* p) const noexcept { rd_kafka_metadata_destroy(p); }
  void operator()(rd_kafka_AdminOptions_t* p) const noexcept { rd_kafka_AdminOptions_destroy(p); }
  void operator()(rd_kafka_NewTopic_t* p) const noexcept { rd_kafka_NewTopic_destroy(p); }
  void operator()(rd_kafka_ConfigResource_t* p) const noexcept {
    rd_kafka_ConfigResource_destroy(p);
  }
  void operator()(rd_kafka_error_t* p) const noexcept { rd_kafka_error_destroy(p); }
};

template <class T>
using rdkafka_ptr = std::unique_ptr<T, rdkafka_deleter>;

using handle_ptr = rdkafka_ptr<rd_kafka_t>;
using conf_ptr = rdkafka_ptr<rd_kafka_conf_t>;
using topic_ptr = rdkafka_ptr<rd_kafka_topic_t>;
using queue_ptr = rdkafka_ptr<rd_kafka_queue_t>;
using event_ptr = rdkafka_ptr<rd_kafka_event_t>;
using message_ptr = rdkafka_ptr<rd_kafka_message_t>;
using partition_list_ptr = rdkafka_ptr<rd_kafka_topic_partition_list_t>;
using metadata_ptr = rdkafka_ptr<const rd_kafka_metadata_t>;

using properties = std::map<std::string, std::string>;

// The one place where librdkafka error codes become events::errc, keeping whether a retry may
// help: transport errors and unanswered requests are `unavailable`, a fatal producer error is `fatal`, an
// unknown partition is `invalid_partition`, requests the cluster refuses for good (size,
// authorisation, invalid settings) are `bad_config`, a destroyed handle is `closed`.
// `what` says which operation failed; the detail also carries librdkafka's error name.
error translate(rd_kafka_resp_err_t err, std::string_view what);
// The same for an rd_kafka_error_t (which knows itself whether it is fatal or retriable).
error translate(const rd_kafka_error_t* err, std::string_view what);

// librdkafka's log callback: each line goes to spdlog as one JSON object (log_line), never to
// stderr as librdkafka's own text. make_conf installs it on every client. Written under an
// exit_log_guard.
void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message);

// Held while a thread that may outlive main writes a log line: librdkafka's own threads, and a
// reader lane whose call outlived its reader (kafka_reader.h), which closes its consumer when
// that call ends, maybe while the process exits. Once exit begins, static destruction frees
// spdlog's loggers: a line written then would use them freed. So the guard is false from the
// moment the process exits (an atexit handler, registered after spdlog's registry is built, so
// run before it is destroyed, closes it and waits for the lines being written); the line is
// then dropped. Cheap: a shared lock.
class exit_log_guard {
 public:
  exit_log_guard();
  explicit operator bool() const { return open_; }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  bool open_;
};

// What the atexit handler does: no line is written through an exit_log_guard after it returns.
// For the exit handler and tests only.
void close_exit_log_guards();

// A configuration holding `props` in order (and logging through log_to_spdlog); a property librdkafka refuses is `bad_config`
// naming it.
result<conf_ptr> make_conf(const properties& props);

// A client handle of `type` from `conf` (consumed on success and on failure).
result<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr conf);

// Milliseconds as the int librdkafka takes, clamped to [0, INT_MAX].
int to_ms(std::chrono::milliseconds d) noexcept;

}  // namespace caseline::events::detail
