#include "projections/report_render.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "projections/reports.h"

namespace caseline::projections {

double round4(double v) { return std::round(v * 10000.0) / 10000.0; }

std::optional<report_format> parse_report_format(std::string_view s) {
  if (s == "json") return report_format::json;
  if (s == "csv") return report_format::csv;
  if (s == "html") return report_format::html;
  return std::nullopt;
}

std::string_view extension(report_format f) {
  switch (f) {
    case report_format::json: return "json";
    case report_format::csv: return "csv";
    case report_format::html: return "html";
  }
  return "txt";
}

namespace {

// Chinese labels with the English beside them.
std::string_view domain_label(std::string_view d) {
  static const std::map<std::string_view, std::string_view> labels{
      {"highway", "公路 Highway"},
      {"waterway", "水路 Waterway"},
      {"road_transport", "道路运输（含城市客运） Road transport"},
      {"maritime", "海事 Maritime"},
      {"rescue_salvage", "救助打捞 Rescue & salvage"},
      {"work_safety", "安全生产 Work safety"},
      {"unclassified", "未分类 Unclassified"}};
  const auto it = labels.find(d);
  return it == labels.end() ? d : it->second;
}

std::string_view category_label(std::string_view c) {
  static const std::map<std::string_view, std::string_view> labels{
      {"complaint", "投诉举报 Complaint/report"},
      {"inquiry", "信息咨询 Inquiry"},
      {"suggestion", "意见建议 Suggestion"},
      {"unclassified", "未分类 Unclassified"}};
  const auto it = labels.find(c);
  return it == labels.end() ? c : it->second;
}

std::string_view kind_label(report_kind k) {
  switch (k) {
    case report_kind::monthly: return "月度统计分析报告 Monthly report";
    case report_kind::annual: return "年度统计分析报告 Annual report";
    case report_kind::period: return "专项报告 Special-period report";
    case report_kind::urgent_day: return "重大紧急事项专报 Major-urgent matters of the day";
  }
  return "";
}

std::string pct(std::optional<double> v) {
  return v ? fmt::format("{:.2f}%", round4(*v) * 100.0) : std::string("—");
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_rate(std::optional<double> v) { return v ? fmt::format("{}", round4(*v)) : ""; }

// A horizontal bar chart: one bar per (label, value), or two (current and previous) per label.
struct bar {
  std::string label;
  double value{0};
  std::optional<double> previous;
  std::string text;  // shown at the end of the bar
};

std::string svg_bars(std::string_view title, const std::vector<bar>& bars, double max_value) {
  constexpr int label_w = 230, chart_w = 360, row_h = 26, top = 28;
  const bool pairs = std::any_of(bars.begin(), bars.end(), [](const bar& b) { return b.previous.has_value(); });
  const int height = top + static_cast<int>(bars.size()) * row_h + (pairs ? 24 : 8);
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" "
      "aria-label=\"{}\"><text x=\"0\" y=\"16\" class=\"t\">{}</text>",
      label_w + chart_w + 90, height, html_escape(title), html_escape(title));
  if (max_value <= 0) max_value = 1;
  int y = top;
  for (const auto& b : bars) {
    const double w = chart_w * std::clamp(b.value / max_value, 0.0, 1.0);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", label_w - 6, y + 14,
                     html_escape(b.label));
    if (b.previous) {
      const double pw = chart_w * std::clamp(*b.previous / max_value, 0.0, 1.0);
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"10\" class=\"cur\"/>",
                       label_w, y + 2, w);
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"10\" class=\"prev\"/>",
                       label_w, y + 13, pw);
    } else {
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"18\" class=\"cur\"/>",
                       label_w, y + 2, w);
    }
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{}</text>", label_w + w + 4, y + 14,
                     html_escape(b.text));
    y += row_h;
  }
  if (pairs) {
    s += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"10\" class=\"cur\"/><text x=\"{}\" y=\"{}\">"
        "本期 This period</text><rect x=\"{}\" y=\"{}\" width=\"12\" height=\"10\" class=\"prev\"/>"
        "<text x=\"{}\" y=\"{}\">上期 Previous period</text>",
        label_w, y + 4, label_w + 16, y + 13, label_w + 150, y + 4, label_w + 166, y + 13);
  }
  return s + "</svg>";
}

}  // namespace

std::string render_csv(const report& r) {
  std::string out = "center,period_from,period_to,domain,category";
  for (std::size_t i = 0; i < static_cast<std::size_t>(metric::count_); ++i)
    out += fmt::format(",{}", to_string(static_cast<metric>(i)));
  out += ",accepted,immediate_answer_rate,on_time_rate,revisit_rate,satisfaction_rate\n";
  const std::string center = r.center ? (*r.center)() : "province";
  const auto line = [&](std::string_view dom, std::string_view cat, const figures& f) {
    out += fmt::format("{},{},{},{},{}", csv_field(center), r.current.from.to_string(),
                       r.current.to.to_string(), csv_field(dom), csv_field(cat));
    for (auto n : f.n) out += fmt::format(",{}", n);
    out += fmt::format(",{},{},{},{},{}\n", f.accepted(), csv_rate(f.immediate_answer_rate()),
                       csv_rate(f.on_time_rate()), csv_rate(f.revisit_rate()),
                       csv_rate(f.satisfaction_rate()));
  };
  for (const auto& row : r.rows) line(row.domain, row.category, row.current);
  line("total", "total", r.total);
  return out;
}

std::string render_html(const report& r) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">";
  h += fmt::format("<title>12328 {} {} {}</title>", html_escape(r.center_name), html_escape(r.label),
                   html_escape(kind_label(r.kind)));
  h += "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
       "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
       "th:first-child,td:first-child{text-align:left}svg{display:block;margin:1em 0}"
       "svg text{font-size:12px}svg .t{font-size:14px;font-weight:bold}.cur{fill:#2b6cb0}"
       ".prev{fill:#a0aec0}.muted{color:#666}</style></head><body>\n";
  h += fmt::format("<h1>12328 交通运输服务监督电话 {} <span class=\"muted\">Transport service "
                   "hotline</span></h1>\n",
                   html_escape(kind_label(r.kind)));
  h += fmt::format("<p>{} · {} {}（{} – {}）· 报送截止 Due {}</p>\n", html_escape(r.center_name),
                   html_escape(r.title), html_escape(r.label), r.current.from.to_string(),
                   r.current.to.to_string(), r.due.to_string());

  const figures& t = r.total;
  const figures& p = r.total_previous;
  h += "<h2>总体情况 Overview</h2><table><tr><th>指标 Indicator</th><th>本期 This period</th>"
       "<th>上期 Previous</th></tr>";
  const auto row = [&](std::string_view label, const std::string& a, const std::string& b) {
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", label, a, b);
  };
  row("受理量 Received", std::to_string(t[metric::received]), std::to_string(p[metric::received]));
  row("环比 Month-on-month growth", pct(r.month_on_month), "");
  row("同比 Year-on-year growth", pct(r.year_on_year), "");
  row("即时答复率 Immediate-answer rate", pct(t.immediate_answer_rate()), pct(p.immediate_answer_rate()));
  row("限时办结率 On-time closure rate", pct(t.on_time_rate()), pct(p.on_time_rate()));
  row("抽查回访率 Revisit rate", pct(t.revisit_rate()), pct(p.revisit_rate()));
  const figures c = complaints(r.rows, false);
  row("投诉回访率 Complaint revisit rate (应为 must be 100%)", pct(c.revisit_rate()),
      pct(complaints(r.rows, true).revisit_rate()));
  row("群众满意率 Satisfaction rate", pct(t.satisfaction_rate()), pct(p.satisfaction_rate()));
  h += "</table>\n";

  // Volumes by domain and by category.
  std::map<std::string, std::int64_t> by_domain, by_category;
  for (const auto& d : r.rows) {
    by_domain[d.domain] += d.current[metric::received];
    by_category[d.category] += d.current[metric::received];
  }
  const auto volume_bars = [](const std::map<std::string, std::int64_t>& m, auto label) {
    std::vector<bar> bars;
    double max = 0;
    for (const auto& [k, n] : m) {
      bars.push_back(bar{std::string(label(k)), static_cast<double>(n), std::nullopt, std::to_string(n)});
      max = std::max(max, static_cast<double>(n));
    }
    return std::pair{bars, max};
  };
  auto [dom_bars, dom_max] = volume_bars(by_domain, domain_label);
  h += svg_bars("按业务领域受理量 Received by business domain", dom_bars, dom_max);
  auto [cat_bars, cat_max] = volume_bars(by_category, category_label);
  h += svg_bars("按类别受理量 Received by category", cat_bars, cat_max);

  const auto rate_bar = [](std::string label, std::optional<double> now, std::optional<double> before) {
    return bar{std::move(label), now.value_or(0) * 100, before.value_or(0) * 100,
               pct(now) + " / " + pct(before)};
  };
  h += svg_bars("四率对比上期 The four rates against the previous period (%)",
                {rate_bar("即时答复率 Immediate answer", t.immediate_answer_rate(), p.immediate_answer_rate()),
                 rate_bar("限时办结率 On-time closure", t.on_time_rate(), p.on_time_rate()),
                 rate_bar("抽查回访率 Revisit", t.revisit_rate(), p.revisit_rate()),
                 rate_bar("群众满意率 Satisfaction", t.satisfaction_rate(), p.satisfaction_rate())},
                100);

  std::vector<bar> topic_bars;
  double topic_max = 0;
  for (const auto& ht : r.hot_topics) {
    topic_bars.push_back(bar{ht.topic, static_cast<double>(ht.count), static_cast<double>(ht.previous),
                             fmt::format("{} ({})", ht.count,
                                         ht.change ? fmt::format("{:+.1f}%", round4(*ht.change) * 100)
                                                   : std::string("new 新增"))});
    topic_max = std::max({topic_max, static_cast<double>(ht.count), static_cast<double>(ht.previous)});
  }
  h += svg_bars("热点问题 Hot topics (本期/上期 this/previous period)", topic_bars, topic_max);

  h += "<h2>分领域分类别 By business domain × category</h2><table><tr><th>领域 Domain</th>"
       "<th>类别 Category</th><th>受理 Received</th><th>即时答复率 Immediate</th>"
       "<th>限时办结率 On time</th><th>回访率 Revisit</th><th>满意率 Satisfaction</th></tr>";
  for (const auto& d : r.rows) {
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                     html_escape(domain_label(d.domain)), html_escape(category_label(d.category)),
                     d.current[metric::received], pct(d.current.immediate_answer_rate()),
                     pct(d.current.on_time_rate()), pct(d.current.revisit_rate()),
                     pct(d.current.satisfaction_rate()));
  }
  h += "</table>\n";

  if (!r.units.empty()) {
    h += "<h2>承办单位 By handling unit (Art. 32-33)</h2><table><tr><th>中心 Center</th>"
         "<th>单位 Unit</th><th>应办结 Due</th><th>按时办结 On time</th><th>限时办结率 Rate</th>"
         "<th>退回 Returns</th><th>逾期退回 Late returns</th>"
         "<th>逾期报告 Reported overdue</th></tr>";
    for (const auto& u : r.units)
      h += fmt::format(
          "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td></tr>",
          html_escape(u.center), html_escape(u.name), html_escape(u.unit),
          u.current[unit_metric::reply_due], u.current[unit_metric::replied_on_time],
          pct(u.current.on_time_rate()), u.current[unit_metric::returns],
          u.current[unit_metric::late_returns], u.current[unit_metric::overdue_reported]);
    h += "</table>\n";
  }
  if (!r.overdue.empty()) {
    h += "<h2>逾期未办结报请协调 Reported to the department as overdue (Art. 35)</h2><table><tr>"
         "<th>中心 Center</th><th>单位 Unit</th><th>工单 Case</th><th>办理期限 Due</th>"
         "<th>报告日 Reported</th><th>回复日 Replied</th></tr>";
    for (const auto& o : r.overdue)
      h += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
          html_escape(o.center), html_escape(o.unit), html_escape(o.case_id), o.due.to_string(),
          o.reported_on.to_string(), o.replied_on ? o.replied_on->to_string() : std::string("—"));
    h += "</table>\n";
    if (r.overdue_truncated)
      h += "<p class=\"muted\">列表截断 The list stops here; GET /v1/reports/overdue gives "
           "all.</p>\n";
  }
  if (!r.urgent.empty()) {
    h += "<h2>重大紧急事项 Major-urgent matters</h2><table><tr><th>中心 Center</th><th>工单 Case</th></tr>";
    for (const auto& u : r.urgent)
      h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", html_escape(u.center), html_escape(u.case_id));
    h += "</table>\n";
  }
  if (!r.assessment.empty()) {
    h += "<h2>全省考核排名 Provincial assessment (Art. 45)</h2><table><tr><th>排名 Rank</th>"
         "<th>中心 Center</th><th>受理 Received</th><th>即时答复率</th><th>限时办结率</th>"
         "<th>抽查回访率</th><th>群众满意率</th><th>得分 Score</th></tr>";
    for (const auto& a : r.assessment)
      h += fmt::format("<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                       "<td>{}</td><td>{}</td></tr>",
                       a.rank, html_escape(a.name), html_escape(a.center), a.totals[metric::received],
                       pct(a.totals.immediate_answer_rate()), pct(a.totals.on_time_rate()),
                       pct(a.totals.revisit_rate()), pct(a.totals.satisfaction_rate()), pct(a.score));
    h += "</table>\n";
    h += fmt::format("<p>得分 Score = Σ wᵢ·rᵢ / Σ wᵢ over the available rates; weights w: {}</p>\n",
                     html_escape(to_string(r.weights)));
  }
  h += "<p class=\"muted\">口径 Formulas: projections/README-reports.md</p></body></html>\n";
  return h;
}

}  // namespace caseline::projections
