#pragma once

#include <filesystem>
#include <random>
#include <string>

namespace caseline::audit_testing {

// A fresh folder, removed afterwards.
struct temp_dir {
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("caseline-audit-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);  // best effort: a leftover temp folder is harmless
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::filesystem::path path;
};

}  // namespace caseline::audit_testing
