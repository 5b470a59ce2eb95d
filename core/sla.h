#pragma once

#include <cstdint>
#include <string_view>

#include "core/events.h"
#include "core/ids.h"
#include "core/result.h"

namespace caseline::core {

// The time limits and the revisit sample rate a deployment runs with. The defaults are the
// regulation's; a law may set another reply limit for a category (Art. 33).
struct sla_policy {
  working_days transfer_days{3};          // Art. 27
  working_days return_days{2};            // Art. 32
  working_days inquiry_reply_days{5};     // Art. 33
  working_days suggestion_reply_days{10};
  working_days complaint_reply_days{30};
  working_days max_extension_days{30};    // Art. 34
  int revisit_sample_percent{30};         // Art. 23: at least 30

  working_days reply_days(core::category c) const;
  // errc::sample_rate_too_low below 30% (or above 100%); invalid_argument for a day count < 1.
  result<void> check() const;
};

// A 64-bit FNV-1a hash of the bytes: stable across platforms, compilers and builds, unlike
// std::hash.
std::uint64_t stable_hash(std::string_view bytes);

// Art. 23: complaints are always revisited; other matters when the case id's stable hash falls
// in the sample, so the same case always gets the same answer.
bool revisit_required(const case_id& id, core::category c, int sample_percent);

}  // namespace caseline::core
