#include "events/detail/rdkafka_handle.h"

#include <climits>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"

namespace caseline::events::detail {

namespace {

errc classify(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__FATAL:
      return errc::fatal;
    case RD_KAFKA_RESP_ERR__DESTROY:
      return errc::closed;
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return errc::invalid_partition;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return errc::bad_config;
    default:
      // Transport errors, requests the cluster did not answer in time, leader moves, not
      // enough replicas, a full local queue, a message that timed out or was purged: the log
      // is not reachable now, the record is not known to be written, and a retry may succeed.
      // (errc::timed_out is kept for our own deadlines: flush, read.)
      return errc::unavailable;
  }
}

// "<what>: <ERROR_NAME> (<description>)"
std::string describe(std::string_view what, const char* name, const char* text) {
  std::string detail{what};
  detail += ": ";
  detail += name;
  detail += " (";
  detail += text;
  detail += ")";
  return detail;
}

// The gate of exit_log_guard. Never destroyed: threads may pass it while static destruction
// runs.
struct exit_gate {
  std::shared_mutex mu;
  bool closed{false};  // guarded by mu
};

exit_gate& gate() {
  static exit_gate* const g = [] {
    // spdlog's registry is built first, so that it is destroyed after the handler has run
    // (atexit handlers and static destructors run in the reverse order of their registration).
    (void)spdlog::default_logger_raw();
    auto* made = new exit_gate;  // NOLINT(cppcoreguidelines-owning-memory): never destroyed
    std::atexit(&close_exit_log_guards);
    return made;
  }();
  return *g;
}

}  // namespace

exit_log_guard::exit_log_guard() : lock_(gate().mu), open_(!gate().closed) {}

void close_exit_log_guards() {
  std::unique_lock lk(gate().mu);
  gate().closed = true;
}

void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  // syslog levels: 0-3 error, 4 warning, 5-6 notice and info, 7 debug.
  const auto lvl = level <= 3   ? spdlog::level::err
                   : level == 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info
                                : spdlog::level::debug;
  const exit_log_guard guard;
  if (!guard) return;
  // librdkafka's messages name brokers, topics and errors, never a record's key or value.
  spdlog::log(lvl, "{}",
              log_line("librdkafka", {{"client", rk ? rd_kafka_name(rk) : ""},
                                      {"facility", facility ? facility : ""},
                                      {"message", message ? message : ""}}));
}

error translate(rd_kafka_resp_err_t err, std::string_view what) {
  return make_error(make_error_code(classify(err)),
                    describe(what, rd_kafka_err2name(err), rd_kafka_err2str(err)));
}

error translate(const rd_kafka_error_t* err, std::string_view what) {
  errc code = classify(rd_kafka_error_code(err));
  if (rd_kafka_error_is_fatal(err)) {
    code = errc::fatal;
  } else if (rd_kafka_error_is_retriable(err) && code == errc::bad_config) {
    code = errc::unavailable;  // librdkafka knows better than our table that a retry helps
  }
  return make_error(make_error_code(code),
                    describe(what, rd_kafka_error_name(err), rd_kafka_error_string(err)));
}

result<conf_ptr> make_conf(const properties& props) {
  (void)gate();  // its exit handler registered before any client can log
  conf_ptr conf{rd_kafka_conf_new()};
  rd_kafka_conf_set_log_cb(conf.get(), &log_to_spdlog);
  char errstr[512];
  for (const auto& [name, value] : props) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return make_error(errc::bad_config, "librdkafka property " + name + ": " + errstr);
    }
  }
  return conf;
}

result<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr conf) {
  char errstr[512];
  // rd_kafka_new takes the configuration only when it succeeds.
  handle_ptr rk{rd_kafka_new(type, conf.get(), errstr, sizeof errstr)};
  if (!rk) return make_error(errc::bad_config, std::string{"librdkafka client: "} + errstr);
  (void)conf.release();
  return rk;
}

int to_ms(std::chrono::milliseconds d) noexcept {
  if (d.count() < 0) return 0;
  if (d.count() > INT_MAX) return INT_MAX;
  return static_cast<int>(d.count());
}

}  // namespace caseline::events::detail
