#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/case_state.h"
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

// Art. 23, 46: the revisit sample of a center's month. Complaints are all revisited; of the other
// matters closed (replied, or answered at once) the sample picks one whenever the picks so far
// would otherwise fall below sample_percent of the closures so far, this one included: after
// every closure picked >= ceil(sample_percent % of closed), at every point of the month.
// The tally is kept per center, month and log partition (partition-local write-side state, see
// projections/case_writer.h); since a sum of ceilings is at least the ceiling of the sum, the
// guarantee holds for the center's month as a whole, whatever the order of the partitions.
struct revisit_tally {
  std::uint32_t closed{0};  // non-complaint closures counted so far
  std::uint32_t picked{0};  // of which picked for a revisit

  friend bool operator==(const revisit_tally&, const revisit_tally&) = default;
};

// Whether the next non-complaint closure after `so_far` is picked.
bool revisit_pick(const revisit_tally& so_far, int sample_percent);

// A closure that counts in the revisit sample: the center and month whose tally it joins and
// whether it was picked.
struct sampled_closure {
  center_code center;
  std::string month;  // "YYYY-MM" of the closing day
  bool picked{false};
};

// The sample closure an event is, applied to the case in state `before`: a reply (not one after
// a reopening: the matter is already counted) or an immediate answer (Art. 23(1)) of a matter
// that is not a complaint. None for any other event.
std::optional<sampled_closure> sample_closure_of(const case_state& before, const event& e);

}  // namespace caseline::core
