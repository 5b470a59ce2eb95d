#include "core/retention.h"

#include "core/errc.h"

namespace caseline::core {

result<void> retention_policy::check() const {
  if (recording_years < 1) return make_error(errc::retention_too_short, "call audio: 1 year");
  if (text_years < 5) return make_error(errc::retention_too_short, "text: 5 years");
  return success();
}

civil_date add_years(civil_date d, int years) {
  civil_date out{d.year + years, d.month, d.day};
  if (!out.valid()) out.day = 28;  // 29 February in a common year
  return out;
}

std::optional<civil_date> recording_retain_until(const case_state& s, const retention_policy& p) {
  if (!s.recording || !s.archived_on) return std::nullopt;
  return add_years(*s.archived_on, p.recording_years);
}

std::optional<civil_date> text_retain_until(const case_state& s, const retention_policy& p) {
  if (!s.archived_on) return std::nullopt;
  return add_years(*s.archived_on, p.text_years);
}

}  // namespace caseline::core
