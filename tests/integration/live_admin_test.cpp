// Operations on a running server (the real `caseline serve` binary): the read-only admin commands
// (report, replay, audit verify, retention audit, retention purge --dry-run) and a rebuild with
// --verify run beside it while it takes writes; a backup taken under load restores into a new
// folder that serves every case acknowledged before the backup began and rebuilds to an equal store
// (embedded log); on the real Kafka broker the test command started, the restored server catches up
// from the backup's stored offsets to every case acknowledged after the backup too.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include "tests/support/environment.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tools/backup_cmd.h"
#include "tools/bench_purge.h"
#include "tools/local_admin.h"
#include "tools/retention_cmd.h"
#include "tools/serve.h"

namespace {

using namespace caseline;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

test::header_list bearer(const std::string& token) { return {{"authorization", "Bearer " + token}}; }

struct server {
  std::unique_ptr<test::child_process> proc;
  std::string address;
  std::string bootstrap;  // the first start's admin token, when it printed one
};

// `log` names the log: empty for the embedded log, else --kafka BROKERS --topic TOPIC.
server start_server(const std::string& data, bool first_start = true,
                    const std::vector<std::string>& log = {}) {
  server s;
  std::vector<std::string> argv{test::caseline_binary(), "serve", "--listen", "127.0.0.1:0",
                                "--data", data, "--partitions", "4", "--token-rate", "100000",
                                "--token-burst", "100000"};
  argv.insert(argv.end(), log.begin(), log.end());
  s.proc = std::make_unique<test::child_process>(argv);
  s.address = test::listening_address(*s.proc, 120s);
  if (first_start) {
    auto boot = s.proc->wait_for_line("bootstrap admin token", 30s);
    REQUIRE_MESSAGE(boot.has_value(), s.proc->output());
    s.bootstrap = test::token_in(*boot);
  }
  return s;
}

void stop_server(server& s) {
  s.proc->signal(SIGTERM);
  REQUIRE(s.proc->wait(60s) == 0);
}

std::string agent_token(const server& s) {
  REQUIRE(!s.bootstrap.empty());
  auto r = test::http_call(s.address, "POST", "/v1/admin/tokens",
                           R"({"role":"agent","center":"410100"})", bearer(s.bootstrap));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return std::string(boost::json::parse(r.body).as_object()["token"].as_string());
}

std::string post_case(const server& s, const std::string& token, int i) {
  const std::string body = R"({"channel":"phone","center":"410100","caller":{"phone":"1380000)" +
                           std::to_string(1000 + i % 9000) +
                           R"(","name":"测试"},"content":"case )" + std::to_string(i) +
                           R"(: the bus skipped the stop"})";
  auto r = test::http_call(s.address, "POST", "/v1/cases", body, bearer(token));
  if (r.status != 201) return {};
  return std::string(boost::json::parse(r.body).as_object()["id"].as_string());
}

// Posts `n` cases one after the other; each must be acknowledged.
std::vector<std::string> post_cases(const server& s, const std::string& token, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(post_case(s, token, i));
    REQUIRE(!ids.back().empty());
  }
  return ids;
}

// Posts cases from a thread until stopped: the server is serving writes meanwhile.
class load {
 public:
  load(const server& s, std::string token, int first)
      : thread_([this, &s, token = std::move(token), first] {
          for (int i = first; !stop_.load(); ++i)
            if (auto id = post_case(s, token, i); !id.empty()) {
              {
                std::lock_guard lk(mu_);
                ids_.push_back(id);
              }
              acked_.notify_all();
            }
        }) {}
  ~load() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::size_t size() {
    std::lock_guard lk(mu_);
    return ids_.size();
  }
  std::vector<std::string> ids() {
    std::lock_guard lk(mu_);
    return ids_;
  }
  // Waits until `n` more cases are acknowledged: the load is really running.
  void wait_for(std::size_t n) {
    std::unique_lock lk(mu_);
    const std::size_t target = ids_.size() + n;
    REQUIRE(acked_.wait_for(lk, 60s, [&] { return ids_.size() >= target; }));
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable acked_;
  std::vector<std::string> ids_;
  std::thread thread_;
};

struct ran {
  int code;
  std::string output;
};

ran run(std::vector<std::string> args, const std::vector<std::string>& log = {}) {
  args.insert(args.begin(), test::caseline_binary());
  args.insert(args.end(), log.begin(), log.end());
  test::child_process p(args);
  auto code = p.wait(120s);
  REQUIRE_MESSAGE(code.has_value(), "timed out: " << p.output());
  return {*code, p.output()};
}

// The current month in Asia/Shanghai (the server's system clock dates the cases).
std::string this_month() {
  const auto t = std::chrono::system_clock::now() + 8h;
  const std::chrono::year_month_day d{std::chrono::floor<std::chrono::days>(t)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()));
  return buf;
}

std::string today() {
  const auto t = std::chrono::system_clock::now() + 8h;
  const std::chrono::year_month_day d{std::chrono::floor<std::chrono::days>(t)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

// The Art. 38 purge online (POST /v1/admin/retention/purge), killed mid-way.
constexpr std::uint64_t purge_cases = 6000;
constexpr const char* purge_later = "2033-01-05";  // past 5 years from archiving today

boost::json::object purge_job_of(const test::http_reply& r) {
  return boost::json::parse(r.body).as_object();
}

}  // namespace

TEST_CASE(
    "report, replay, audit verify, retention and rebuild run while the server serves writes") {
  test::temp_dir dir;
  const std::string data = dir.sub("data");
  server s = start_server(data);
  const std::string agent = agent_token(s);
  const std::vector<std::string> before = post_cases(s, agent, 10);
  load writes(s, agent, 1000);
  writes.wait_for(5);

  SUBCASE("replay shows a case acknowledged just before, its chain verified") {
    const std::string id = post_case(s, agent, 500);
    REQUIRE(!id.empty());
    auto r = run({"replay", id, "--data", data, "--format", "json"});
    CHECK_MESSAGE(r.code == 0, r.output);
    CHECK(r.output.find(id) != std::string::npos);
    CHECK(r.output.find("case_received") != std::string::npos);
    auto missing = run({"replay", "410100-20000101-99999", "--data", data});
    CHECK(missing.code == 2);
  }
  SUBCASE("audit verify passes over the log the server is appending to") {
    auto r = run({"audit", "verify", "--data", data});
    CHECK_MESSAGE(r.code == 0, r.output);
    CHECK(r.output.find("verified: every chain and checkpoint holds") != std::string::npos);
  }
  SUBCASE("the monthly report counts the cases received") {
    // The report reads the server's store as of its open; its counters follow each
    // acknowledged case closely, so it is asked again until it has them (with a deadline).
    const std::size_t at_least = before.size() + writes.size();
    std::int64_t received = 0;
    const bool counted = test::eventually(
        [&] {
          auto r = run(
              {"report", "monthly", "--month", this_month(), "--format", "json", "--data", data});
          REQUIRE_MESSAGE(r.code == 0, r.output);
          const auto json = r.output.substr(r.output.find('{'));
          received = boost::json::parse(json).at("totals").at("received").to_number<std::int64_t>();
          return received >= static_cast<std::int64_t>(at_least);
        },
        60s);
    REQUIRE_MESSAGE(counted, received << " < " << at_least);
    CHECK(received >= static_cast<std::int64_t>(at_least));
  }
  SUBCASE("retention audit and a dry-run purge read the running server's store") {
    auto a = run({"retention", "audit", "--data", data, "--format", "json"});
    CHECK_MESSAGE(a.code == 0, a.output);
    CHECK(a.output.find(before.front()) != std::string::npos);
    auto p = run({"retention", "purge", "--dry-run", "--as-of", today(), "--data", data});
    CHECK_MESSAGE(p.code == 0, p.output);
    CHECK(p.output.find("0 to purge, 0 refused, 0 failed") != std::string::npos);
  }
  SUBCASE("rebuild --verify replays the log beside the server and finds its store equal") {
    // The live store and the log are read as they stood at the open, while writes go on: the
    // rebuilt store must equal the live one at the offsets it had then, key by key.
    writes.wait_for(5);
    auto r = run({"rebuild", "--verify", "--data", data});
    CHECK_MESSAGE(r.code == 0, r.output);
    CHECK(r.output.find("verify: identical") != std::string::npos);
    const std::size_t during = writes.size();
    writes.wait_for(5);  // the server kept taking writes: the rebuild took no lock it needs
    CHECK(writes.size() > during);
  }
  writes.stop();
  stop_server(s);
}

// The id `caseline token create` named on stderr ("token <id>: shown once ...").
std::string token_id_in(const std::string& output) {
  const auto at = output.find("token ");
  REQUIRE_MESSAGE(at != std::string::npos, output);
  return output.substr(at + 6, 12);
}

// An operator who has lost every admin token (here: the bootstrap token, the only one) makes a
// new one through the data folder of the running server, its admin socket, while it takes
// writes; a stopped server's folder still takes the same commands through its log.
TEST_CASE(
    "an admin token is made, listed and revoked through the data folder while the server "
    "runs") {
  test::temp_dir dir;
  const std::string data = dir.sub("data");
  server s = start_server(data);
  const std::string agent = agent_token(s);
  load writes(s, agent, 0);
  writes.wait_for(5);

  auto made = run({"token", "create", "--data", data, "--role", "admin", "--center", "410000"});
  REQUIRE_MESSAGE(made.code == 0, made.output);
  const std::string admin = test::token_in(made.output);
  const std::string admin_id = token_id_in(made.output);
  CHECK(admin != s.bootstrap);
  // It is an admin token of the running server at once (the command waited for its event).
  auto listed = test::http_call(s.address, "GET", "/v1/admin/tokens", {}, bearer(admin));
  REQUIRE_MESSAGE(listed.status == 200, listed.body);
  CHECK(listed.body.find(admin_id) != std::string::npos);
  std::string bootstrap_id;
  const auto tokens = boost::json::parse(listed.body);
  for (const auto& t : tokens.at("tokens").as_array())
    if (t.at("id").as_string() != admin_id.c_str() && t.at("role").as_string() == "admin")
      bootstrap_id = t.at("id").as_string().c_str();
  REQUIRE(!bootstrap_id.empty());

  auto list = run({"token", "list", "--data", data});
  CHECK_MESSAGE(list.code == 0, list.output);
  CHECK(list.output.find(admin_id) != std::string::npos);
  CHECK(list.output.find(bootstrap_id) != std::string::npos);

  // The other admin token revoked the same way: 401 from the next request.
  CHECK(test::http_call(s.address, "GET", "/v1/admin/tokens", {}, bearer(s.bootstrap)).status ==
        200);
  auto revoked = run({"token", "revoke", "--data", data, bootstrap_id});
  CHECK_MESSAGE(revoked.code == 0, revoked.output);
  CHECK(test::http_call(s.address, "GET", "/v1/admin/tokens", {}, bearer(s.bootstrap)).status ==
        401);
  auto again = run({"token", "revoke", "--data", data, bootstrap_id});
  CHECK(again.code == 1);
  CHECK_MESSAGE(again.output.find("404") != std::string::npos, again.output);

  // Bad input is refused with the API's problems, and writes nothing.
  auto bad_role = run({"token", "create", "--data", data, "--role", "root", "--center", "410000"});
  CHECK(bad_role.code == 1);
  CHECK_MESSAGE(bad_role.output.find("422") != std::string::npos, bad_role.output);
  CHECK(bad_role.output.find("\"field\":\"role\"") != std::string::npos);
  auto bad_unit = run({"token", "create", "--data", data, "--role", "unit", "--center", "410100",
                       "--unit", "no-such-unit"});
  CHECK(bad_unit.code == 1);
  CHECK_MESSAGE(bad_unit.output.find("is not registered") != std::string::npos, bad_unit.output);

  // The server's log names the operator's user, never the secret.
  REQUIRE(s.proc->wait_for_line("\"event\":\"local_admin_request\",\"method\":\"POST\"", 10s));
  CHECK(s.proc->output().find(admin) == std::string::npos);

  SUBCASE("another user of the machine is refused, even when the socket file lets it connect") {
    // As if the server ran with a lax umask: the peer's user is checked too. The request comes
    // from a thread that has become nobody (setresuid as a raw system call changes only the
    // calling thread's user), which needs root, as .ci/run runs the tests.
    REQUIRE_MESSAGE(::geteuid() == 0, "run as root (as .ci/run does): the test changes user");
    fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);
    fs::permissions(data, fs::perms::others_exec, fs::perm_options::add);
    fs::permissions(fs::path(data) / "admin.sock", fs::perms::all, fs::perm_options::add);
    constexpr long nobody = 65534;
    std::optional<result<std::optional<tools::admin_answer>>> answer;
    std::thread([&] {
      if (::syscall(SYS_setgroups, 0, nullptr) != 0 ||
          ::syscall(SYS_setresgid, nobody, nobody, nobody) != 0 ||
          ::syscall(SYS_setresuid, nobody, nobody, nobody) != 0)
        return;
      answer = tools::local_admin_request(
          data, {"POST", "/v1/admin/tokens", R"({"role":"admin","center":"410000"})"});
    }).join();
    REQUIRE_MESSAGE(answer.has_value(), "the thread could not become nobody");
    REQUIRE_MESSAGE(answer->has_value(), answer->error().message());
    REQUIRE(answer->value().has_value());
    CHECK(answer->value()->status == 403);
    CHECK(answer->value()->body.find("clt_") == std::string::npos);
    CHECK(s.proc->wait_for_line("\"event\":\"local_admin_refused\",\"uid\":65534", 10s));
    // And with the socket file as the server made it, it cannot connect at all.
    fs::permissions(fs::path(data) / "admin.sock", fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
    answer.reset();
    std::thread([&] {
      if (::syscall(SYS_setresuid, nobody, nobody, nobody) != 0) return;
      answer = tools::local_admin_request(data, {"GET", "/v1/admin/tokens", ""});
    }).join();
    REQUIRE(answer.has_value());
    REQUIRE_FALSE(answer->has_value());
    CHECK(answer->error().code == std::errc::permission_denied);
  }
  SUBCASE("stopped, the folder takes the commands through its log; killed, too") {
    const std::size_t during = writes.size();
    writes.wait_for(5);  // the server took writes all along
    CHECK(writes.size() > during);
    writes.stop();
    stop_server(s);
    CHECK_FALSE(fs::exists(fs::path(data) / "admin.sock"));
    auto offline = run({"token", "create", "--data", data, "--role", "admin", "--center", "410000",
                        "--partitions", "4"});
    REQUIRE_MESSAGE(offline.code == 0, offline.output);
    CHECK_MESSAGE(offline.output.find("held no server's data") == std::string::npos,
                  offline.output);
    const std::string later = test::token_in(offline.output);
    // A mistyped folder makes a token for a new, empty log: the command says so.
    const std::string typo = dir.sub("dat");
    auto astray = run({"token", "create", "--data", typo, "--role", "admin", "--center", "410000",
                       "--partitions", "4"});
    REQUIRE_MESSAGE(astray.code == 0, astray.output);
    CHECK_MESSAGE(astray.output.find("no server runs on " + typo +
                                     " and it held no server's data") != std::string::npos,
                  astray.output);
    server t = start_server(data, false);
    CHECK(test::http_call(t.address, "GET", "/v1/admin/tokens", {}, bearer(later)).status == 200);
    CHECK(test::http_call(t.address, "GET", "/v1/admin/tokens", {}, bearer(admin)).status == 200);
    // A killed server leaves its socket file; nothing answers it, so the log is used.
    t.proc->signal(SIGKILL);
    REQUIRE(t.proc->wait(60s).has_value());
    CHECK(fs::exists(fs::path(data) / "admin.sock"));
    auto after_kill = run({"token", "list", "--data", data, "--partitions", "4"});
    CHECK_MESSAGE(after_kill.code == 0, after_kill.output);
    CHECK(after_kill.output.find(admin_id) != std::string::npos);
    // The next start replaces the left socket file and answers on it.
    server u = start_server(data, false);
    auto on_restart = run({"token", "list", "--data", data});
    CHECK_MESSAGE(on_restart.code == 0, on_restart.output);
    CHECK(u.proc->wait_for_line("\"event\":\"local_admin_request\",\"method\":\"GET\"", 10s));
    stop_server(u);
    return;  // the server `s` is stopped already
  }
  writes.stop();
  stop_server(s);
}

// A restored replica must resume from an offset no later than its data: the audio replica writes
// its offsets after the files they cover, so a backup copies them before those files.
TEST_CASE("a backup copies the audio replica's seen time and offsets before the blobs") {
  test::temp_dir dir;
  const fs::path blobs = dir.sub("blobs");
  const auto write = [&](const std::string& rel) {
    fs::create_directories((blobs / rel).parent_path());
    std::ofstream(blobs / rel) << "x";
  };
  const std::string sha(64, 'a');
  for (const std::string& rel :
       {"aa/" + sha, std::string("audio-local"), "parts/" + sha + ".c/0",
        std::string("audio-offsets"), std::string("audio-seen"), "zz/" + std::string(64, 'f')})
    write(rel);
  auto order = tools::blob_copy_order(blobs.string());
  REQUIRE(order.has_value());
  REQUIRE(order.value().size() == 6);
  CHECK(order.value()[0] == "audio-seen");
  CHECK(order.value()[1] == "audio-offsets");
  const std::set<std::string> rest(order.value().begin() + 2, order.value().end());
  CHECK(rest == std::set<std::string>{"aa/" + sha, "audio-local", "parts/" + sha + ".c/0",
                                      "zz/" + std::string(64, 'f')});
}

TEST_CASE("a backup taken under load restores into a new folder, equal and complete") {
  test::temp_dir dir;
  const std::string data = dir.sub("data");
  const std::string backup = dir.sub("backup");
  const std::string restored = dir.sub("restored");
  server s = start_server(data);
  const std::string agent = agent_token(s);
  std::vector<std::string> before = post_cases(s, agent, 20);
  {
    load writes(s, agent, 1000);
    writes.wait_for(5);
    // Every case acknowledged before this point must be in the backup.
    const auto during = writes.ids();
    before.insert(before.end(), during.begin(), during.end());
    auto b = run({"backup", "--data", data, "--out", backup});
    REQUIRE_MESSAGE(b.code == 0, b.output);
    writes.wait_for(5);  // the server kept taking writes during and after the backup
    writes.stop();
    auto again = run({"backup", "--data", data, "--out", backup});
    CHECK(again.code == 2);
    CHECK(again.output.find("exists already") != std::string::npos);
  }
  stop_server(s);

  auto v = run({"backup", "--verify", backup});
  CHECK_MESSAGE(v.code == 0, v.output);
  auto r = run({"restore", backup, "--data", restored});
  REQUIRE_MESSAGE(r.code == 0, r.output);
  auto twice = run({"restore", backup, "--data", restored});
  CHECK(twice.code == 2);
  CHECK(twice.output.find("exists already") != std::string::npos);

  {
    // Not a first start: the tokens came with the backup (the agent's token works below).
    server back = start_server(restored, false);
    for (const auto& id : before) {
      auto got = test::http_call(back.address, "GET", "/v1/cases/" + id, {}, bearer(agent));
      CHECK_MESSAGE(got.status == 200, id << ": " << got.body);
    }
    // It takes writes where the backup left off.
    CHECK(!post_case(back, agent, 90000).empty());
    stop_server(back);
  }
  auto rebuilt = run({"rebuild", "--data", restored, "--partitions", "4", "--verify"});
  CHECK_MESSAGE(rebuilt.code == 0, rebuilt.output);

  SUBCASE("a damaged backup is refused, the bad file named, and nothing is restored") {
    const std::string damaged = dir.sub("damaged");
    fs::copy(backup, damaged, fs::copy_options::recursive);
    std::string victim;
    for (const auto& e : fs::recursive_directory_iterator(damaged + "/log"))
      if (e.is_regular_file() && e.path().extension() == ".sst" && e.file_size() > 100)
        victim = e.path().string();
    REQUIRE(!victim.empty());
    {
      std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(50);
      char c = 0;
      f.get(c);
      f.seekp(50);
      f.put(static_cast<char>(c ^ 0x01));
    }
    const std::string rel = fs::relative(victim, damaged).generic_string();
    auto bad = run({"backup", "--verify", damaged});
    CHECK(bad.code == 1);
    CHECK_MESSAGE(bad.output.find(rel) != std::string::npos, bad.output);
    const std::string into = dir.sub("from-damaged");
    auto refused = run({"restore", damaged, "--data", into});
    CHECK(refused.code == 1);
    CHECK_MESSAGE(refused.output.find(rel) != std::string::npos, refused.output);
    CHECK(!fs::exists(into));
    for (const auto& e : fs::directory_iterator(dir.path()))
      CHECK_MESSAGE(e.path().filename().string().find(".partial-") == std::string::npos,
                    e.path());
  }
}

// On Kafka the topic is the log: the backup holds the store with the offsets its projections
// stand on, and the restored server catches up from there over the topic, past the backup, to
// every case the old server acknowledged: none applied twice (the rebuild is equal), none skipped.
TEST_CASE("a backup taken under load on Kafka restores and catches up from its stored offsets") {
  test::temp_dir dir;
  const std::string data = dir.sub("data");
  const std::string backup = dir.sub("backup");
  const std::string restored = dir.sub("restored");
  const std::vector<std::string> on_kafka{"--kafka", test::kafka_bootstrap(), "--topic",
                                          test::unique_topic("backup")};
  server s = start_server(data, true, on_kafka);
  const std::string agent = agent_token(s);
  std::vector<std::string> acked = post_cases(s, agent, 20);
  std::vector<std::string> before;  // acknowledged before the backup began
  std::vector<std::string> after;   // acknowledged once the backup was complete
  {
    load writes(s, agent, 1000);
    writes.wait_for(5);
    before = acked;
    const auto during = writes.ids();
    before.insert(before.end(), during.begin(), during.end());
    auto b = run({"backup", "--data", data, "--out", backup, "--partitions", "4"}, on_kafka);
    REQUIRE_MESSAGE(b.code == 0, b.output);
    CHECK(b.output.find("(kafka log)") != std::string::npos);
    const std::size_t at_backup = writes.size();
    writes.wait_for(20);  // the server kept taking writes after the backup
    writes.stop();
    const auto all = writes.ids();
    after.assign(all.begin() + static_cast<std::ptrdiff_t>(at_backup), all.end());
    acked.insert(acked.end(), all.begin(), all.end());
  }
  for (const auto& id : post_cases(s, agent, 10)) {
    after.push_back(id);
    acked.push_back(id);
  }
  stop_server(s);

  auto v = run({"backup", "--verify", backup});
  CHECK_MESSAGE(v.code == 0, v.output);
  // The topic is the log: the backup holds no copy of it, only where the store stands in it.
  CHECK(!fs::exists(backup + "/log"));
  {
    std::ifstream in(backup + "/manifest.json");
    const auto m = boost::json::parse(
        std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()});
    CHECK(m.at("log_kind").as_string() == "kafka");
    CHECK(m.at("topic").as_string() == on_kafka[3]);
    std::int64_t applied = 0;
    for (const auto& [p, off] : m.at("offsets").as_object()) applied += off.to_number<std::int64_t>();
    CHECK(applied > 0);
  }
  auto r = run({"restore", backup, "--data", restored});
  REQUIRE_MESSAGE(r.code == 0, r.output);
  CHECK(r.output.find("--topic " + on_kafka[3]) != std::string::npos);

  {
    server back = start_server(restored, false, on_kafka);
    // The last case the old server acknowledged is there: the restored store caught up over
    // the topic from its stored offsets (asked again until it is, with a deadline).
    test::http_reply last;
    const bool caught_up = test::eventually(
        [&] {
          last =
              test::http_call(back.address, "GET", "/v1/cases/" + after.back(), {}, bearer(agent));
          return last.status == 200;
        },
        60s);
    REQUIRE_MESSAGE(caught_up, last.status << " " << last.body);
    for (const auto& id : acked) {
      auto got = test::http_call(back.address, "GET", "/v1/cases/" + id, {}, bearer(agent));
      REQUIRE_MESSAGE(got.status == 200, id << ": " << got.body);
      const auto c = boost::json::parse(got.body);
      CHECK(c.at("version").to_number<std::int64_t>() == 1);
      CHECK(c.at("status").as_string() == "received");
    }
    // Their personal text opens with the data keys the backup holds: those of every case
    // received before it began. (A case received after the backup has its key only in the data
    // folder it was received in: see "Backup and restore" in the README.)
    for (const auto& id : before) {
      auto got = test::http_call(back.address, "GET", "/v1/cases/" + id, {}, bearer(agent));
      REQUIRE(got.status == 200);
      const auto c = boost::json::parse(got.body);
      CHECK_MESSAGE(c.at("content").is_string(), id << ": " << got.body);
      if (c.at("content").is_string())
        CHECK(c.at("content").as_string().find("the bus skipped the stop") != std::string::npos);
    }
    // The case-id sequence continues after the last case in the topic: no id handed out twice.
    const std::string next = post_case(back, agent, 90000);
    REQUIRE(!next.empty());
    CHECK(std::find(acked.begin(), acked.end(), next) == acked.end());
    stop_server(back);
  }
  // Applied once each: a store that replayed the topic from the start over its restored rows
  // (counters doubled) or skipped records would differ from a fresh replay.
  auto rebuilt =
      run({"rebuild", "--data", restored, "--partitions", "4", "--verify"}, on_kafka);
  CHECK_MESSAGE(rebuilt.code == 0, rebuilt.output);
}

TEST_CASE("a purge killed mid-way finishes after a restart, each case purged exactly once") {
  test::temp_dir dir;
  const std::string data = dir.path().string();
  tools::store_options store;
  store.data_dir = data;
  store.partitions = 4;
  store.calendar_file = test::source_dir() + "/core/data/cn-workdays.txt";
  {
    // Archived cases, written through the write path of the stack the server runs.
    tools::serve_options so;
    so.store = store;
    so.http = false;
    so.checkpoint_interval = std::chrono::minutes(0);
    auto stack = tools::server_stack::open(so);
    REQUIRE_MESSAGE(stack, (stack ? "" : stack.error().message()));
    auto seeded = tools::seed_archived_cases(stack.value()->writer(), purge_cases, "410100");
    REQUIRE_MESSAGE(seeded, (seeded ? "" : seeded.error().message()));
    stack.value()->stop(30s);
  }

  auto s = start_server(data, true, {"--clock", "manual"});
  // An admin token without expiry: the bootstrap one expires in 24 hours of the moved clock.
  auto made = test::http_call(s.address, "POST", "/v1/admin/tokens",
                              R"({"role":"admin","center":"410000"})", bearer(s.bootstrap));
  REQUIRE_MESSAGE(made.status == 201, made.body);
  const std::string admin(purge_job_of(made)["token"].as_string());
  REQUIRE(test::http_call(s.address, "POST", "/v1/admin/clock",
                          std::string(R"({"now":")") + purge_later + R"(T10:00:00+08:00"})",
                          bearer(admin))
              .status == 200);
  const std::string order = std::string(R"({"as_of":")") + purge_later + R"("})";
  auto started =
      test::http_call(s.address, "POST", "/v1/admin/retention/purge", order, bearer(admin));
  REQUIRE_MESSAGE(started.status == 202, started.body);
  const std::string path =
      "/v1/admin/retention/purge/" + std::string(purge_job_of(started)["id"].as_string());
  // Killed once the job has purged some and not all (a condition, not a sleep).
  std::uint64_t purged_before_kill = 0;
  REQUIRE(test::eventually(
      [&] {
        auto r = test::http_call(s.address, "GET", path, "", bearer(admin));
        REQUIRE(r.status == 200);
        auto j = purge_job_of(r);
        purged_before_kill = j["purged"].to_number<std::uint64_t>();
        return purged_before_kill > 0 || j["status"].as_string() != "running";
      },
      120s));
  s.proc->signal(SIGKILL);
  REQUIRE(s.proc->wait(30s).has_value());
  MESSAGE("killed after " << purged_before_kill << " of " << purge_cases << " purged");
  CHECK(purged_before_kill < purge_cases);

  s = start_server(data, false, {"--clock", "manual"});
  // Restarted, the same purge again, through `caseline retention purge --url` (which follows the
  // job to its end): the rest, and only the rest.
  tools::retention_options po;
  po.store = store;
  po.as_of = purge_later;
  po.url = "http://" + s.address;
  po.token = admin;
  std::ostringstream purge_out, purge_err;
  CHECK_MESSAGE(tools::run_retention_purge(po, purge_out, purge_err) == 0,
                purge_out.str().substr(0, 1000) << purge_err.str());
  const auto printed = purge_out.str();
  const auto last_line = printed.substr(printed.rfind('\n', printed.size() - 2) + 1);
  MESSAGE(last_line);
  CHECK(last_line.find("(job ") != std::string::npos);
  CHECK(last_line.find(", done)") != std::string::npos);
  CHECK(last_line.find(" 0 refused, 0 failed") != std::string::npos);
  CHECK(std::stoull(last_line) + purged_before_kill <= purge_cases);
  stop_server(s);

  // The audit on the stopped folder: the verdict holds (nothing early, no key left behind), and
  // the trail has one text_shredded per case.
  tools::retention_options ro;
  ro.store = store;
  ro.as_of = purge_later;
  ro.format = "json";
  std::ostringstream out, err;
  CHECK_MESSAGE(tools::run_retention_audit(ro, out, err) == 0, out.str().substr(0, 2000)
                                                                   << err.str());
  const auto audit = boost::json::parse(out.str()).as_object();
  CHECK(audit.at("summary").at("purged").to_number<std::uint64_t>() == purge_cases);
  CHECK(audit.at("summary").at("eligible").to_number<std::uint64_t>() == 0);
  std::uint64_t shreds = 0;
  for (const auto& h : audit.at("history").as_array())
    shreds += h.at("kind").as_string() == "text_shredded" ? 1 : 0;
  CHECK(shreds == purge_cases);
}
