#include "gateway/openapi_generator.h"

#include <algorithm>
#include <set>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/errc.h"
#include "gateway/auth.h"
#include "gateway/json_text.h"
#include "gateway/routes.h"

namespace caseline::gateway {

namespace {

namespace json = boost::json;

error bad(std::string what) { return make_error(core::errc::invalid_argument, std::move(what)); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

result<json::value> parse(std::string_view document) {
  boost::system::error_code ec;
  json::value v = json::parse(document, ec);
  if (ec) return bad("openapi: not JSON: " + ec.message());
  return v;
}

// --- the paths from the route table -------------------------------------------------------------

// The roles a route's operation permits, in the policy's order: "any" for all of them.
json::array permitted_roles(const route& r) {
  json::array out;
  if (!r.op) return out;
  const auto names = role_names();
  for (const auto& name : names)
    if (permitted(*parse_role(name), *r.op)) out.emplace_back(name);
  if (out.size() == names.size()) return json::array{"any"};
  return out;
}

// The roles a documented x-roles names: "supervisor (own center)" names supervisor, "any" every
// role. Nullopt when it is not an array of strings naming roles, each once.
std::optional<std::set<std::string>> named_roles(const json::value* v) {
  if (v == nullptr || !v->is_array()) return std::nullopt;
  std::set<std::string> out;
  std::size_t count = 0;
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) return std::nullopt;
    const std::string_view text = e.get_string();
    const std::string name(text.substr(0, text.find(' ')));
    if (name == "any") {
      for (const auto& each : role_names()) out.emplace(each);
      count += role_names().size();
      continue;
    }
    if (!parse_role(name)) return std::nullopt;
    out.insert(name);
    ++count;
  }
  if (out.size() != count) return std::nullopt;  // a role named twice
  return out;
}

// The operations of a path item (its other keys, "parameters", "summary", ..., are kept).
bool is_method(std::string_view key) {
  constexpr std::string_view methods[] = {"get",     "put",  "post",  "delete",
                                          "options", "head", "patch", "trace"};
  return std::find(std::begin(methods), std::end(methods), key) != std::end(methods);
}

void set_route_facts(json::object& op, const route& r) {
  op["operationId"] = r.name;
  const json::array roles = permitted_roles(r);
  std::set<std::string> want;
  for (const auto& v : roles) want.emplace(v.get_string());
  if (want.contains("any"))
    for (const auto& each : role_names()) want.emplace(each);
  want.erase("any");
  if (named_roles(op.if_contains("x-roles")) != want) op["x-roles"] = roles;
  json::array security;
  if (r.op) security.emplace_back(json::object{{"bearer", json::array{}}});
  op["security"] = std::move(security);
}

}  // namespace

result<std::string> format_openapi(std::string_view document) {
  auto doc = parse(document);
  if (!doc) return doc.error();
  return json_document_text(doc.value());
}

result<std::string> generate_openapi(std::string_view document) {
  auto parsed = parse(document);
  if (!parsed) return parsed.error();
  json::value doc = std::move(parsed).value();
  if (!doc.is_object()) return bad("openapi: the document is not a JSON object");
  json::value* paths_value = doc.get_object().if_contains("paths");
  if (paths_value == nullptr || !paths_value->is_object())
    return bad("openapi: the document has no \"paths\" object");
  json::object& paths = paths_value->get_object();

  std::set<std::pair<std::string, std::string>> routed;  // (path, method)
  for (const auto& r : route_table()) {
    const std::string method = lower(r.method);
    routed.emplace(std::string(r.path), method);
    json::value& item = paths[r.path];
    if (!item.is_object()) item = json::object{};
    json::value& op = item.get_object()[method];
    if (!op.is_object()) op = json::object{};
    set_route_facts(op.get_object(), r);
  }
  // What no route serves goes: an operation, then a path left without one. stable_erase keeps
  // the order of the rest.
  std::vector<std::string> empty_paths;
  for (auto& [path, item] : paths) {
    if (!item.is_object()) {
      empty_paths.emplace_back(path);
      continue;
    }
    auto& ops = item.get_object();
    std::vector<std::string> gone;
    for (const auto& [key, op] : ops)
      if (is_method(key) && !routed.contains({std::string(path), std::string(key)}))
        gone.emplace_back(key);
    for (const auto& m : gone) ops.stable_erase(m);
    if (std::none_of(ops.begin(), ops.end(), [](const auto& kv) { return is_method(kv.key()); }))
      empty_paths.emplace_back(path);
  }
  for (const auto& p : empty_paths) paths.stable_erase(p);
  return json_document_text(doc);
}

}  // namespace caseline::gateway
