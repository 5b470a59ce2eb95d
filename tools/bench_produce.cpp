#include "tools/bench_produce.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "events/event_log.h"
#include "events/kafka_event_log.h"

namespace caseline::tools {

namespace {

using clock = std::chrono::steady_clock;

// What the delivery reports tell; touched only by the producing thread (reports are served by
// rd_kafka_poll / rd_kafka_flush on it).
struct tally {
  clock::time_point origin;
  std::vector<double> latencies_ms;  // of acknowledged records
  std::uint64_t acked{0};
  std::uint64_t failed{0};
  std::size_t in_flight{0};
  clock::time_point last_report;
  std::string first_error;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* t = static_cast<tally*>(opaque);
  const auto now = clock::now();
  // The produce time travels in the message's opaque pointer: no allocation per record.
  const auto sent = t->origin + std::chrono::nanoseconds(reinterpret_cast<std::uintptr_t>(msg->_private));
  --t->in_flight;
  t->last_report = now;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++t->acked;
    t->latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - sent).count());
  } else {
    ++t->failed;
    if (t->first_error.empty()) t->first_error = rd_kafka_err2str(msg->err);
  }
}

struct rk_deleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_topic_t* t) const noexcept { rd_kafka_topic_destroy(t); }
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

int run_bench_produce(const bench_produce_options& o, std::ostream& out,
                      double* records_per_second) {
  if (o.brokers.empty() || o.record_size == 0 || o.keys == 0 || o.max_in_flight == 0 ||
      (o.duration.count() <= 0 && o.max_records == 0)) {
    out << "bench produce: needs brokers, a positive size, keys, in-flight limit, and seconds or "
           "records\n";
    return 2;
  }
  events::kafka_log_options log_options;
  log_options.brokers = o.brokers;
  log_options.topic = o.topic;
  log_options.partitions = o.partitions;
  log_options.client_id = "caseline-bench-produce";
  log_options.properties = o.properties;
  {
    // Creates the topic as the log would, or checks the existing one; then gets out of the way.
    auto log = events::open_kafka_log(log_options);
    if (!log) {
      out << "bench produce: " << log.error().message() << "\n";
      return 1;
    }
  }
  auto props = events::kafka_producer_properties(log_options);
  if (!props) {
    out << "bench produce: " << props.error().message() << "\n";
    return 2;
  }

  tally t;
  t.latencies_ms.reserve(1'000'000);
  std::unique_ptr<rd_kafka_conf_t, rk_deleter> conf{rd_kafka_conf_new()};
  char errstr[512];
  for (const auto& [k, v] : props.value()) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      out << "bench produce: " << k << ": " << errstr << "\n";
      return 2;
    }
  }
  rd_kafka_conf_set_opaque(conf.get(), &t);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &on_delivery);
  std::unique_ptr<rd_kafka_t, rk_deleter> rk{
      rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr)};
  if (!rk) {
    out << "bench produce: " << errstr << "\n";
    return 1;
  }
  (void)conf.release();  // owned by rk now
  std::unique_ptr<rd_kafka_topic_t, rk_deleter> rkt{
      rd_kafka_topic_new(rk.get(), o.topic.c_str(), nullptr)};

  // Keys like case ids (center, date, sequence); the value is filler of the configured size.
  std::vector<std::string> keys;
  std::vector<std::int32_t> partitions;
  keys.reserve(o.keys);
  for (std::uint32_t i = 0; i < o.keys; ++i) {
    char key[48];
    std::snprintf(key, sizeof key, "410100-20261129-%06u", i);
    keys.emplace_back(key);
    partitions.push_back(events::partition_for(keys.back(), o.partitions)());
  }
  std::string value(o.record_size, 'x');

  t.origin = clock::now();
  const auto stop_at = t.origin + o.duration;
  std::uint64_t produced = 0;
  std::uint64_t refused = 0;
  while ((o.max_records == 0 || produced < o.max_records) &&
         (o.duration.count() <= 0 || clock::now() < stop_at)) {
    if (t.in_flight >= o.max_in_flight) {
      rd_kafka_poll(rk.get(), 1);
      continue;
    }
    const std::size_t k = produced % keys.size();
    const auto sent = static_cast<std::uintptr_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t.origin).count());
    if (rd_kafka_produce(rkt.get(), partitions[k], RD_KAFKA_MSG_F_COPY, value.data(), value.size(),
                         keys[k].data(), keys[k].size(), reinterpret_cast<void*>(sent)) == -1) {
      ++refused;  // local queue full: serve reports, then go on
      rd_kafka_poll(rk.get(), 1);
      continue;
    }
    ++t.in_flight;
    ++produced;
    rd_kafka_poll(rk.get(), 0);
  }
  const auto producing_ended = clock::now();
  const int flush_ms = static_cast<int>(std::stoi(props.value().at("message.timeout.ms")) + 5000);
  if (rd_kafka_flush(rk.get(), flush_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out << "bench produce: " << t.in_flight << " records still unreported after the flush\n";
  }
  const double seconds =
      std::chrono::duration<double>(std::max(t.last_report, producing_ended) - t.origin).count();

  std::sort(t.latencies_ms.begin(), t.latencies_ms.end());
  const double rate = seconds > 0 ? static_cast<double>(t.acked) / seconds : 0;
  const double mbps = rate * static_cast<double>(o.record_size) / 1e6;
  if (records_per_second) *records_per_second = rate;
  out << "bench produce: topic " << o.topic << " on " << o.brokers << ", " << o.partitions
      << " partitions, " << o.record_size << "-byte records, " << o.keys
      << " keys, idempotent acks=all, linger.ms=" << props.value().at("linger.ms") << "\n";
  out << "records  ok  failed  seconds  records/s  MB/s  p50_ms  p95_ms  p99_ms  max_ms\n";
  out << produced << "  " << t.acked << "  " << t.failed << "  " << fixed(seconds, 2) << "  "
      << fixed(rate, 0) << "  " << fixed(mbps, 2) << "  "
      << fixed(percentile(t.latencies_ms, 0.50), 2) << "  "
      << fixed(percentile(t.latencies_ms, 0.95), 2) << "  "
      << fixed(percentile(t.latencies_ms, 0.99), 2) << "  "
      << fixed(t.latencies_ms.empty() ? 0 : t.latencies_ms.back(), 2) << "\n";
  if (refused > 0) out << "local queue full " << refused << " times (producer back-pressure)\n";
  if (!t.first_error.empty()) out << "first delivery error: " << t.first_error << "\n";
  return 0;
}

}  // namespace caseline::tools
