#pragma once

#include <vector>

#include "projections/calendar_projection.h"
#include "projections/case_index.h"
#include "projections/case_projection.h"
#include "projections/idempotency_index.h"
#include "projections/partition_owners.h"
#include "projections/projection.h"
#include "projections/queues.h"
#include "projections/registry_projection.h"
#include "projections/reports.h"
#include "projections/retention.h"
#include "projections/store.h"
#include "projections/token_store.h"

namespace caseline::projections {

// Every projection that is a pure function of the log, over one store, in the order the runner
// applies them. The server, the offline tools and the rebuild all use this one set: the runner
// keeps one offset per partition for all of them, so a tool that ran a subset would move the
// offsets past events the others never saw. Owns them; borrows the store. Runner thread only,
// except registry(), calendar(), owners() and tokens() (thread-safe snapshots and reads).
class projection_set {
 public:
  explicit projection_set(store& s)
      : cases_(s),
        index_(s, cases_),
        registry_(s),
        calendar_(s),
        queues_(s, cases_),
        reports_(s),
        retention_(s),
        keys_(s),
        owners_(s),
        tokens_(s) {}
  std::vector<projection*> all() {
    return {&cases_,   &index_,     &registry_, &calendar_, &queues_,
            &reports_, &retention_, &keys_,     &owners_,   &tokens_};
  }
  registry_projection& registry() { return registry_; }
  calendar_projection& calendar() { return calendar_; }
  const partition_owners& owners() const { return owners_; }
  tokens_projection& tokens() { return tokens_; }
  // Fails when a projection's stored rows cannot be loaded at start.
  const std::optional<error>& load_error() const {
    if (registry_.load_error()) return registry_.load_error();
    if (calendar_.load_error()) return calendar_.load_error();
    return owners_.load_error() ? owners_.load_error() : tokens_.load_error();
  }

 private:
  case_projection cases_;
  case_index_projection index_;
  registry_projection registry_;
  calendar_projection calendar_;
  queue_projection queues_;
  report_projection reports_;
  retention_projection retention_;
  idempotency_projection keys_;
  partition_owners owners_;
  tokens_projection tokens_;
};

}  // namespace caseline::projections
