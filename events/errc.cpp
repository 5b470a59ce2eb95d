#include "events/errc.h"

#include <string>

namespace caseline::events {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "caseline.events"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::unavailable: return "event log unavailable";
      case errc::fatal: return "event log failed";
      case errc::bad_config: return "event log configuration refused";
      case errc::corrupt_record: return "record cannot be decoded";
      case errc::invalid_partition: return "no such partition";
      case errc::closed: return "event log is closed";
      case errc::timed_out: return "event log operation timed out";
      case errc::not_found: return "not found";
      case errc::outcome_unknown: return "the event log did not confirm the append";
      case errc::not_owner: return "another server of the group writes this partition";
      case errc::fenced: return "a newer owner of the partition fenced this writer";
      case errc::disk_full:
        return "the data disk is full";
    }
    return "unknown event log error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

bool is_retriable(std::error_code ec) noexcept {
  return ec == errc::unavailable || ec == errc::timed_out || ec == errc::fatal ||
         ec == errc::outcome_unknown || ec == errc::not_owner || ec == errc::fenced ||
         ec == errc::disk_full;
}

}  // namespace caseline::events
