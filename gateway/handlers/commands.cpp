// The commands on a case (answer, transfer, return, extend, reply, archive, ...): parsed, checked
// against the case the caller sees, handed to the writer.

#include "gateway/detail/api_impl.h"

#include "gateway/command_json.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

namespace {

// If-Match: "3" (or W/"3", or 3). Absent: no precondition.
result<std::optional<std::uint64_t>> parse_if_match(const http_request& req) {
  auto h = req.header("if-match");
  if (!h) return std::optional<std::uint64_t>{};
  std::string_view v = *h;
  if (v.starts_with("W/")) v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string_view::npos)
    return make_error(errc::bad_precondition, "If-Match");
  return std::optional<std::uint64_t>{std::stoull(std::string(v))};
}

}  // namespace

void api::impl::command(const scope_ptr& sc, answerer done) {
  const std::string& id = sc->match.params.at("id");
  const std::string_view path = sc->match.matched->path;
  // What follows "/v1/cases/{id}/": "reply", "extension/approve".
  const std::string action(path.substr(path.find("{id}/") + 5));
  if (!sc->req.body.empty())
    if (auto r = require_json(sc->req); !r) return done.fail(r.error());
  auto cmd = parse_case_command(action, sc->req.body);
  if (!cmd) return done.fail(cmd.error());
  auto if_match = parse_if_match(sc->req);
  if (!if_match) return done.fail(if_match.error());
  auto found = visible_case(*sc, id);
  if (!found) return done.fail(found.error());
  if (!found.value()) return done.fail(case_not_found(id));
  projections::command_request req;
  req.id = case_id{id};
  req.cmd = std::move(cmd).value();
  req.if_match = if_match.value();
  submit(sc, std::move(req), 200, std::move(done));
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
