#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/commands.h"
#include "core/registry.h"
#include "core/result.h"
#include "core/time.h"

namespace caseline::gateway {

// The request bodies of the API, decoded strictly into core's commands (unknown fields, wrong
// types, overlong strings and too-deep JSON are errc::invalid_field / malformed_json naming the
// field). The field names are the public contract, documented in gateway/openapi.json.

// POST /v1/cases. `occurred_at` is set when the body names it.
result<core::receive> parse_receive(std::string_view body, std::optional<timestamp>& occurred_at);

// POST /v1/cases/{id}/<action>: action is the route's last segment ("not-accept", "return").
result<core::command> parse_case_command(std::string_view action, std::string_view body);

// PUT /v1/units/{id}.
result<core::unit_registered> parse_unit(const unit_id& id, std::string_view body);

// POST /v1/admin/clock: {"now": RFC 3339}.
result<timestamp> parse_clock(std::string_view body);

// POST /v1/admin/tokens: {"role", "center", "unit"?, "expires"?: RFC 3339, after `now`}. The
// role, center and unit are checked by whoever creates the token (the same check as `caseline
// token create`).
struct token_order {
  std::string role;
  std::string center;
  std::string unit;
  std::optional<timestamp> expires_at;
};
result<token_order> parse_token_order(std::string_view body, timestamp now);

// Six digits: the form of a GB/T 2260 center code.
bool is_center_code(std::string_view s);

// The wire name of an Art. 28 reason. Core's `handled_by_other_body` is `already_in_proceedings`
// on the wire; the others keep core's names.
std::string_view wire_name(core::not_accepted_reason r);

}  // namespace caseline::gateway
