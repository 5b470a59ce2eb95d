#pragma once

// One server's key store and its replica of a group's keys topic, on a real RocksDB folder: what
// the tests of the keys topic (key_replica_test.cpp) and of the Kafka log's key journal
// (kafka_key_journal_test.cpp) stand up per server.
#include <memory>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "core/ids.h"
#include "events/embedded_event_log.h"
#include "events/event_log.h"
#include "events/field_crypto.h"
#include "projections/key_replica.h"
#include "projections/key_store.h"

namespace caseline::test {

// With `journal`, the store also copies the keys the log's key journal commits, as serve attaches
// it (key_store::use_journal).
struct key_server {
  std::unique_ptr<projections::key_store> keys;
  std::unique_ptr<projections::key_replica> replica;

  key_server(events::event_log& log, const std::string& dir, const events::secret_key& master,
             const projections::away_options& away = {}, bool journal = false) {
    auto ks = projections::key_store::open(dir, master);
    REQUIRE_MESSAGE(ks.has_value(), (ks ? std::string{} : ks.error().message()));
    keys = std::move(ks).value();
    if (journal) {
      REQUIRE(events::journal_of(log) != nullptr);
      REQUIRE(keys->use_journal(*events::journal_of(log)).has_value());
    }
    projections::key_replica::options o;
    o.away = away;
    auto r = projections::key_replica::start(*log.keys(), *keys, master, o);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message()));
    replica = std::move(r).value();
  }
  ~key_server() {
    replica.reset();  // before the store it writes to
    keys.reset();
  }
  key_server(const key_server&) = delete;
  key_server& operator=(const key_server&) = delete;

  std::optional<std::string> key_of(const case_id& id) {
    auto k = keys->get(id);
    REQUIRE_MESSAGE(k.has_value(), (k ? std::string{} : k.error().message()));
    if (!k.value()) return std::nullopt;
    return std::string(k.value()->view());
  }
};

}  // namespace caseline::test
