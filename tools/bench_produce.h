#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>

namespace caseline::tools {

struct bench_produce_options {
  std::string brokers;                      // "host:port[,...]" (caseline bench produce --kafka)
  std::string topic{"cases.events"};        // created like the log's topic if missing
  std::int32_t partitions{8};
  std::chrono::seconds duration{10};        // stop producing after this long ...
  std::uint64_t max_records{0};             // ... or after this many records (0: no limit)
  std::size_t record_size{600};             // value bytes per record
  std::uint32_t keys{10'000};               // distinct case ids the records are keyed by
  std::size_t max_in_flight{20'000};        // records produced but not yet reported
  std::map<std::string, std::string> properties;  // extra librdkafka properties, as the log's
};

// Produces same-size records keyed like case ids straight to the topic with raw librdkafka and
// the Kafka log's producer settings (idempotent, acks=all, same linger and timeouts), each to
// the partition partition_for(key) gives, and prints throughput (records/s, MB/s) and
// delivery-latency percentiles (produce call to delivery report). Returns 0 when it ran, even
// with failed records (a benchmark never fails CI); 1 when the topic could not be opened or the
// producer not created; 2 for bad options.
// `records_per_second`, when given, receives the acknowledged rate (for `caseline bench all`).
int run_bench_produce(const bench_produce_options& options, std::ostream& out,
                      double* records_per_second = nullptr);

}  // namespace caseline::tools
