#include "events/detail/kafka_key_log.h"

#include <future>
#include <utility>

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

}  // namespace caseline::events::detail
