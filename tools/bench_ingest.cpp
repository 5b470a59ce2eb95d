#include "tools/bench_ingest.h"

#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "tools/bench_server.h"

namespace caseline::tools {

int run_bench_ingest(const bench_ingest_options& o, std::ostream& out, std::ostream& err,
                     bench_ingest_figures* figures) {
  const auto to = parse_http_url(o.url);
  if (!to) {
    err << "caseline bench ingest: --url must be http://HOST[:PORT]\n";
    return 2;
  }
  if (o.connections == 0 || o.connections > 1024 || o.duration.count() <= 0 ||
      o.warmup.count() < 0) {
    err << "caseline bench ingest: need 1-1024 connections, a positive duration and a warm-up "
           "of 0 s or more\n";
    return 2;
  }
  load_options lo;
  lo.connections = o.connections;
  lo.duration = o.duration;
  lo.token = o.token;
  lo.expect_status = 201;
  const request_maker make = [&](unsigned c, std::uint64_t n) {
    return load_request{
        "POST", "/v1/cases",
        fmt::format(
            R"({{"channel":"phone","center":"{}","caller":{{"phone":"1380000{:04}","name":"bench"}},"content":"benchmark case {} of connection {}: the bus did not stop at the station"}})",
            o.center, (std::uint64_t{c} * 7 + n) % 10000, n, c)};
  };
  out << fmt::format(
      "POST /v1/cases, {} connections, {} s each run after {} s of warm-up, {} hardware threads\n",
      o.connections, o.duration.count(), o.warmup.count(), std::thread::hardware_concurrency());
  if (o.warmup.count() > 0) {
    load_options wo = lo;
    wo.duration = o.warmup;
    const load_result warm = drive_http(*to, wo, make);
    if (warm.ok == 0) err << "caseline bench ingest: no request succeeded during the warm-up\n";
  }
  print_load_header(out);
  bench_ingest_figures f;
  const admin_target metrics_at{o.url, o.metrics_token};
  std::optional<process_figures> before;
  if (!o.metrics_token.empty()) {
    auto b = scrape_process_figures(metrics_at);
    if (b)
      before = b.value();
    else
      err << "caseline bench ingest: /metrics before: " << b.error().message() << "\n";
  }
  std::optional<thread_cpu_seconds> threads_before;
  if (o.server_pid > 0) {
    auto t = read_thread_cpu(o.server_pid);
    if (t)
      threads_before = std::move(t).value();
    else
      err << "caseline bench ingest: " << t.error().message() << "\n";
  }
  f.caseline = drive_http(*to, lo, make);
  if (threads_before) {
    auto t = read_thread_cpu(o.server_pid);
    if (t)
      f.cpu_by_thread = cpu_per_unit(*threads_before, t.value(), f.caseline.ok);
    else
      err << "caseline bench ingest: " << t.error().message() << "\n";
  }
  if (before) {
    auto after = scrape_process_figures(metrics_at);
    if (!after) {
      err << "caseline bench ingest: /metrics after: " << after.error().message() << "\n";
    } else {
      const double cpu = after.value().cpu_seconds - before->cpu_seconds;
      f.rss_bytes = after.value().resident_bytes;
      if (f.caseline.ok > 0) f.cpu_us_per_command = cpu * 1e6 / static_cast<double>(f.caseline.ok);
      f.caseline.server_cpu_us = f.cpu_us_per_command;
    }
  }
  print_load_row(out, "caseline " + to->host + ":" + to->port, f.caseline);
  if (o.baseline) {
    f.baseline = drive_http_baseline(lo, make, 201, R"({"id":"baseline"})");
    if (f.baseline)
      print_load_row(out, "http layer only (baseline)", *f.baseline);
    else
      err << "caseline bench ingest: the baseline server did not start\n";
  }
  if (f.cpu_us_per_command)
    out << fmt::format(
        "server CPU per accepted command: {:.1f} us (process_cpu_seconds_total, "
        "{} commands); server RSS after: {:.1f} MiB\n",
        *f.cpu_us_per_command, f.caseline.ok, *f.rss_bytes / (1024.0 * 1024.0));
  else if (o.metrics_token.empty())
    out << "server CPU per accepted command: not measured (no --metrics-token)\n";
  if (!f.cpu_by_thread.empty())
    out << "server CPU per accepted command by thread (us): " << format_cpu_split(f.cpu_by_thread)
        << "\n";
  if (figures) *figures = std::move(f);
  return 0;
}

}  // namespace caseline::tools
