#include "tests/support/temp_dir.h"

#include <stdexcept>
#include <system_error>

#include <stdlib.h>  // mkdtemp

namespace caseline::test {

temp_dir::temp_dir() {
  std::string templ = (std::filesystem::temp_directory_path() / "caseline-test-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

temp_dir::~temp_dir() {
  std::error_code ec;  // best effort: a leftover temp folder is not a test failure
  std::filesystem::remove_all(path_, ec);
}

}  // namespace caseline::test
