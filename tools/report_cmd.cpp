#include "tools/report_cmd.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/errc.h"
#include "core/log_line.h"
#include "events/record.h"
#include "gateway/json_text.h"
#include "gateway/query.h"
#include "gateway/read_model_json.h"
#include "projections/report_render.h"
#include "projections/reports.h"

namespace caseline::tools {

namespace {

namespace fs = std::filesystem;
using projections::report_format;

// Reports only read: the store is opened read-only beside a running server (a secondary
// instance), as the server had it at the open.
result<std::unique_ptr<projections::store>> open_store(const store_options& o) {
  const auto dir = fs::path(o.data_dir) / "store";
  if (!fs::exists(dir))
    return make_error(core::errc::invalid_argument, "no projection store at " + dir.string());
  return projections::store::open_secondary(dir.string());
}

// A report in a file format: JSON through the gateway's one encoder, CSV and HTML from
// projections/report_render.h.
std::string render(const projections::report& r, report_format f) {
  switch (f) {
    case report_format::json:
      return gateway::json_text(gateway::report_json(r));
    case report_format::csv:
      return projections::render_csv(r);
    case report_format::html:
      return projections::render_html(r);
  }
  return {};
}

result<std::string> render_request(projections::store& s, const core::registry& reg,
                                   const report_options& o, report_format f) {
  using namespace projections;
  if (o.kind == "assessment") {
    if (f != report_format::json)
      return make_error(core::errc::invalid_argument,
                        "assessment: --format json (the HTML shows it in the province-wide monthly report)");
    auto req = gateway::parse_monthly(o.month, "");
    if (!req) return req.error();
    const civil_date month = req.value().current.from;
    auto rows = build_assessment(report_reader(s), reg, month.year, month.month, o.weights);
    if (!rows) return rows.error();
    return gateway::json_text(gateway::assessment_json(o.month, rows.value(), o.weights));
  }
  result<report_request> req = make_error(core::errc::invalid_argument, "kind: " + o.kind);
  if (o.kind == "monthly") req = gateway::parse_monthly(o.month, o.center);
  if (o.kind == "annual") req = gateway::parse_annual(o.year, o.center);
  if (o.kind == "period") req = gateway::parse_period(o.from, o.to, o.center);
  if (o.kind == "urgent") req = gateway::parse_urgent(o.day, o.center);
  if (!req) return req.error();
  req.value().title = o.title;
  req.value().weights = o.weights;
  auto r = build_report(report_reader(s), reg, req.value());
  if (!r) return r.error();
  return render(r.value(), f);
}

// Writes `content` to dir/name through a temporary file and a rename: the name exists only
// once the content is complete.
result<void> write_atomically(const fs::path& dir, const std::string& name, const std::string& content) {
  const fs::path tmp = dir / (".tmp-" + name);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << content;
    f.flush();
    if (!f) return make_error(core::errc::invalid_argument, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, dir / name, ec);
  if (ec) return make_error(core::errc::invalid_argument, "cannot rename " + tmp.string() + ": " + ec.message());
  return success();
}

struct job {
  std::string name;  // without extension
  projections::report_request request;
};

std::vector<job> due_jobs(const projections::report_reader& rd, const core::registry& reg,
                          const core::calendar& cal, civil_date today,
                          const projections::assessment_weights& weights) {
  using namespace projections;
  std::vector<job> out;
  auto first = rd.first_month();
  if (!first || !first.value()) return out;
  auto start = civil_date::parse(*first.value() + "-01");
  if (!start) return out;
  std::vector<std::optional<center_code>> centers{std::nullopt};
  for (const auto& c : reg.centers()) centers.push_back(c.code);
  const auto center_name = [](const std::optional<center_code>& c) {
    return c ? (*c)() : std::string("province");
  };
  // Monthly: every month that has ended.
  for (civil_date m = *start; civil_date{m.year, m.month, 1} < civil_date{today.year, today.month, 1};
       m = m.month == 12 ? civil_date{m.year + 1, 1, 1} : civil_date{m.year, m.month + 1, 1}) {
    const std::string month = fmt::format("{:04}-{:02}", m.year, m.month);
    for (const auto& c : centers) {
      auto req = monthly_request(m.year, m.month, c);
      req.weights = weights;
      out.push_back({fmt::format("monthly-{}-{}", month, center_name(c)), req});
    }
  }
  // Annual: every year that has ended.
  for (int y = start->year; y < today.year; ++y)
    for (const auto& c : centers)
      out.push_back({fmt::format("annual-{}-{}", y, center_name(c)), annual_request(y, c)});
  // Holiday periods (Art. 40(3)) that have ended, province-wide. A period is listed under the
  // year it begins in, which may be the year before the first case (元旦 spanning the new year).
  for (int y = start->year - 1; y <= today.year; ++y)
    for (const auto& [name, p] : holiday_periods(cal, y)) {
      if (p.to >= today || p.to < *start) continue;
      auto req = period_request(p, std::nullopt);
      req.title = name;
      out.push_back(
          {fmt::format("period-{}-{}-province", p.from.to_string(), p.to.to_string()), req});
    }
  // Major-urgent matters (Art. 40(4)): a special report per matter as soon as it is flagged,
  // due that same day: the day's report as it stands then, province-wide.
  for (civil_date d = *start; d <= today; d = d.plus_days(1)) {
    auto u = rd.urgent(d, std::nullopt);
    if (!u) continue;
    for (const auto& [center, id] : u.value())
      out.push_back({fmt::format("urgent-{}-{}-province", d.to_string(), id),
                     urgent_request(d, std::nullopt)});
  }
  return out;
}

std::string manifest_line(const std::string& file, const projections::report& r, timestamp now,
                          bool recovered, const std::string& content) {
  boost::json::object o;
  o["file"] = file;
  o["kind"] = projections::to_string(r.kind);
  o["center"] = r.center ? (*r.center)() : std::string("province");
  o["period"] = r.label;
  o["due"] = r.due.to_string();
  o["written_at"] = to_rfc3339_shanghai(now);
  o["late"] = shanghai_date(now) > r.due;
  o["sha256"] = events::to_hex(events::sha256(content));
  if (recovered) o["recovered"] = true;
  return gateway::json_text(o) + "\n";
}

}  // namespace

int run_report(const report_options& o, std::ostream& out, std::ostream& err) {
  const auto f = projections::parse_report_format(o.format);
  if (!f) {
    err << "caseline report: --format json|csv|html\n";
    return 2;
  }
  auto s = open_store(o.store);
  if (!s) {
    err << "caseline report: " << s.error().message() << "\n";
    return 1;
  }
  const auto reg = core::registry::henan();
  auto text = render_request(*s.value(), reg, o, *f);
  if (!text) {
    err << "caseline report: " << text.error().message() << "\n";
    return text.error().code == core::errc::invalid_argument ? 2 : 1;
  }
  if (o.out.empty()) {
    out << text.value();
    return 0;
  }
  std::ofstream file(o.out, std::ios::binary | std::ios::trunc);
  file << text.value();
  if (!file.flush()) {
    err << "caseline report: cannot write " << o.out << "\n";
    return 1;
  }
  return 0;
}

result<report_jobs_summary> run_report_jobs(projections::store& s, const core::registry& reg,
                                            const core::calendar& cal, const std::string& outbox,
                                            timestamp now,
                                            const std::vector<report_format>& formats,
                                            const projections::assessment_weights& weights) {
  std::error_code ec;
  fs::create_directories(outbox, ec);
  if (ec) return make_error(core::errc::invalid_argument, "cannot create " + outbox + ": " + ec.message());
  const fs::path dir(outbox);
  const fs::path manifest = dir / "manifest.jsonl";
  std::set<std::string> listed;
  {
    std::ifstream in(manifest);
    std::string line;
    while (std::getline(in, line)) {
      const auto k = line.find("\"file\":\"");
      if (k == std::string::npos) continue;
      const auto end = line.find('"', k + 8);
      listed.insert(line.substr(k + 8, end - k - 8));
    }
  }
  std::ofstream log(manifest, std::ios::app);
  report_jobs_summary summary;
  const projections::report_reader rd(s);
  for (const auto& j : due_jobs(rd, reg, cal, shanghai_date(now), weights)) {
    std::optional<projections::report> built;
    for (auto f : formats) {
      const std::string file = j.name + "." + std::string(projections::extension(f));
      const bool exists = fs::exists(dir / file);
      if (exists && listed.contains(file)) {
        ++summary.present;
        continue;
      }
      if (!built) {
        auto r = projections::build_report(rd, reg, j.request);
        if (!r) return r.error();
        built = std::move(r).value();
      }
      std::string content;
      if (exists) {  // written, then the process died before its manifest line: record it
        std::ifstream in(dir / file, std::ios::binary);
        std::ostringstream buf;
        buf << in.rdbuf();
        content = buf.str();
        ++summary.recovered;
      } else {
        content = render(*built, f);
        if (auto w = write_atomically(dir, file, content); !w) return w.error();
        summary.written.push_back(file);
      }
      log << manifest_line(file, *built, now, exists, content);
      log.flush();
      if (!log) return make_error(core::errc::invalid_argument, "cannot append to " + manifest.string());
      listed.insert(file);
    }
  }
  return summary;
}

int run_report_jobs_cmd(const report_jobs_options& o, std::ostream& out, std::ostream& err) {
  std::vector<report_format> formats;
  for (const auto& f : o.formats) {
    auto p = projections::parse_report_format(f);
    if (!p) {
      err << "caseline report jobs: unknown format " << f << "\n";
      return 2;
    }
    formats.push_back(*p);
  }
  timestamp now = from_chrono(std::chrono::system_clock::now());
  if (!o.now.empty()) {
    auto t = parse_rfc3339(o.now);
    if (!t) {
      err << "caseline report jobs: --now must be RFC 3339\n";
      return 2;
    }
    now = *t;
  }
  auto cal = core::calendar::load_file(o.store.calendar_file);
  if (!cal) {
    err << "caseline report jobs: " << cal.error().message() << "\n";
    return 2;
  }
  auto s = open_store(o.store);
  if (!s) {
    err << "caseline report jobs: " << s.error().message() << "\n";
    return 1;
  }
  auto r = run_report_jobs(*s.value(), core::registry::henan(), cal.value(), o.outbox, now, formats,
                           o.weights);
  if (!r) {
    err << "caseline report jobs: " << r.error().message() << "\n";
    return 1;
  }
  for (const auto& f : r.value().written) out << "wrote " << f << "\n";
  out << fmt::format("{} written, {} already in {}, {} recovered\n", r.value().written.size(),
                     r.value().present, o.outbox, r.value().recovered);
  return 0;
}

events::periodic_task start_report_jobs(projections::store& s, const core::registry& reg,
                                        const core::calendar& cal, std::string outbox,
                                        const projections::clock& clk,
                                        std::chrono::milliseconds interval,
                                        std::function<bool()> before_run,
                                        projections::assessment_weights weights) {
  return events::periodic_task(
      "report-jobs", {.interval = interval, .at_start = true},
      [&s, &reg, &cal, &clk, outbox = std::move(outbox), before_run = std::move(before_run),
       weights] {
        if (before_run && !before_run()) return;
        auto r = run_report_jobs(s, reg, cal, outbox, clk.now(),
                                 {report_format::json, report_format::html}, weights);
        if (!r)
          spdlog::warn("{}", log_line("report_jobs_failed", {{"error", r.error().message()}}));
        else if (!r.value().written.empty())
          spdlog::info("{}", log_line("report_jobs", {{"written", r.value().written.size()}}));
      });
}

}  // namespace caseline::tools
