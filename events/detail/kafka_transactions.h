#pragma once

#include <chrono>

#include "events/kafka_event_log.h"

namespace caseline::events::detail {

// How long a group writer's transaction may stay open before the transaction coordinator aborts
// it (librdkafka transaction.timeout.ms). A live writer keeps one open at most twice the
// delivery timeout: its records' delivery reports (bounded by the delivery timeout, after which
// it aborts), then its commit, retried within the delivery timeout again (txn_writer, events/
// detail/rdkafka_txn_producer.cpp), so the coordinator never aborts a live writer's transaction
// before the writer itself gives up on it. A writer that crashed (kill -9) mid-transaction holds
// back every read_committed reader of its partition (the last stable offset) until the open
// transaction is aborted: by the partition's next owner's init_transactions, or, when no server
// takes the partition, by the coordinator this long after the transaction's last request, plus
// up to the broker's transaction.abort.timed.out.transaction.cleanup.interval.ms (10 s by
// default). Not less than the delivery timeout either: librdkafka refuses a message.timeout.ms
// above the transaction timeout.
constexpr std::chrono::milliseconds transaction_timeout(const kafka_log_timeouts& t) {
  return 2 * t.delivery;
}

}  // namespace caseline::events::detail
