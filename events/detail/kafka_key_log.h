#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "events/detail/rdkafka_group.h"
#include "events/detail/rdkafka_handle.h"
#include "events/event_log.h"
#include "events/key_log.h"

namespace caseline::events::detail {

// The Kafka log's keys topic with a group (events/key_log.h): commits go through the group's
// partition writers (kafka_group::append_key), everything else through `topic`, a Kafka log of
// the keys topic without a group (its read_committed consumers, its end offsets, its idempotent
// producer for publish). The call audio's topic is one too, with `side` = destination::audio.
//
// `admin` are the client properties of a short-lived admin client that tombstone_retention()
// makes to describe the topic `name`.
//
// Lifecycle: made by the Kafka log once the keys topic exists, destroyed before the group.
// Thread-safety: every member from any thread.
class kafka_key_log final : public key_log {
 public:
  kafka_key_log(kafka_group& group, std::unique_ptr<event_log> topic, std::string name,
                properties admin, txn_writer::destination side = txn_writer::destination::keys)
      : group_(group),
        topic_(std::move(topic)),
        name_(std::move(name)),
        admin_(std::move(admin)),
        side_(side) {}

  std::int32_t partition_count() const override { return topic_->partition_count(); }
  void commit(partition_id p, std::string key, std::string value,
              event_log::append_handler handler) override;
  result<log_position> publish(partition_id p, std::string key, std::string value,
                               std::chrono::milliseconds timeout) override;
  void publish_async(partition_id p, std::string key, std::string value,
                     event_log::append_handler handler) override {
    topic_->append_to(p, std::move(key), std::move(value), std::move(handler));
  }
  result<log_offset> end_offset(partition_id p) override { return topic_->end_offset(p); }
  result<std::chrono::milliseconds> tombstone_retention(std::chrono::milliseconds timeout) override;
  result<std::unique_ptr<subscription>> subscribe(start_offsets from,
                                                  event_log::batch_handler handler) override {
    return topic_->subscribe(std::move(from), std::move(handler));
  }

 private:
  kafka_group& group_;
  std::unique_ptr<event_log> topic_;
  const std::string name_;
  const properties admin_;
  txn_writer::destination side_;
};

}  // namespace caseline::events::detail
