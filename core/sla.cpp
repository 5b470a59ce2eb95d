#include "core/sla.h"

#include "core/errc.h"

namespace caseline::core {

working_days sla_policy::reply_days(core::category c) const {
  switch (c) {
    case core::category::complaint: return complaint_reply_days;
    case core::category::suggestion: return suggestion_reply_days;
    case core::category::inquiry: return inquiry_reply_days;
  }
  return complaint_reply_days;
}

result<void> sla_policy::check() const {
  if (revisit_sample_percent < 30 || revisit_sample_percent > 100)
    return make_error(errc::sample_rate_too_low, std::to_string(revisit_sample_percent) + "%");
  for (const working_days d : {transfer_days, return_days, inquiry_reply_days, suggestion_reply_days,
                               complaint_reply_days, max_extension_days})
    if (d() < 1)
      return make_field_error(errc::invalid_argument, "sla_policy", "a time limit below 1 wd");
  return success();
}

std::uint64_t stable_hash(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

bool revisit_pick(const revisit_tally& so_far, int sample_percent) {
  // picked < ceil(p * (closed + 1) / 100)  <=>  100 * picked < p * (closed + 1), in integers.
  return 100ULL * so_far.picked <
         static_cast<unsigned long long>(sample_percent) * (so_far.closed + 1ULL);
}

std::optional<sampled_closure> sample_closure_of(const case_state& before, const event& e) {
  if (before.cat == core::category::complaint) return std::nullopt;
  const auto month = [](civil_date d) { return d.to_string().substr(0, 7); };
  if (const auto* r = std::get_if<replied>(&e)) {
    if (before.status == case_status::reopened) return std::nullopt;
    return sampled_closure{before.owner_center, month(r->replied_on), r->revisit_required};
  }
  if (const auto* a = std::get_if<answered_immediately>(&e))
    return sampled_closure{before.owner_center, month(a->answered_on), a->revisit_required};
  return std::nullopt;
}

}  // namespace caseline::core
