#pragma once

// Query parameters (and path parameters) into the projections' typed queries. Every bad
// parameter is a field error: `error::field` names it and to_problem answers the 422 problem
// with that `field`. Used by the handlers and by `caseline report` (the same texts on its
// command line).

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/ids.h"
#include "core/result.h"
#include "core/time.h"
#include "gateway/http.h"
#include "projections/queues.h"
#include "projections/reports.h"

namespace caseline::gateway {

// Unknown query parameters are refused: a typo must not silently widen or narrow an answer.
result<void> known_params(const http_request& req, std::initializer_list<std::string_view> known);
// A query parameter's value; "" when it is absent.
std::string param(const http_request& req, std::string_view name);

// The following keep the code the projections gave these errors before the gateway parsed them
// (core::errc::invalid_argument), so the problems read as they always did.

// "" is `fallback`; else a decimal from 1 to `max` (field "limit").
result<std::size_t> parse_limit(std::string_view text, std::size_t fallback, std::size_t max);
// A queue's name (the path's {queue}; field "queue").
result<projections::queue_kind> parse_queue(std::string_view text);
// Working days ahead for the due-soon list: "" is 2, else 0 to 60 (field "within").
result<working_days> parse_within(std::string_view text);

// The report routes' periods: "YYYY-MM" (field "month"), "YYYY" ("year"), from..to ("from",
// "to": at most a year, not backwards), a day ("day"). `center` "" or "province" is
// province-wide.
result<projections::report_request> parse_monthly(std::string_view month, std::string_view center);
result<projections::report_request> parse_annual(std::string_view year, std::string_view center);
result<projections::report_request> parse_period(std::string_view from, std::string_view to,
                                                 std::string_view center);
result<projections::report_request> parse_urgent(std::string_view day, std::string_view center);

// GET /v1/reports/overdue?from=&to=&center=&unit=&cursor=&limit= (limit 1-500, default 100).
result<projections::overdue_query> parse_overdue(std::string_view from, std::string_view to,
                                                 std::string_view center, std::string_view unit,
                                                 std::string_view cursor, std::string_view limit);

}  // namespace caseline::gateway
