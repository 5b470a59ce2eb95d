#include "tools/calendar_publish.h"

#include <fstream>
#include <sstream>

#include "core/calendar.h"
#include "events/errc.h"
#include "tools/admin_client.h"

namespace caseline::tools {

int run_calendar_publish(const calendar_publish_options& o, std::ostream& out, std::ostream& err) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    err << "caseline calendar publish: cannot read " << o.file << "\n";
    return 2;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto blocks = core::calendar::split_years(text.str());
  if (!blocks) {
    err << "caseline calendar publish: " << o.file << ": " << blocks.error().message() << "\n";
    return 2;
  }
  const admin_target to{o.url, o.token};
  for (const auto& [year, block] : blocks.value()) {
    auto r = admin_request(to, "PUT", "/v1/calendar/" + std::to_string(year), block,
                           "text/plain; charset=utf-8");
    if (!r) {
      err << "caseline calendar publish: " << year << ": " << r.error().message() << "\n";
      return r.error().code == make_error_code(events::errc::bad_config) ? 2 : 1;
    }
    if (r.value().status / 100 != 2) {
      err << "caseline calendar publish: " << year << ": " << r.value().status << ' '
          << r.value().body << "\n";
      return 1;
    }
    out << r.value().body << "\n";
  }
  return 0;
}

}  // namespace caseline::tools
