#include "projections/case_row.h"

#include <sstream>

#include <cereal/archives/portable_binary.hpp>

#include "events/errc.h"

namespace caseline::projections {

std::string encode_case_row(const case_row& row) {
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(row.state, row.last_hash);
  }
  return std::move(out).str();
}

result<case_row> decode_case_row(std::string_view bytes) {
  try {
    std::istringstream in{std::string(bytes)};
    cereal::PortableBinaryInputArchive ar(in);
    case_row row;
    ar(row.state, row.last_hash);
    return row;
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("stored case row: ") + ex.what());
  }
}

}  // namespace caseline::projections
