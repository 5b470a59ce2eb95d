#pragma once

// The read models as JSON: the bodies of the queue, deadline, report and retention routes (and
// of the report files the tools write), built from the projections' typed pages and reports.
// The list pages are JSON text (json_writer); serialize the others with json_text (json_text.h).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/ids.h"
#include "core/time.h"
#include "projections/queues.h"
#include "projections/reports.h"
#include "projections/retention.h"
#include "projections/sla_index.h"
#include "projections/token_store.h"

namespace caseline::core {
class registry;
}

namespace caseline::gateway {

// GET /v1/queues/{queue}: {"queue", "center"?, "unit"?, "items", "next_cursor"}; an item with a
// deadline is overdue when it was due before `today` (Shanghai date of the server clock).
std::string queue_page_json(const projections::queue_query& q, const projections::queue_page& page,
                            civil_date today);

// GET /v1/sla/overdue and /v1/sla/due-soon (with `within`): {"today", "within_working_days"?,
// "center"?, "unit"?, "items", "next_cursor"}.
std::string deadlines_json(civil_date today, std::optional<working_days> within,
                           const projections::scope& sc, const projections::deadline_page& page);

// GET /v1/reports/monthly, annual, period, urgent; the JSON report files.
boost::json::object report_json(const projections::report& r);

// GET /v1/reports/assessment/{YYYY-MM} (Art. 45).
boost::json::object assessment_json(std::string_view month,
                                    const std::vector<projections::assessment_row>& rows,
                                    const projections::assessment_weights& weights);

// GET /v1/reports/overdue (Art. 35): the query's period and scope, one page, each matter with
// its unit's registered name.
boost::json::object overdue_page_json(const projections::overdue_query& q,
                                      const projections::overdue_page& page,
                                      const core::registry& reg);

// A bearer token as the token routes and `caseline token` show it: {"id", "role", "center",
// "unit", "created_at", "expires"}, never its secret or hash.
boost::json::object token_json(const projections::token_info& t);

// POST /v1/admin/tokens's answer: token_json and the secret ("token"), shown this once.
boost::json::object created_token_json(const projections::created_token& t);

// GET /v1/admin/tokens and `caseline token list`: {"tokens": [token_json + "expired" at `now`]}.
boost::json::object token_list_json(const std::vector<projections::token_info>& tokens,
                                    timestamp now);

// GET /v1/retention/audit (Art. 38) and `caseline retention audit --format json`.
boost::json::object retention_audit_json(const projections::retention_audit& a);

}  // namespace caseline::gateway
