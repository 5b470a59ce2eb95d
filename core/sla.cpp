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
    if (d() < 1) return make_error(errc::invalid_argument, "sla_policy: a time limit below 1 wd");
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

bool revisit_required(const case_id& id, core::category c, int sample_percent) {
  if (c == core::category::complaint) return true;
  return static_cast<int>(stable_hash(id()) % 100) < sample_percent;
}

}  // namespace caseline::core
