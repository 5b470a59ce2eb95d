#include "core/decide.h"

#include "core/errc.h"

namespace caseline::core {

std::string_view to_string(case_status s) {
  switch (s) {
    case case_status::none: return "none";
    case case_status::received: return "received";
  }
  return "unknown";
}

namespace {

result<std::vector<event>> decide_receive(const case_state& s, const receive& c,
                                          const context& ctx) {
  if (s.status != case_status::none) return make_error(errc::case_already_exists);
  const civil_date today = shanghai_date(ctx.now);
  auto due = ctx.cal->add_working_days(today, working_days{3});
  if (!due) return due.error();
  case_received e{c.via, c.center, c.caller, c.content, c.recording, today, due.value()};
  return std::vector<event>{std::move(e)};
}

}  // namespace

result<std::vector<event>> decide(const case_state& state, const command& cmd,
                                  const context& ctx) {
  return std::visit(
      [&](const auto& c) -> result<std::vector<event>> {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, receive>) return decide_receive(state, c, ctx);
      },
      cmd);
}

case_state evolve(case_state s, const event& e, timestamp at) {
  std::visit(
      [&](const auto& ev) {
        using E = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<E, case_received>) {
          s.status = case_status::received;
          s.via = ev.via;
          s.center = ev.center;
          s.caller = ev.caller;
          s.content = ev.content;
          s.recording = ev.recording;
          s.received_at = at;
          s.received_on = ev.received_on;
          s.transfer_due = ev.transfer_due;
        }
      },
      e);
  ++s.version;
  return s;
}

}  // namespace caseline::core
