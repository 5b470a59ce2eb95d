#include "tools/install_paths.h"

#include <filesystem>
#include <system_error>

namespace caseline::tools {

std::string default_calendar_file() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return CASELINE_SOURCE_CALENDAR;  // no /proc: only the build tree's path is known
  const fs::path installed = exe.parent_path() / ".." / "share" / "caseline" / "cn-workdays.txt";
  if (fs::exists(installed, ec)) return installed.lexically_normal().string();
  if (fs::equivalent(exe.parent_path(), fs::path(CASELINE_BUILD_TOOLS_DIR), ec))
    return CASELINE_SOURCE_CALENDAR;
  return installed.lexically_normal().string();
}

}  // namespace caseline::tools
