#include "projections/case_row.h"

#include "core/binary.h"
#include "events/errc.h"

namespace caseline::projections {

std::string encode_case_row(const case_row& row) {
  return core::binary_encode(row.state, row.last_hash);
}

result<case_row> decode_case_row(std::string_view bytes) {
  try {
    core::binary_input ar(bytes);
    case_row row;
    ar(row.state, row.last_hash);
    return row;
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("stored case row: ") + ex.what());
  }
}

}  // namespace caseline::projections
