#pragma once

// Rendering of the read models: a small deterministic JSON writer (the projections library has
// no JSON dependency, and the same bytes must come out of a rebuild) and the report formats:
// JSON, CSV and one self-contained HTML file with inline SVG charts.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.h"

namespace caseline::core {
class registry;
}

namespace caseline::projections {

struct report;
struct assessment_row;
struct assessment_weights;
struct period;
struct overdue_page;

// Writes JSON text in the order it is told; commas are placed automatically. Not validating:
// callers pair begin/end. Numbers: integers as is, doubles rounded to 4 decimals.
class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view k);
  json_writer& value(std::string_view v);
  json_writer& value(const char* v) { return value(std::string_view(v)); }
  json_writer& value(const std::string& v) { return value(std::string_view(v)); }
  json_writer& value(std::int64_t v);
  json_writer& value(std::uint64_t v);
  json_writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
  json_writer& value(double v);
  json_writer& value(bool v);
  json_writer& null();
  // A number or null.
  json_writer& value(std::optional<double> v) { return v ? value(*v) : null(); }
  std::string str() && { return std::move(out_); }
  const std::string& str() const& { return out_; }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_{false};
};

std::string json_escape(std::string_view s);
// Rates rounded to 4 decimals, so that JSON, CSV and HTML show the same figure.
double round4(double v);

enum class report_format { json, csv, html };
std::optional<report_format> parse_report_format(std::string_view s);
std::string_view extension(report_format f);

std::string render_json(const report& r);
std::string render_csv(const report& r);
// One HTML file: inline CSS and SVG, no script, no network; Chinese labels with English beside.
std::string render_html(const report& r);
std::string render(const report& r, report_format f);

// The list of GET /v1/reports/overdue (Art. 35): the period and scope asked for, one page.
std::string render_overdue_json(const period& p, const std::optional<center_code>& center,
                                const std::optional<unit_id>& unit, const overdue_page& page,
                                const core::registry& reg);

std::string render_assessment_json(std::string_view month, const std::vector<assessment_row>& rows,
                                   const assessment_weights& weights);

}  // namespace caseline::projections
