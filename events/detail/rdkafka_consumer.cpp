#include "events/detail/rdkafka_consumer.h"

#include <utility>

namespace caseline::events::detail {

bool add_gaps(partition_id p, std::int64_t& next, std::int64_t until, std::vector<log_record>& out,
              std::size_t limit) {
  for (; next < until; ++next) {
    if (out.size() >= limit) return false;
    out.push_back(log_record{{p, log_offset{next}}, {}, {}});
  }
  return true;
}

result<handle_ptr> make_consumer(const properties& props) {
  auto conf = make_conf(props);
  if (!conf) return std::move(conf).error();
  auto rk = make_handle(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!rk) return std::move(rk).error();
  // Serve errors and logs from the consumer queue too, so that nothing piles up unpolled.
  rd_kafka_poll_set_consumer(rk.value().get());
  return rk;
}

result<void> assign(rd_kafka_t* rk, const std::string& topic,
                    const std::map<std::int32_t, std::int64_t>& offsets) {
  partition_list_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()))};
  for (const auto& [p, off] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = off;
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk, list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return translate(err, "assign partitions");
  return success();
}

void close_consumer(rd_kafka_t* rk) {
  // No group membership and no commits: closing only stops the fetchers. Its error is
  // deliberately ignored, the handle is destroyed right after.
  (void)rd_kafka_consumer_close(rk);
}

log_record to_record(const rd_kafka_message_t& m) {
  log_record r;
  r.position = {partition_id{m.partition}, log_offset{m.offset}};
  if (m.key) r.key.assign(static_cast<const char*>(m.key), m.key_len);
  if (m.payload) r.value.assign(static_cast<const char*>(m.payload), m.len);
  return r;
}

}  // namespace caseline::events::detail
