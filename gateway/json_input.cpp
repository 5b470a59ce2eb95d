#include "gateway/json_input.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <optional>
#include <set>
#include <vector>

#include "gateway/problem.h"

namespace caseline::gateway {

error field_error(std::string_view path, std::string_view reason) {
  return make_field_error(errc::invalid_field, std::string(path), reason);
}

namespace {

// Counts UTF-8 code points (Boost.JSON has already refused invalid UTF-8, so this only
// measures).
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') return true;
  return false;
}

// A SAX pass that finds the first key given twice in one object (Boost.JSON keeps the last one
// silently): a body whose meaning depends on which copy wins is refused.
class duplicate_key_finder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  // "caller.phone" for the key phone in the object under caller; empty when none.
  std::string duplicate;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    objects_.push_back({path_, {}});
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    objects_.pop_back();
    return value_done();
  }
  bool on_array_begin(boost::system::error_code&) {
    objects_.push_back({path_, {}});  // an array level: its elements have no key
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    objects_.pop_back();
    return value_done();
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    key_.append(s.data(), s.size());
    auto& current = objects_.back();
    path_ = current.path.empty() ? key_ : current.path + "." + key_;
    if (!current.keys.insert(key_).second) {
      duplicate = path_;
      ec = boost::json::error::syntax;  // stops the pass; `duplicate` says why
      return false;
    }
    key_.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) {
    return true;
  }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) {
    return value_done();
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, boost::system::error_code&) {
    return value_done();
  }
  bool on_uint64(std::uint64_t, boost::json::string_view, boost::system::error_code&) {
    return value_done();
  }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) {
    return value_done();
  }
  bool on_bool(bool, boost::system::error_code&) { return value_done(); }
  bool on_null(boost::system::error_code&) { return value_done(); }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  struct level {
    std::string path;  // of the object itself
    std::set<std::string> keys;
  };
  // After a member's value the path goes back to the enclosing object's.
  bool value_done() {
    if (!objects_.empty()) path_ = objects_.back().path;
    return true;
  }
  std::vector<level> objects_;
  std::string path_;
  std::string key_;
};

std::optional<std::string> first_duplicate_key(std::string_view body,
                                               const boost::json::parse_options& opts) {
  boost::json::basic_parser<duplicate_key_finder> p(opts);
  boost::system::error_code ec;
  p.write_some(false, body.data(), body.size(), ec);
  if (!p.handler().duplicate.empty()) return p.handler().duplicate;
  return std::nullopt;
}

}  // namespace

result<boost::json::object> parse_json_object(std::string_view body, const json_limits& limits) {
  boost::json::parse_options opts;
  opts.max_depth = limits.max_depth;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec, {}, opts);
  if (ec) return make_error(errc::malformed_json, ec.message());
  if (!v.is_object()) return make_error(errc::malformed_json, "the body must be a JSON object");
  if (auto dup = first_duplicate_key(body, opts))
    return field_error(*dup, "duplicate key (each key may appear once in an object)");
  return std::move(v.as_object());
}

std::string object_reader::path(std::string_view name) const {
  return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
}

const boost::json::value* object_reader::find(std::string_view name) {
  seen_.emplace(name);
  const auto* v = o_.if_contains(name);
  if (v && v->is_null()) return nullptr;  // null is absent
  return v;
}

result<std::string> object_reader::required_string(std::string_view name, std::size_t min_len,
                                                   std::size_t max_len) {
  auto s = optional_string(name, max_len);
  if (!s) return s.error();
  if (!s.value()) return field_error(path(name), "required");
  if (code_points(*s.value()) < min_len)
    return field_error(path(name), min_len == 1 ? "must not be empty"
                                                : "must have at least " + std::to_string(min_len) +
                                                      " characters");
  return std::move(*s.value());
}

result<std::optional<std::string>> object_reader::optional_string(std::string_view name,
                                                                  std::size_t max_len) {
  const auto* v = find(name);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) return field_error(path(name), "must be a string");
  const auto& s = v->get_string();
  if (s.size() > limits_.max_string || code_points(s) > max_len)
    return field_error(path(name), "longer than " + std::to_string(max_len) + " characters");
  if (has_control(s)) return field_error(path(name), "contains control characters");
  return std::optional<std::string>{std::string(s)};
}

result<bool> object_reader::required_bool(std::string_view name) {
  auto b = optional_bool(name);
  if (!b) return b.error();
  if (!b.value()) return field_error(path(name), "required");
  return *b.value();
}

result<std::optional<bool>> object_reader::optional_bool(std::string_view name) {
  const auto* v = find(name);
  if (!v) return std::optional<bool>{};
  if (!v->is_bool()) return field_error(path(name), "must be true or false");
  return std::optional<bool>{v->get_bool()};
}

result<std::int64_t> object_reader::required_int(std::string_view name, std::int64_t min,
                                                 std::int64_t max) {
  const auto* v = find(name);
  if (!v) return field_error(path(name), "required");
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(max)) {
    n = static_cast<std::int64_t>(v->get_uint64());
  } else {
    return field_error(path(name), "must be an integer");
  }
  if (n < min || n > max)
    return field_error(path(name), "must be between " + std::to_string(min) + " and " +
                                       std::to_string(max));
  return n;
}

result<const boost::json::object*> object_reader::optional_object(std::string_view name) {
  const auto* v = find(name);
  if (!v) return static_cast<const boost::json::object*>(nullptr);
  if (!v->is_object()) return field_error(path(name), "must be an object");
  return &v->get_object();
}

result<const boost::json::object*> object_reader::required_object(std::string_view name) {
  auto o = optional_object(name);
  if (!o) return o.error();
  if (!o.value()) return field_error(path(name), "required");
  return o.value();
}

result<std::vector<std::string>> object_reader::string_array(std::string_view name,
                                                             std::size_t max_items,
                                                             std::size_t max_len) {
  std::vector<std::string> out;
  const auto* v = find(name);
  if (!v) return out;
  if (!v->is_array()) return field_error(path(name), "must be an array of strings");
  const auto& a = v->get_array();
  if (a.size() > max_items)
    return field_error(path(name), "more than " + std::to_string(max_items) + " items");
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string item_path = path(name) + "[" + std::to_string(i) + "]";
    if (!a[i].is_string()) return field_error(item_path, "must be a string");
    const auto& s = a[i].get_string();
    if (s.empty() || code_points(s) > max_len || has_control(s))
      return field_error(item_path, "must be 1 to " + std::to_string(max_len) +
                                        " characters without control characters");
    out.emplace_back(s);
  }
  return out;
}

result<std::optional<std::string>> object_reader::optional_enum(
    std::string_view name, std::initializer_list<std::string_view> allowed) {
  auto s = optional_string(name, 64);
  if (!s || !s.value()) return s;
  for (auto a : allowed)
    if (*s.value() == a) return s;
  std::string list;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  return field_error(path(name), "must be one of: " + list);
}

result<std::string> object_reader::required_enum(std::string_view name,
                                                 std::initializer_list<std::string_view> allowed) {
  auto s = optional_enum(name, allowed);
  if (!s) return s.error();
  if (!s.value()) return field_error(path(name), "required");
  return std::move(*s.value());
}

result<void> object_reader::finish() const {
  for (const auto& kv : o_)
    if (!seen_.contains(kv.key())) return field_error(path(kv.key()), "unknown field");
  return success();
}

}  // namespace caseline::gateway
