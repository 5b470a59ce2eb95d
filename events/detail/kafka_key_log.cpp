#include "events/detail/kafka_key_log.h"

#include <charconv>
#include <future>
#include <utility>

#include "events/detail/rdkafka_admin.h"
#include "events/errc.h"

namespace caseline::events::detail {

void kafka_key_log::commit(partition_id p, std::string key, std::string value,
                           event_log::append_handler handler) {
  if (p() < 0 || p() >= partition_count()) {
    return handler(make_error(
        errc::invalid_partition,
        "keys partition " + std::to_string(p()) + " of " + std::to_string(partition_count())));
  }
  group_.append_side(side_, p, std::move(key), std::move(value), std::move(handler));
}

result<log_position> kafka_key_log::publish(partition_id p, std::string key, std::string value,
                                            std::chrono::milliseconds timeout) {
  // The handler may run after a timeout here: it owns the promise.
  auto done = std::make_shared<std::promise<result<log_position>>>();
  auto outcome = done->get_future();
  publish_async(p, std::move(key), std::move(value),
                [done](result<log_position> r) { done->set_value(std::move(r)); });
  if (outcome.wait_for(timeout) != std::future_status::ready)
    return make_error(errc::timed_out, "the keys topic did not acknowledge in time");
  return outcome.get();
}

result<std::chrono::milliseconds> kafka_key_log::tombstone_retention(
    std::chrono::milliseconds timeout) {
  auto conf = make_conf(admin_);
  if (!conf) return std::move(conf).error();
  auto admin = make_handle(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!admin) return std::move(admin).error();
  auto d = describe_topic(admin.value().get(), name_, timeout);
  if (!d) return std::move(d).error();
  // describe_topic fills in the cluster's default for a setting the topic does not set.
  const auto it = d.value().configs.find("delete.retention.ms");
  std::int64_t ms = -1;
  if (it != d.value().configs.end()) {
    const auto& v = it->second;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (ec != std::errc{} || end != v.data() + v.size()) ms = -1;
  }
  if (ms < 0)
    return make_error(errc::unavailable,
                      "the topic " + name_ + " names no readable delete.retention.ms");
  return std::chrono::milliseconds{ms};
}

}  // namespace caseline::events::detail
