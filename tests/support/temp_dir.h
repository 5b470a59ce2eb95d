#pragma once

#include <filesystem>
#include <string>

namespace caseline::test {

// A fresh folder under the system's temporary directory (mkdtemp: a name no other test or run
// has), removed with everything in it by the destructor. Not copyable; not shared between
// threads that remove it.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string (a store, a log, a file inside the folder).
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace caseline::test
