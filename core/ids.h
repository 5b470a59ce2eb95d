#pragma once

#include <cstdint>
#include <string>

#include "core/named_type.h"

namespace caseline {

// Readable, unique case id: "<center>-<YYYYMMDD>-<seq, 6 digits>", e.g. 410100-20261129-000042.
using case_id = named_type<std::string, struct case_id_tag>;
// GB/T 2260 administrative division code of a service center, e.g. "410000" (provincial).
using center_code = named_type<std::string, struct center_code_tag>;
using unit_id = named_type<std::string, struct unit_id_tag>;
using user_id = named_type<std::string, struct user_id_tag>;
// Position of an event within its case's stream: 1, 2, 3 ...
using sequence_number = named_type<std::uint64_t, struct sequence_number_tag>;
using working_days = named_type<int, struct working_days_tag>;

}  // namespace caseline
