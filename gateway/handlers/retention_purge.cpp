// The Art. 38 retention purge, online: POST /v1/admin/retention/purge starts a job on the running
// server, GET /v1/admin/retention/purge/{id} follows it. Each case's purge is its own event in the
// log (text_shredded, recording_purged, purge_refused), so a job cut short (a crash, a restart)
// leaves nothing half-written: running the purge again purges the rest and nothing twice.
//
// In a group each partition is purged by its owner, the one server that writes it: the server
// asked purges its own partitions and asks each other owner for its ones (the same route, with
// the partitions named), so that a shred's key tombstone is committed by the owner's fenced
// writer and every server drops the key.

#include "gateway/detail/api_impl.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "core/log_line.h"
#include "gateway/forwarding.h"
#include "gateway/json_input.h"
#include "gateway/json_text.h"
#include "projections/errc.h"

namespace caseline::gateway {

namespace {

constexpr std::string_view purge_path = "/v1/admin/retention/purge";
// How long a server waits for another owner's part of a purge (10⁵ cases take under a minute).
constexpr std::chrono::minutes owner_part_timeout{30};
constexpr std::chrono::milliseconds owner_poll_interval{200};
// How long a job waits for the projections to apply the log before it audits.
constexpr std::chrono::seconds catch_up_timeout{60};

// Every refusal of a purge request names the article it enforces.
http_response purge_problem(int status, std::string slug, std::string title, std::string detail,
                            std::string field, std::string_view instance) {
  return problem_response(
      {status, std::move(slug), std::move(title), std::move(detail), "Art. 38", std::move(field)},
      instance);
}

http_response purge_field_problem(const error& e, std::string_view instance) {
  auto p = to_problem(e);
  p.article = "Art. 38";
  return problem_response(p, instance);
}

result<purge_order> parse_purge_order(std::string_view body, std::int32_t partitions) {
  const json_limits limits;
  auto o = parse_json_object(body, limits);
  if (!o) return o.error();
  object_reader r(o.value(), "", limits);
  auto as_of = r.required_string("as_of", 10, 10);
  if (!as_of) return as_of.error();
  auto dry_run = r.optional_bool("dry_run");
  if (!dry_run) return dry_run.error();
  purge_order order;
  const auto d = civil_date::parse(as_of.value());
  if (!d) return field_error("as_of", "must be YYYY-MM-DD");
  order.as_of = *d;
  order.dry_run = dry_run.value().value_or(false);
  if (const auto* p = o.value().if_contains("partitions")) {
    const auto* list = p->if_array();
    if (!list || list->empty() || list->size() > static_cast<std::size_t>(partitions))
      return field_error("partitions",
                         fmt::format("a list of 1 to {} partitions of the log", partitions));
    std::vector<events::partition_id> ps;
    for (const auto& v : *list) {
      if (!v.is_int64() || v.as_int64() < 0 || v.as_int64() >= partitions)
        return field_error("partitions",
                           fmt::format("each a partition of the log, 0 to {}", partitions - 1));
      ps.emplace_back(static_cast<std::int32_t>(v.as_int64()));
    }
    std::sort(ps.begin(), ps.end());
    ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
    order.partitions = std::move(ps);
  }
  std::set<std::string, std::less<>> known{"as_of", "dry_run", "partitions"};
  for (const auto& kv : o.value())
    if (!known.contains(std::string_view(kv.key())))
      return field_error(std::string(kv.key()), "unknown field");
  return order;
}

json::array texts(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& i : items) a.emplace_back(i);
  return a;
}

json::object report_json(const purge_report& r) {
  json::array done;
  for (const auto p : r.partitions_done) done.emplace_back(p());
  json::array not_done;
  for (const auto& g : r.partitions_not_done)
    not_done.emplace_back(
        json::object{{"partition", g.partition()},
                     {"owner", g.owner ? json::value(*g.owner) : json::value(nullptr)},
                     {"reason", g.reason}});
  json::object o{
      {"id", r.id},
      {"status", r.status},
      {"as_of", r.order.as_of.to_string()},
      {"dry_run", r.order.dry_run},
      {"planned", r.planned},
      {"purged", r.purged},
      {"refused", r.refused},
      {"failed", r.failed},
      {"partitions_done", std::move(done)},
      {"partitions_not_done", std::move(not_done)},
      {"items", json::object{{"purged", texts(r.purged_items)},
                             {"refused", texts(r.refused_items)},
                             {"failed", texts(r.failed_items)}}},
      {"items_truncated", r.purged_items.size() < r.purged || r.refused_items.size() < r.refused ||
                              r.failed_items.size() < r.failed},
  };
  if (r.error) o["error"] = *r.error;
  if (!r.partitions_not_done.empty())
    o["retry"] =
        "some partitions were not purged (their owner could not be reached, or they are moving): "
        "start the purge again later; what was purged is not purged twice";
  return o;
}

// Another owner's status answer, as report_json wrote it.
std::optional<purge_report> parse_report(std::string_view body) {
  std::error_code ec;
  const auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  try {
    purge_report r;
    r.id = o.at("id").as_string().c_str();
    r.status = o.at("status").as_string().c_str();
    r.planned = o.at("planned").to_number<std::size_t>();
    r.purged = o.at("purged").to_number<std::size_t>();
    r.refused = o.at("refused").to_number<std::size_t>();
    r.failed = o.at("failed").to_number<std::size_t>();
    for (const auto& p : o.at("partitions_done").as_array())
      r.partitions_done.emplace_back(p.to_number<std::int32_t>());
    for (const auto& g : o.at("partitions_not_done").as_array()) {
      const auto& go = g.as_object();
      purge_gap gap{events::partition_id{go.at("partition").to_number<std::int32_t>()},
                    std::nullopt, go.at("reason").as_string().c_str()};
      if (go.at("owner").is_string()) gap.owner = go.at("owner").as_string().c_str();
      r.partitions_not_done.push_back(std::move(gap));
    }
    const auto& items = o.at("items").as_object();
    const auto list = [&](const char* name, std::vector<std::string>& to) {
      for (const auto& i : items.at(name).as_array()) to.emplace_back(i.as_string().c_str());
    };
    list("purged", r.purged_items);
    list("refused", r.refused_items);
    list("failed", r.failed_items);
    if (const auto* e = o.if_contains("error"); e && e->is_string())
      r.error = e->as_string().c_str();
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string order_body(const purge_order& order, const std::vector<events::partition_id>& ps) {
  json::array a;
  for (const auto p : ps) a.emplace_back(p());
  return json_text(json::object{{"as_of", order.as_of.to_string()},
                                {"dry_run", order.dry_run},
                                {"partitions", std::move(a)}});
}

void not_done(purge_report& r, const std::vector<events::partition_id>& ps,
              const std::optional<std::string>& owner, const std::string& reason) {
  for (const auto p : ps) r.partitions_not_done.push_back({p, owner, reason});
}

}  // namespace

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

void api::impl::start_purge(const scope_ptr& sc, answerer done) {
  const auto& instance = sc->req.path;
  if (auto r = require_json(sc->req); !r) return done(purge_field_problem(r.error(), instance));
  auto order = parse_purge_order(sc->req.body, s_.log.partition_count());
  if (!order) return done(purge_field_problem(order.error(), instance));
  // Retention counts to today: a purge dated later would only be refused case by case.
  const auto today = shanghai_date(s_.clock.now());
  if (order.value().as_of > today)
    return done(purge_problem(
        422, "invalid-field", "Invalid field",
        fmt::format("as_of: {} is after today ({}): nothing is purged before its retain-until day",
                    order.value().as_of.to_string(), today.to_string()),
        "as_of", instance));
  order.value().forwarded = sc->req.header("caseline-forwarded-by").has_value();
  const auto who = to_actor(*sc->who);
  // The admin starts the job; each case's purge acts for its owning center (Art. 38).
  const core::actor purger{who.id, core::role::supervisor, center_code{}, unit_id{}};
  const auto authorization = std::string(sc->req.header("authorization").value_or(""));
  std::string running;
  auto job = purges_.start(
      order.value(),
      [this, purger, authorization](purge_job& j) { run_purge(j, purger, authorization); },
      running);
  if (!job) {
    if (running.empty())
      return done.fail(make_error(projections::errc::shutting_down, "the server is stopping"));
    auto r = purge_problem(409, "rule/purge-running", "The regulation does not allow this now",
                           "a retention purge is running on this server (job " + running +
                               "): follow it, then start another",
                           "", instance);
    r.headers.emplace_back("Location", std::string(purge_path) + "/" + running);
    return done(std::move(r));
  }
  spdlog::info("{}",
               log_line("retention_purge_started", {{"job", job->report.id},
                                                    {"as_of", order.value().as_of.to_string()},
                                                    {"dry_run", order.value().dry_run},
                                                    {"by", sc->who->token_id},
                                                    {"correlation_id", sc->correlation_id}}));
  auto r = json_response(202, report_json(job->snapshot()));
  r.headers.emplace_back("Location", std::string(purge_path) + "/" + job->report.id);
  done(std::move(r));
}

void api::impl::get_purge(const scope_ptr& sc, answerer done) {
  const auto job = purges_.find(sc->match.params.at("id"));
  if (!job)
    return done(problem_response({404, "not-found", "Not found",
                                  "no purge job with this id on this server (jobs are kept until "
                                  "the server stops)",
                                  "", ""},
                                 sc->req.path));
  done(json_response(200, report_json(job->snapshot())));
}

// NOLINTEND(performance-unnecessary-value-param)

// The job's body, on its own thread: this server's partitions here, the others by their owners.
void api::impl::run_purge(purge_job& job, const core::actor& purger,
                          const std::string& authorization) {
  const purge_order order = job.report.order;  // set before the thread started; never changed
  const auto n = s_.log.partition_count();
  std::vector<events::partition_id> asked;
  if (order.partitions) {
    asked = *order.partitions;
  } else {
    for (std::int32_t p = 0; p < n; ++p) asked.emplace_back(p);
  }
  std::vector<events::partition_id> mine;
  std::map<std::string, std::vector<events::partition_id>> theirs;  // owner URL -> partitions
  purge_report gaps;
  for (const auto p : asked) {
    if (!s_.writes || s_.writes(p)) {
      mine.push_back(p);
      continue;
    }
    const auto owner = s_.owner_url ? s_.owner_url(p) : std::nullopt;
    if (order.forwarded)
      gaps.partitions_not_done.push_back(
          {p, owner, "this server does not write it (it is moving): partition-moving"});
    else if (!owner || *owner == s_.self_url)
      gaps.partitions_not_done.push_back(
          {p, std::nullopt, "no server of the group is known to own it: partition-moving"});
    else
      theirs[*owner].push_back(p);
  }
  // The other owners start first, so that every part runs at once.
  struct remote_part {
    std::string owner;
    std::vector<events::partition_id> partitions;
    std::string id;  // the owner's job
  };
  std::vector<remote_part> started;
  const std::vector<std::pair<std::string, std::string>> headers{
      {"authorization", authorization},
      {"content-type", "application/json"},
      {std::string(forwarded_by_header), s_.self_url.empty() ? std::string("-") : s_.self_url}};
  for (const auto& [owner, ps] : theirs) {
    auto answer =
        peers_.send(owner, "POST", purge_path, headers, order_body(order, ps), resend::never);
    std::optional<purge_report> part;
    if (answer && answer.value().status == 202) part = parse_report(answer.value().body);
    if (!part) {
      const auto why = answer ? fmt::format("its owner answered {}", answer.value().status)
                              : "its owner could not be reached: " + answer.error().message();
      spdlog::warn("{}", log_line("retention_purge_owner_failed",
                                  {{"job", job.report.id}, {"owner", owner}, {"error", why}}));
      not_done(gaps, ps, owner, why + "; owner-unreachable: retry");
      continue;
    }
    started.push_back({owner, ps, part->id});
  }
  // This server's part.
  purge_report local;
  local.partitions_done = mine;
  // The audit reads the projections: first they apply everything the log holds now (the last
  // purge's events included, so that nothing acknowledged is taken for eligible again).
  auto caught_up = mine.empty() ? result<void>(success()) : s_.runner.catch_up(catch_up_timeout);
  if (!caught_up) {
    local.partitions_done.clear();
    not_done(local, mine, std::nullopt, caught_up.error().message());
    local.error = caught_up.error().message();
  } else if (!mine.empty()) {
    projections::purge_options po;
    po.as_of = order.as_of;
    po.dry_run = order.dry_run;
    po.who = purger;
    po.partition_count = n;
    if (s_.writes) po.partitions = mine;
    po.progress = &job.progress;
    po.cancel = &job.cancel;
    auto outcome =
        projections::purge_retention(s_.store, s_.writer, s_.keys, s_.blobs, s_.retention, po);
    local.planned = job.progress.planned.load();
    if (!outcome) {
      local.partitions_done.clear();
      not_done(local, mine, s_.self_url.empty() ? std::nullopt : std::optional(s_.self_url),
               outcome.error().message());
      local.error = outcome.error().message();
    } else {
      local.merge(outcome.value());
      if (job.cancel.load()) {
        local.partitions_done.clear();
        not_done(local, mine, std::nullopt, "the server stopped during the purge: retry");
      }
    }
  }
  {
    std::lock_guard lk(job.mu);
    job.report.merge(local);
    job.report.merge(gaps);
    if (local.error) job.report.error = local.error;
    // The local part is merged: the snapshot no longer adds its progress.
    job.progress.planned.store(0);
    job.progress.done.store(0);
    job.progress.refused.store(0);
    job.progress.failed.store(0);
  }
  // The other owners' parts, followed until they end.
  for (const auto& part : started) {
    const auto deadline = std::chrono::steady_clock::now() + owner_part_timeout;
    std::optional<purge_report> last;
    std::string why;
    while (!job.cancel.load() && std::chrono::steady_clock::now() < deadline) {
      auto answer = peers_.send(part.owner, "GET", std::string(purge_path) + "/" + part.id, headers,
                                "", resend::safe);
      if (answer && answer.value().status == 200) {
        last = parse_report(answer.value().body);
        if (last && last->status != "running") break;
      } else {
        why = answer ? fmt::format("its owner answered {}", answer.value().status)
                     : answer.error().message();
        last.reset();
        if (answer) break;  // the owner lost the job (it restarted)
      }
      std::this_thread::sleep_for(owner_poll_interval);
    }
    std::lock_guard lk(job.mu);
    if (last && last->status != "running") {
      job.report.merge(*last);
    } else {
      not_done(job.report, part.partitions, part.owner,
               "its owner's part did not finish here" + (why.empty() ? "" : ": " + why) +
                   "; owner-unreachable: retry");
    }
  }
  std::lock_guard lk(job.mu);
  auto& r = job.report;
  r.status = r.error ? "failed" : r.partitions_not_done.empty() ? "done" : "partial";
  spdlog::info("{}", log_line("retention_purge_finished", {{"job", r.id},
                                                           {"status", r.status},
                                                           {"purged", r.purged},
                                                           {"refused", r.refused},
                                                           {"failed", r.failed}}));
}

}  // namespace caseline::gateway
