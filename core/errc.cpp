#include "core/errc.h"

#include <string>

namespace caseline::core {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "caseline.core"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::invalid_argument: return "invalid argument";
      case errc::no_calendar_for_year: return "no calendar for that year";
      case errc::undecodable_event: return "event cannot be decoded";
      case errc::case_already_exists: return "a case is received once (Art. 26)";
      case errc::case_not_found: return "case not found";
    }
    return "unknown core error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace caseline::core
