#include "tools/bench_purge.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/time.h"
#include "events/errc.h"
#include "gateway/json_text.h"
#include "projections/retention.h"
#include "tools/admin_client.h"
#include "tools/bench_seed.h"
#include "tools/bench_server.h"
#include "tools/serve.h"
#include "tools/token_cmd.h"

namespace caseline::tools {

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

}  // namespace

result<seeded_cases> seed_archived_cases(projections::case_writer& writer, std::uint64_t cases,
                                         const std::string& center) {
  const core::actor agent{user_id{"bench-agent"}, core::role::agent, center_code{center}, {}};
  const core::actor officer{
      user_id{"bench-revisit"}, core::role::supervisor, center_code{center}, {}};
  const auto request = [](std::optional<case_id> id, core::command cmd, const core::actor& who) {
    projections::command_request r;
    r.id = std::move(id);
    r.cmd = std::move(cmd);
    r.who = who;
    r.correlation_id = "bench-purge";
    return r;
  };
  seeded_cases seeded;
  const auto started = steady::now();
  std::vector<projections::command_request> receives;
  receives.reserve(cases);
  for (std::uint64_t i = 0; i < cases; ++i)
    receives.push_back(request(std::nullopt,
                               core::receive{core::channel::phone,
                                             center_code{center},
                                             core::caller_info{"13800000000", "张三"},
                                             "公交车不停站",
                                             std::nullopt,
                                             {},
                                             ""},
                               agent));
  auto received = submit_all(writer, std::move(receives));
  if (!received) return received.error();
  std::vector<case_id> ids;
  ids.reserve(cases);
  for (const auto& o : received.value()) ids.push_back(o.state.id);
  std::vector<projections::command_request> answers;
  answers.reserve(ids.size());
  for (const auto& id : ids)
    answers.push_back(request(id, core::answer_immediately{"已答复"}, agent));
  auto answered = submit_all(writer, std::move(answers));
  if (!answered) return answered.error();
  std::vector<projections::command_request> revisits;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (answered.value()[i].state.revisit_required)
      revisits.push_back(request(
          ids[i], core::revisit{true, core::satisfaction::satisfied, std::nullopt, false, ""},
          officer));
  const auto revisited = revisits.size();
  if (auto r = submit_all(writer, std::move(revisits)); !r) return r.error();
  std::vector<projections::command_request> archives;
  archives.reserve(ids.size());
  for (const auto& id : ids) archives.push_back(request(id, core::archive{}, agent));
  if (auto r = submit_all(writer, std::move(archives)); !r) return r.error();
  seeded.cases = cases;
  seeded.commands = 3 * cases + revisited;
  seeded.seconds = seconds_since(started);
  return seeded;
}

int run_bench_purge(const bench_purge_options& o, std::ostream& out, std::ostream& err,
                    bench_purge_figures* figures) {
  const auto made = fresh_bench_dir(o.dir, "caseline-bench-purge", err);
  if (!made) return 1;
  serve_options so;
  so.store.data_dir = made->string();
  so.store.partitions = o.partitions;
  so.store.calendar_file = o.calendar_file;
  so.listen = "127.0.0.1:0";
  so.clock = "manual";
  so.checkpoint_interval = std::chrono::minutes(0);
  auto stack = server_stack::open(so);
  if (!stack) {
    err << "caseline bench purge: " << stack.error().message() << "\n";
    return 1;
  }
  auto& s = *stack.value();
  auto admin = s.create_token({"admin", "410000", "", std::nullopt});
  if (!admin) {
    err << "caseline bench purge: " << admin.error().message() << "\n";
    return 1;
  }
  const admin_target to{"http://" + s.address(), admin.value().secret};
  auto seeded = seed_archived_cases(s.writer(), o.cases, "410100");
  if (!seeded) {
    err << "caseline bench purge: seeding: " << seeded.error().message() << "\n";
    return 1;
  }
  const auto& sd = seeded.value();
  const double write_rate = sd.seconds > 0 ? static_cast<double>(sd.commands) / sd.seconds : 0;
  out << fmt::format(
      "seeded {} archived cases: {} commands in {:.1f} s, {:.0f} commands/s (the "
      "write path: one record per command, {} partitions, embedded log)\n",
      sd.cases, sd.commands, sd.seconds, write_rate, o.partitions);
  // Past the text's 5 years (Art. 38) from archiving.
  auto clock = admin_request(to, "GET", "/v1/admin/clock");
  if (!clock || clock.value().status != 200) {
    err << "caseline bench purge: cannot read the server's clock\n";
    return 1;
  }
  const auto now = parse_rfc3339(
      std::string(boost::json::parse(clock.value().body).as_object().at("now").as_string()));
  if (!now) {
    err << "caseline bench purge: the server's clock is not RFC 3339\n";
    return 1;
  }
  const auto later = shanghai_date(*now).plus_days(std::int64_t{6} * 366);
  const auto moved = admin_request(
      to, "POST", "/v1/admin/clock",
      gateway::json_text(boost::json::object{
          {"now", to_rfc3339_shanghai(timestamp{shanghai_start_of_day(later).ms + 36'000'000})}}));
  if (!moved || moved.value().status != 200) {
    err << "caseline bench purge: cannot move the server's clock\n";
    return 1;
  }
  const auto started = steady::now();
  auto job = admin_request(
      to, "POST", "/v1/admin/retention/purge",
      gateway::json_text(boost::json::object{{"as_of", later.to_string()}, {"dry_run", false}}));
  if (!job || job.value().status != 202) {
    err << "caseline bench purge: POST /v1/admin/retention/purge: "
        << (job ? std::to_string(job.value().status) + " " + job.value().body
                : job.error().message())
        << "\n";
    return 1;
  }
  const std::string path = "/v1/admin/retention/purge/" +
                           std::string(boost::json::parse(job.value().body).at("id").as_string());
  boost::json::value last;
  for (;;) {
    auto now_job = admin_request(to, "GET", path);
    if (!now_job || now_job.value().status != 200) {
      err << "caseline bench purge: GET " << path << " failed\n";
      return 1;
    }
    last = boost::json::parse(now_job.value().body);
    if (last.at("status").as_string() != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a poll interval, not a wait
  }
  const double took = seconds_since(started);
  const auto purged = last.at("purged").to_number<std::uint64_t>();
  const double rate = took > 0 ? static_cast<double>(purged) / took : 0;
  out << fmt::format(
      "purged {} of {} cases ({} refused, {} failed, job {}) in {:.1f} s: {:.0f} cases/s through "
      "the API = {:.0f} % of the write path's {:.0f} commands/s; 10⁵ cases at this rate: {:.0f} s "
      "(target < 60 s)\n",
      purged, o.cases, last.at("refused").to_number<std::uint64_t>(),
      last.at("failed").to_number<std::uint64_t>(), last.at("status").as_string().c_str(), took,
      rate, write_rate > 0 ? 100 * rate / write_rate : 0, write_rate, rate > 0 ? 1e5 / rate : 0);
  if (figures) *figures = {purged, took, rate, write_rate};
  s.stop(std::chrono::seconds(30));
  stack.value().reset();
  if (o.dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(*made, ec);  // deliberately ignored: a temporary folder
  }
  return purged == o.cases ? 0 : 1;
}

}  // namespace caseline::tools
