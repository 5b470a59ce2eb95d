#pragma once

#include <string>

namespace caseline::tools {

// Where the shipped calendar data file is, for a binary run from anywhere: installed, it is
// `<exe dir>/../share/caseline/cn-workdays.txt` (cmake --install, the .deb); the binary that the
// build tree itself holds (build/tools/caseline) reads the source tree's core/data copy. An
// installed binary never falls back to the source tree, so a broken install fails at start with
// the path it looked for instead of silently reading a checkout that may not be there.
std::string default_calendar_file();

}  // namespace caseline::tools
