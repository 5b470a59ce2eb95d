#pragma once

// Shared by the core tests: the repository's calendar, found through CASELINE_SOURCE_DIR (set by
// ctest), and date literals.

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "core/calendar.h"

namespace caseline::core::testing {

inline std::string source_dir() {
  const char* dir = std::getenv("CASELINE_SOURCE_DIR");
  if (dir == nullptr || *dir == '\0')
    throw std::runtime_error("CASELINE_SOURCE_DIR is not set (ctest sets it)");
  return dir;
}

inline const calendar& repo_calendar() {
  static const calendar cal = [] {
    auto loaded = calendar::load_file(source_dir() + "/core/data/cn-workdays.txt");
    if (!loaded) throw std::runtime_error(loaded.error().message());
    return std::move(loaded).value();
  }();
  return cal;
}

inline civil_date date(std::string_view text) {
  auto d = civil_date::parse(text);
  if (!d) throw std::invalid_argument("bad date literal " + std::string(text));
  return *d;
}

}  // namespace caseline::core::testing

template <>
struct doctest::StringMaker<caseline::civil_date> {
  static doctest::String convert(const caseline::civil_date& d) { return d.to_string().c_str(); }
};
