#pragma once

// The statutory reports as files for people: CSV and one self-contained HTML file with inline SVG
// charts (the report jobs and `caseline report` write them). JSON is the gateway's: its one
// encoder (gateway/json_text.h) renders the same `report` for the API and for the report files.

#include <optional>
#include <string>
#include <string_view>

namespace caseline::projections {

struct report;

// Rates rounded to 4 decimals, so that JSON, CSV and HTML show the same figure.
double round4(double v);

enum class report_format { json, csv, html };
std::optional<report_format> parse_report_format(std::string_view s);
std::string_view extension(report_format f);

std::string render_csv(const report& r);
// One HTML file: inline CSS and SVG, no script, no network; Chinese labels with English beside.
std::string render_html(const report& r);

}  // namespace caseline::projections
