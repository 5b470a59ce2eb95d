// Health, readiness, the OpenAPI document and the metrics: the routes that are about the server.

#include "gateway/detail/api_impl.h"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/calendar.h"
#include "events/storage/disk_guard.h"
#include "gateway/log_output.h"
#include "gateway/openapi.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

void api::impl::healthz(const scope_ptr&, answerer done) {
  done(json_response(200, {{"status", "ok"}}));
}

void api::impl::readyz(const scope_ptr&, answerer done) {
  json::object checks;
  bool ok = true;
  if (auto r = s_.log.check(); !r) {
    ok = false;
    checks["log"] = r.error().message();
  } else {
    checks["log"] = "ok";
  }
  if (auto f = s_.runner.failure()) {
    ok = false;
    checks["projections"] = f->message();
  } else if (auto st = s_.runner.stalled()) {
    ok = false;  // behind the log until the batch it retries is written
    checks["projections"] = "retrying: " + st->message();
  } else {
    checks["projections"] = "ok";
  }
  // A disk below its reserve refuses commands but serves reads: the server stays ready.
  checks["disk"] = "ok";
  if (s_.disk && s_.disk->refusing()) checks["disk"] = "below the reserve: commands refused";
  // A provisional year never makes the server unready: work goes on, deadlines are revised
  // when the notice is published.
  checks["calendar"] = "ok";
  if (const auto cal = s_.calendar.snapshot();
      cal && core::next_year_provisional(*cal, shanghai_date(s_.clock.now())))
    checks["calendar"] = "provisional next year";
  if (!ok)
    return done(problem_response(
        {503, "not-ready", "Service unavailable", "a dependency is not ready", "", ""}));
  // The partitions this server writes (all of them without a group, unless a server alone on
  // Kafka is confirming its claim) and its group, if any.
  json::array partitions;
  for (const auto p : s_.writable ? s_.writable() : s_.log.owned()) partitions.emplace_back(p());
  const auto group = s_.log.group();
  done(json_response(200, {{"status", "ready"},
                           {"checks", checks},
                           {"group", group ? json::value(group->group) : json::value(nullptr)},
                           {"partitions", std::move(partitions)}}));
}

void api::impl::openapi(const scope_ptr&, answerer done) {
  http_response r;
  r.body = std::string(openapi_document());
  done(std::move(r));
}

void api::impl::metrics_text(const scope_ptr&, answerer done) {
  std::vector<gauge_sample> gauges;
  double lag = 0;
  for (std::int32_t p = 0; p < s_.log.partition_count(); ++p) {
    auto end = s_.log.end_offset(events::partition_id{p});
    if (!end) return done(error_response(end.error()));
    lag += static_cast<double>(
        std::max<std::int64_t>(0, end.value()() - s_.runner.applied(events::partition_id{p})));
  }
  // One runner applies every projection in the same batch, so they share one lag.
  for (const auto& name : s_.projection_names)
    gauges.push_back({"caseline_projection_lag_records",
                      "Records in the log that the projection has not applied yet.",
                      "gauge",
                      {{"projection", name}},
                      lag});
  gauges.push_back({"caseline_projection_events_applied_total",
                    "Events applied by the projection runner since start.",
                    "counter",
                    {},
                    static_cast<double>(s_.runner.events_applied())});
  if (const auto cal = s_.calendar.snapshot())
    gauges.push_back(
        {"caseline_calendar_official_days_left",
         "Days until the last day of the official calendar years (a State Council "
         "notice loaded); deadlines counted past it are provisional.",
         "gauge",
         {},
         static_cast<double>(core::official_days_left(*cal, shanghai_date(s_.clock.now())))});
  gauges.push_back({"caseline_log_lines_dropped_total",
                    "Log lines dropped because the log queue was full or its output failed "
                    "(said in a later log line).",
                    "counter",
                    {},
                    static_cast<double>(log_lines_dropped())});
  gauges.push_back({"caseline_integrity_failures_total",
                    "Sealed personal fields or recordings that failed their authentication tag "
                    "when read, and case histories missing from the store (altered or damaged "
                    "data).",
                    "counter",
                    {},
                    static_cast<double>(integrity_failures_.load(std::memory_order_relaxed))});
  if (s_.disk) {
    gauges.push_back({"caseline_disk_free_bytes",
                      "Free space on the data folder's disk at the last check.",
                      "gauge",
                      {},
                      static_cast<double>(s_.disk->free_bytes())});
    gauges.push_back({"caseline_disk_reserve_bytes",
                      "Free space the server keeps on that disk (--min-free-disk-mib): below it, "
                      "commands are refused.",
                      "gauge",
                      {},
                      static_cast<double>(s_.disk->reserve_bytes())});
    gauges.push_back({"caseline_disk_commands_refused",
                      "1 while commands are refused for want of disk space, else 0.",
                      "gauge",
                      {},
                      s_.disk->refusing() ? 1.0 : 0.0});
  }
  if (const auto group = s_.log.group()) {
    gauges.push_back({"caseline_group_partitions_owned",
                      "Partitions of the log this member of the group owns now.",
                      "gauge",
                      {},
                      static_cast<double>(s_.log.owned().size())});
    gauges.push_back({"caseline_group_rebalances_total",
                      "Partition assignments and revocations this member has seen.",
                      "counter",
                      {},
                      static_cast<double>(group->rebalances)});
    gauges.push_back({"caseline_group_fenced_total",
                      "Appends refused because a newer owner of the partition fenced this writer.",
                      "counter",
                      {},
                      static_cast<double>(group->fenced)});
  }
  for (const auto& [outcome, count] : {std::pair{"answered", &forwarded_answered_},
                                       std::pair{"unreachable", &forwarded_unreachable_},
                                       std::pair{"unanswered", &forwarded_unanswered_},
                                       std::pair{"no_owner", &forwarded_no_owner_}})
    gauges.push_back({"caseline_forwarded_requests_total",
                      "Writes for a partition another server of the group writes: answered by "
                      "its owner, its owner unreachable (503 partition-moving), sent but not "
                      "answered in time (503 owner-unreachable), or no owner known (503).",
                      "counter",
                      {{"outcome", outcome}},
                      static_cast<double>(count->load(std::memory_order_relaxed))});
  const auto connections = peers_.counters();
  for (const auto& [kind, count] :
       {std::pair{"opened", connections.opened}, std::pair{"reused", connections.reused},
        std::pair{"resent", connections.resent}})
    gauges.push_back({"caseline_forwarded_connections_total",
                      "Forwarded writes by connection: a fresh one opened, a kept-alive one "
                      "reused, or sent again on a fresh one after a kept-alive one failed.",
                      "counter",
                      {{"kind", kind}},
                      static_cast<double>(count)});
  if (s_.server_metrics)
    for (auto& g : s_.server_metrics()) gauges.push_back(std::move(g));
  for (auto& g : process_gauges()) gauges.push_back(std::move(g));
  http_response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = metrics_.render(gauges);
  done(std::move(r));
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
