#include "core/personal_fields.h"

namespace caseline::core {

namespace {
using field_fn = std::function<void(std::string_view, std::string&)>;

struct visitor {
  const field_fn& f;
  void operator()(case_received& e) const {
    f("caller.phone", e.caller.phone);
    f("caller.name", e.caller.name);
    f("caller.account", e.caller.account);
    f("content", e.content);
  }
  void operator()(answered_immediately& e) const { f("answer", e.answer); }
  void operator()(not_accepted& e) const { f("explanation", e.explanation); }
  void operator()(escalated& e) const { f("note", e.note); }
  void operator()(returned& e) const {
    f("reasons", e.reasons);
    f("accepted_late_reason", e.accepted_late_reason);
  }
  void operator()(extended& e) const {
    f("explanation", e.explanation);
    if (e.approved_by_sealed) f("approved_by", e.approved_by);  // only v3 sealed it
  }
  void operator()(extension_requested& e) const { f("explanation", e.explanation); }
  void operator()(replied& e) const {
    f("reply.facts", e.facts);
    f("reply.process", e.process);
    f("reply.basis", e.basis);
  }
  void operator()(revisited& e) const { f("notes", e.notes); }
  void operator()(flagged_major_urgent& e) const { f("reason", e.reason); }
  template <class Other>
  void operator()(Other&) const {}  // no personal field
};
}  // namespace

void for_each_personal_field(event& e, const field_fn& f) { std::visit(visitor{f}, e); }

void for_each_personal_field(case_state& s, const field_fn& f) {
  f("caller.phone", s.caller.phone);
  f("caller.name", s.caller.name);
  f("caller.account", s.caller.account);
  f("content", s.content);
  f("reason", s.major_urgent_reason);
}

}  // namespace caseline::core
