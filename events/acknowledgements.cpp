#include "events/acknowledgements.h"

#include <utility>

namespace caseline::events {

namespace {
thread_local acknowledgement_scope* open_scope = nullptr;
}  // namespace

acknowledgement_scope::acknowledgement_scope() : outer_(open_scope) { open_scope = this; }

acknowledgement_scope::~acknowledgement_scope() { run(); }

void acknowledgement_scope::run() {
  if (open_scope == this) open_scope = outer_;
  // Work kept meanwhile (by the work itself) goes to the outer scope, or is refused.
  auto kept = std::move(kept_);
  kept_.clear();
  for (auto& f : kept) f();
}

bool after_acknowledgements(std::function<void()> f) {
  if (!open_scope) return false;
  open_scope->kept_.push_back(std::move(f));
  return true;
}

}  // namespace caseline::events
