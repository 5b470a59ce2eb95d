#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"
#include "gateway/problem.h"  // field_error: the errors below

namespace caseline::gateway {

struct json_limits {
  std::size_t max_depth{8};
  std::size_t max_string{8 * 1024};  // bytes of one string value
};

// Parses a request body as one JSON object (no comments, no trailing commas, depth-limited).
// errc::malformed_json otherwise.
result<boost::json::object> parse_json_object(std::string_view body, const json_limits& limits);

// Reads the fields of one JSON object strictly: each getter names the field in its error
// ("caller.phone: required"), and finish() refuses fields nobody asked for. Errors are
// errc::invalid_field with the detail "<path>: <reason>".
class object_reader {
 public:
  object_reader(const boost::json::object& o, std::string path, const json_limits& limits)
      : o_(o), path_(std::move(path)), limits_(limits) {}

  result<std::string> required_string(std::string_view name, std::size_t min_len,
                                      std::size_t max_len);
  result<std::optional<std::string>> optional_string(std::string_view name, std::size_t max_len);
  result<bool> required_bool(std::string_view name);
  result<std::optional<bool>> optional_bool(std::string_view name);
  result<std::int64_t> required_int(std::string_view name, std::int64_t min, std::int64_t max);
  result<const boost::json::object*> optional_object(std::string_view name);
  result<const boost::json::object*> required_object(std::string_view name);
  result<std::vector<std::string>> string_array(std::string_view name, std::size_t max_items,
                                                std::size_t max_len);
  // One of `allowed`, e.g. the channel names.
  result<std::string> required_enum(std::string_view name,
                                    std::initializer_list<std::string_view> allowed);
  result<std::optional<std::string>> optional_enum(std::string_view name,
                                                   std::initializer_list<std::string_view> allowed);
  result<void> finish() const;

  std::string path(std::string_view name) const;
  const json_limits& limits() const { return limits_; }

 private:
  const boost::json::value* find(std::string_view name);

  const boost::json::object& o_;
  std::string path_;
  json_limits limits_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace caseline::gateway
