// The Art. 38 retention purge, online: POST /v1/admin/retention/purge starts a job on the running
// server, GET /v1/admin/retention/purge/{id} follows it. Each case's purge is its own event in the
// log (text_shredded, recording_purged, purge_refused), so a job cut short (a crash, a restart)
// leaves nothing half-written: running the purge again purges the rest and nothing twice.
//
// In a group each partition is purged by its owner, the one server that writes it: the server
// asked purges its own partitions and asks each other owner for its ones (the same route, with
// the partitions named), so that a shred's key tombstone is committed by the owner's fenced
// writer and every server drops the key, and a recording's purge deletes every server's copy.
// A partition that moves during the job (a server stopped or joined) is handed to its new owner:
// the job runs in rounds, each over the partitions the last one did not finish, a few rounds
// within a deadline; only an item still undecided at the end counts as failed.
//
// Each job's status is saved in this server's store (family server_state) at its start, after
// each round and at its end: a restarted server still answers for it, `interrupted` when it was
// running then. A job is visible on the server that ran it (the one the POST's Location names),
// not on the others: its status is that server's record, not a fact of the log.

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
#include "projections/server_state.h"

namespace caseline::gateway {

namespace {

constexpr std::string_view purge_path = "/v1/admin/retention/purge";
// How long a server waits for another owner's part of a purge (10⁵ cases take under a minute).
constexpr std::chrono::minutes owner_part_timeout{30};
constexpr std::chrono::milliseconds owner_poll_interval{200};
// How long a job waits for the projections to apply the log before it audits.
constexpr std::chrono::seconds catch_up_timeout{60};
// A partition that moved during a job goes to its new owner in the next round: at most this many
// rounds in all, within this time, each waiting up to owner_wait for the new owners to be known.
constexpr int purge_rounds = 5;
constexpr std::chrono::minutes reroute_timeout{10};
constexpr std::chrono::seconds owner_wait{60};
// An owner unreachable this long while it still owns its part's partitions: the part is re-routed.
constexpr std::chrono::seconds owner_silence{60};
// The jobs whose status the store keeps (the oldest go first).
constexpr std::size_t purge_jobs_saved = 64;

bool is_job_id(std::string_view id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

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
      {"rounds", r.rounds},
      {"partitions_done", std::move(done)},
      {"partitions_not_done", std::move(not_done)},
      {"items", json::object{{"purged", texts(r.purged_items)},
                             {"refused", texts(r.refused_items)},
                             {"failed", texts(r.failed_items)}}},
      {"items_truncated", r.purged_items.size() < r.purged || r.refused_items.size() < r.refused ||
                              r.failed_items.size() < r.failed},
  };
  if (r.error) o["error"] = *r.error;
  o["started"] = r.started ? json::value(to_rfc3339_shanghai(*r.started)) : json::value(nullptr);
  o["finished"] = r.finished ? json::value(to_rfc3339_shanghai(*r.finished)) : json::value(nullptr);
  if (r.status == "interrupted")
    o["retry"] =
        "the server stopped during the job: start the purge again; what was purged is not "
        "purged twice";
  else if (!r.partitions_not_done.empty())
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
    if (const auto* d = o.if_contains("as_of"); d && d->is_string())
      r.order.as_of = civil_date::parse(d->as_string().c_str()).value_or(civil_date{});
    if (const auto* d = o.if_contains("dry_run"); d && d->is_bool()) r.order.dry_run = d->as_bool();
    const auto instant = [&](const char* name) -> std::optional<timestamp> {
      const auto* t = o.if_contains(name);
      if (!t || !t->is_string()) return std::nullopt;
      return parse_rfc3339(t->as_string().c_str());
    };
    if (const auto* n = o.if_contains("rounds"); n && n->is_int64())
      r.rounds = static_cast<int>(n->as_int64());
    r.started = instant("started");
    r.finished = instant("finished");
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

void not_done(std::vector<purge_gap>& gaps, const std::vector<events::partition_id>& ps,
              const std::optional<std::string>& owner, const std::string& reason) {
  for (const auto p : ps) gaps.push_back({p, owner, reason});
}

bool contains(const std::vector<events::partition_id>& ps, events::partition_id p) {
  return std::find(ps.begin(), ps.end(), p) != ps.end();
}

std::string job_key(std::string_view id) {
  return std::string(projections::server_state_key::purge_job_prefix) + std::string(id);
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
      order.value(), s_.clock.now(),
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
  const auto& id = sc->match.params.at("id");
  if (const auto job = purges_.find(id))
    return done(json_response(200, report_json(job->snapshot())));
  // Not in memory: a job of before the last restart, or of long ago, as the store keeps it.
  auto saved = is_job_id(id) ? projections::read_server_state(s_.store, job_key(id))
                             : result<std::optional<std::string>>(std::nullopt);
  if (!saved) return done.fail(saved.error());
  auto report = saved.value() ? parse_report(*saved.value()) : std::nullopt;
  if (!report)
    return done(problem_response({404, "no-such-purge-job", "No such purge job",
                                  "this server has run no purge job with this id (a job is "
                                  "known only to the server that ran it, the one its Location "
                                  "names)",
                                  "Art. 38", ""},
                                 sc->req.path));
  // It was running when this server stopped without ending it (a kill, a crash).
  if (report->status == "running") report->status = "interrupted";
  done(json_response(200, report_json(*report)));
}

// The job's status as it is now, in the store: kept across a restart. A failure is logged, not
// fatal: the job goes on, and its status in memory is whole.
void api::impl::save_purge(const purge_report& r) {
  if (auto w = projections::write_server_state(s_.store, job_key(r.id), json_text(report_json(r)));
      !w)
    spdlog::warn("{}", log_line("retention_purge_not_saved",
                                {{"job", r.id}, {"error", w.error().message()}}));
}

// Only the last purge_jobs_saved jobs' statuses are kept (by their start).
void api::impl::forget_old_purges() {
  auto saved =
      projections::read_server_states(s_.store, projections::server_state_key::purge_job_prefix);
  if (!saved || saved.value().size() <= purge_jobs_saved) return;
  std::vector<std::pair<timestamp, std::string>> by_start;
  for (const auto& [key, value] : saved.value()) {
    const auto r = parse_report(value);
    by_start.emplace_back(r && r->started ? *r->started : timestamp{}, key);
  }
  std::sort(by_start.begin(), by_start.end());
  for (std::size_t i = 0; i + purge_jobs_saved < by_start.size(); ++i)
    if (auto e = projections::erase_server_state(s_.store, by_start[i].second); !e)
      spdlog::warn("{}",
                   log_line("retention_purge_not_forgotten", {{"error", e.error().message()}}));
}

// NOLINTEND(performance-unnecessary-value-param)

// The job's body, on its own thread: rounds over the partitions not done yet, each of this
// server's partitions here and the others by their owners.
void api::impl::run_purge(purge_job& job, const core::actor& purger,
                          const std::string& authorization) {
  const purge_order order = job.report.order;  // set before the thread started; never changed
  save_purge(job.snapshot());
  forget_old_purges();
  const auto n = s_.log.partition_count();
  std::vector<events::partition_id> asked;
  if (order.partitions) {
    asked = *order.partitions;
  } else {
    for (std::int32_t p = 0; p < n; ++p) asked.emplace_back(p);
  }
  const std::vector<std::pair<std::string, std::string>> headers{
      {"authorization", authorization},
      {"content-type", "application/json"},
      {std::string(forwarded_by_header), s_.self_url.empty() ? std::string("-") : s_.self_url}};
  const auto deadline = std::chrono::steady_clock::now() + reroute_timeout;
  std::map<std::string, projections::moved_item> undecided;  // by item; until a round does it
  std::vector<purge_gap> gaps;
  for (int round = 1;; ++round) {
    {
      std::lock_guard lk(job.mu);
      job.report.rounds = round;
    }
    auto r = purge_partitions(job, asked, purger, headers);
    std::erase_if(undecided, [&](const auto& kv) { return contains(r.done, kv.second.partition); });
    for (auto& m : r.moved)
      if (!m.decided) undecided[m.item] = std::move(m);
    gaps = std::move(r.gaps);
    save_purge(job.snapshot());
    bool stopped = job.cancel.load();
    {
      std::lock_guard lk(job.mu);
      stopped = stopped || job.report.error.has_value();
    }
    // A part asked by another server ends after one round: that server re-routes what it left.
    if (gaps.empty() || order.forwarded || stopped || round == purge_rounds ||
        std::chrono::steady_clock::now() >= deadline)
      break;
    spdlog::info("{}", log_line("retention_purge_rerouted", {{"job", job.report.id},
                                                             {"round", round + 1},
                                                             {"partitions", gaps.size()},
                                                             {"items", undecided.size()}}));
    await_new_owners(gaps, deadline, job.cancel);
    asked.clear();
    for (const auto& g : gaps) asked.push_back(g.partition);
  }
  // The end, saved before it is shown: once the job reads as ended, it has nothing left to do
  // but return (another may start at once).
  purge_report end = job.snapshot();
  end.partitions_not_done = std::move(gaps);
  if (!order.forwarded) {
    // Still undecided at the end: failed, with the reason (the next purge does them).
    for (const auto& [item, m] : undecided) {
      ++end.failed;
      if (end.failed_items.size() < purge_items_shown)
        end.failed_items.push_back(
            fmt::format("{}: its partition {} moved during the purge and no owner purged it ({})",
                        item, m.partition(), m.reason));
    }
  }
  end.status = end.error ? "failed" : end.partitions_not_done.empty() ? "done" : "partial";
  end.finished = s_.clock.now();
  save_purge(end);
  spdlog::info("{}", log_line("retention_purge_finished", {{"job", end.id},
                                                           {"status", end.status},
                                                           {"purged", end.purged},
                                                           {"refused", end.refused},
                                                           {"failed", end.failed}}));
  std::lock_guard lk(job.mu);
  job.report = std::move(end);
}

// Until every partition of `gaps` has an owner again: this server, or one other than the owner
// that left it undone (or the deadline, owner_wait, or a stop).
void api::impl::await_new_owners(const std::vector<purge_gap>& gaps,
                                 std::chrono::steady_clock::time_point deadline,
                                 const std::atomic<bool>& cancel) {
  const auto until = std::min(deadline, std::chrono::steady_clock::now() + owner_wait);
  const auto owned_anew = [&](const purge_gap& g) {
    if (!s_.writes || s_.writes(g.partition)) return true;
    const auto owner = s_.owner_url ? s_.owner_url(g.partition) : std::nullopt;
    return owner && *owner != s_.self_url && owner != g.owner;
  };
  while (!cancel.load() && std::chrono::steady_clock::now() < until &&
         !std::all_of(gaps.begin(), gaps.end(), owned_anew))
    std::this_thread::sleep_for(owner_poll_interval);
}

// One round: `asked`'s partitions of this server here, the others by their owners.
purge_round api::impl::purge_partitions(
    purge_job& job, const std::vector<events::partition_id>& asked, const core::actor& purger,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  const purge_order& order = job.report.order;  // never changed while the job runs
  purge_round round;
  std::vector<events::partition_id> mine;
  std::map<std::string, std::vector<events::partition_id>> theirs;  // owner URL -> partitions
  for (const auto p : asked) {
    if (!s_.writes || s_.writes(p)) {
      mine.push_back(p);
      continue;
    }
    const auto owner = s_.owner_url ? s_.owner_url(p) : std::nullopt;
    if (order.forwarded)
      round.gaps.push_back(
          {p, owner, "this server does not write it (it is moving): partition-moving"});
    else if (!owner || *owner == s_.self_url)
      round.gaps.push_back(
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
      not_done(round.gaps, ps, owner, why + "; owner-unreachable: retry");
      continue;
    }
    started.push_back({owner, ps, part->id});
  }
  // This server's part.
  purge_report local;
  // The audit reads the projections: first they apply everything the log holds now (the last
  // purge's events included, so that nothing acknowledged is taken for eligible again).
  auto caught_up = mine.empty() ? result<void>(success()) : s_.runner.catch_up(catch_up_timeout);
  if (!caught_up) {
    not_done(round.gaps, mine, std::nullopt, caught_up.error().message());
    local.error = caught_up.error().message();
  } else if (!mine.empty()) {
    projections::purge_options po;
    po.as_of = order.as_of;
    po.dry_run = order.dry_run;
    po.who = purger;
    po.partition_count = s_.log.partition_count();
    if (s_.writes) po.partitions = mine;
    po.progress = &job.progress;
    po.cancel = &job.cancel;
    auto outcome =
        projections::purge_retention(s_.store, s_.writer, s_.keys, recordings_, s_.retention, po);
    if (!outcome) {
      not_done(round.gaps, mine, s_.self_url.empty() ? std::nullopt : std::optional(s_.self_url),
               outcome.error().message());
      local.error = outcome.error().message();
    } else if (job.cancel.load()) {
      local.merge(outcome.value());
      local.planned = local.purged + local.refused + local.failed;
      not_done(round.gaps, mine, std::nullopt, "the server stopped during the purge: retry");
    } else {
      local.merge(outcome.value());
      // A moved item is planned again by its partition's new owner.
      std::size_t undecided = 0;
      std::map<events::partition_id, std::string> moved;  // partition -> why
      for (const auto& m : outcome.value().moved) {
        undecided += m.decided ? 0 : 1;
        moved.emplace(m.partition, m.reason);
      }
      local.planned = job.progress.planned.load() - undecided;
      for (const auto p : mine) {
        const auto it = moved.find(p);
        if (it == moved.end())
          round.done.push_back(p);
        else
          round.gaps.push_back({p, s_.self_url.empty() ? std::nullopt : std::optional(s_.self_url),
                                "it moved to another server during the purge (" + it->second +
                                    "): partition-moving"});
      }
      round.moved = std::move(outcome.value().moved);
    }
  }
  local.partitions_done = round.done;
  {
    std::lock_guard lk(job.mu);
    job.report.merge(local);
    if (local.error) job.report.error = local.error;
    // The local part is merged: the snapshot no longer adds its progress.
    job.progress.planned.store(0);
    job.progress.done.store(0);
    job.progress.refused.store(0);
    job.progress.failed.store(0);
    job.progress.moved.store(0);
  }
  // The other owners' parts, followed until they end.
  for (const auto& part : started) {
    const auto deadline = std::chrono::steady_clock::now() + owner_part_timeout;
    std::optional<purge_report> last;
    std::string why;
    auto silent_since = std::chrono::steady_clock::time_point::max();
    // The owner no longer owns any of the part's partitions (it stopped; they moved).
    const auto owner_left = [&] {
      return std::none_of(part.partitions.begin(), part.partitions.end(),
                          [&](auto p) { return s_.owner_url && s_.owner_url(p) == part.owner; });
    };
    while (!job.cancel.load() && std::chrono::steady_clock::now() < deadline) {
      auto answer = peers_.send(part.owner, "GET", std::string(purge_path) + "/" + part.id, headers,
                                "", resend::safe);
      if (answer && answer.value().status == 200) {
        last = parse_report(answer.value().body);
        silent_since = std::chrono::steady_clock::time_point::max();
        if (last && last->status != "running") break;
      } else {
        why = answer ? fmt::format("its owner answered {}", answer.value().status)
                     : answer.error().message();
        last.reset();
        // The owner answers no more (it stopped, or lost the job): its partitions' new owners
        // take the part.
        const auto now = std::chrono::steady_clock::now();
        silent_since = std::min(silent_since, now);
        if (answer || owner_left() || now - silent_since >= owner_silence) break;
      }
      std::this_thread::sleep_for(owner_poll_interval);
    }
    purge_report got;
    if (last && last->status != "running") got = std::move(*last);
    // Each of the part's partitions the owner did not report done goes to the next round.
    std::vector<events::partition_id> done_there;
    for (const auto p : part.partitions) {
      if (contains(got.partitions_done, p)) {
        done_there.push_back(p);
        continue;
      }
      std::string reason = "its owner's part did not finish" + (why.empty() ? "" : ": " + why) +
                           "; owner-unreachable: retry";
      for (const auto& g : got.partitions_not_done)
        if (g.partition == p) reason = g.reason;
      round.gaps.push_back({p, part.owner, reason});
    }
    // Planned again by the next round: only what the part decided is planned here.
    if (done_there.size() < part.partitions.size())
      got.planned = got.purged + got.refused + got.failed;
    got.partitions_done = done_there;
    got.partitions_not_done.clear();
    round.done.insert(round.done.end(), done_there.begin(), done_there.end());
    std::lock_guard lk(job.mu);
    job.report.merge(got);
  }
  return round;
}

}  // namespace caseline::gateway
