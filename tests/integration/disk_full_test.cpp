// A full data disk, for real: the server runs on a small tmpfs of its own (a private mount
// namespace of this test process, so nothing outside it sees the mount), a ballast file fills
// it, and deleting the ballast frees it again. With a reserve the server refuses commands before
// the disk is full and keeps serving reads. Without one, the embedded log (RocksDB's own
// diagnostic log once aborted the process there) and the projections run into the full disk
// themselves, and must write again once space is freed, nothing lost or doubled.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <string>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <boost/json/parse.hpp>

#include "core/calendar.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "projections/projection_set.h"
#include "projections/rebuild.h"
#include "projections/runner.h"
#include "projections/store.h"
#include "tests/support/environment.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tools/bench_rebuild.h"

namespace {

using namespace caseline;
using namespace std::chrono_literals;

constexpr std::uint64_t mib = std::uint64_t{1024} * 1024;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

// This process (its calling thread, and the threads and servers it starts from then on) in a
// mount namespace of its own, as root or, for a user who is not, as root of a user namespace of
// its own. Threads started before keep the old view, where the small disk is an empty folder.
void enter_private_mount_namespace() {
  static bool entered = false;
  if (entered) return;
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(uid == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) != 0)
    FAIL("a private mount namespace for a small tmpfs: unshare: " << std::strerror(errno)
                                                                  << " (run as root, as .ci/run "
                                                                     "does, or allow user "
                                                                     "namespaces)");
  if (uid != 0) {
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
    write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
  }
  REQUIRE_MESSAGE(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0,
                  "make the mounts private: " << std::strerror(errno)
                                              << " (in a chroot, its root must be a mount point: "
                                                 "tools/dev.sh fresh-check bind-mounts it)");
  entered = true;
}

// A tmpfs of `size_mib` at a new temporary folder, unmounted at the end.
class small_disk {
 public:
  explicit small_disk(std::uint64_t size_mib) {
    enter_private_mount_namespace();
    const std::string opts = "size=" + std::to_string(size_mib) + "m";
    REQUIRE_MESSAGE(::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, opts.c_str()) == 0,
                    "mount a tmpfs: " << std::strerror(errno));
  }
  ~small_disk() { ::umount2(dir_.path().c_str(), MNT_DETACH); }
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;

  std::string sub(const std::string& name) const { return dir_.sub(name); }
  std::uint64_t free_bytes() const {
    struct statvfs st {};
    REQUIRE(::statvfs(dir_.path().c_str(), &st) == 0);
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  }
  // A ballast file grown to take all but `leave` bytes of the free space (as much as fits);
  // called again, it takes what RocksDB freed meanwhile (a deleted WAL's preallocation).
  void fill(std::uint64_t leave) {
    const std::uint64_t now = free_bytes();
    if (now <= leave) return;
    const int fd = ::open(sub("ballast").c_str(), O_WRONLY | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    const off_t end = ::lseek(fd, 0, SEEK_END);
    const int rc = ::posix_fallocate(fd, end, static_cast<off_t>(now - leave));
    ::close(fd);
    REQUIRE_MESSAGE((rc == 0 || rc == ENOSPC), "fallocate: " << std::strerror(rc));
  }
  void empty() { std::filesystem::remove(sub("ballast")); }

 private:
  test::temp_dir dir_;
};

test::header_list bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

struct server {
  std::unique_ptr<test::child_process> proc;
  std::string address;
  std::string admin;  // the bootstrap admin token
  std::string agent;
};

server start_server(const std::string& data, std::uint64_t reserve_mib) {
  server s;
  s.proc = std::make_unique<test::child_process>(std::vector<std::string>{
      test::caseline_binary(), "serve", "--listen", "127.0.0.1:0", "--data", data, "--partitions",
      "2", "--memory-mib", "32", "--token-rate", "100000", "--token-burst", "100000",
      "--min-free-disk-mib", std::to_string(reserve_mib)});
  s.address = test::listening_address(*s.proc, 120s);
  auto boot = s.proc->wait_for_line("bootstrap admin token", 30s);
  REQUIRE(boot);
  s.admin = test::token_in(*boot);
  auto r = test::http_call(s.address, "POST", "/v1/admin/tokens",
                           R"({"role":"agent","center":"410100"})", bearer(s.admin));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  s.agent = std::string(boost::json::parse(r.body).as_object()["token"].as_string());
  return s;
}

test::http_reply post_case(const server& s, int i) {
  const std::string body = R"({"channel":"phone","center":"410100","caller":{"phone":"1380000)" +
                           std::to_string(1000 + i) + R"(","name":"测试"},"content":"case )" +
                           std::to_string(i) + R"("})";
  // A command may wait for the stalled projections (up to 10 s each) before it is refused.
  return test::http_call(s.address, "POST", "/v1/cases", body, bearer(s.agent), 90s);
}

// Every acknowledged case is there once: its content, version 1, one event in its history.
void check_cases(const server& s, const std::map<std::string, std::string>& acked) {
  for (const auto& [key, content] : acked) {
    const std::string& id = key;
    auto r = test::http_call(s.address, "GET", "/v1/cases/" + id, {}, bearer(s.agent));
    REQUIRE_MESSAGE(r.status == 200, id << ": " << r.body);
    CHECK(r.json().as_object().at("content").as_string() == content);
    CHECK(r.json().as_object().at("version").as_int64() == 1);
    auto h = test::http_call(s.address, "GET", "/v1/cases/" + id + "/events", {}, bearer(s.agent));
    REQUIRE(h.status == 200);
    CHECK(h.json().as_object().at("events").as_array().size() == 1);
  }
}

// The case answered 201, with the content it was sent with (`i`: the answer may withhold it).
void acknowledge(std::map<std::string, std::string>& acked, const test::http_reply& r, int i) {
  acked[std::string(r.json().as_object().at("id").as_string())] = "case " + std::to_string(i);
}

}  // namespace

TEST_CASE("below its disk reserve the server refuses commands, serves reads, and resumes") {
  small_disk disk(160);
  // Above what the server's three databases may preallocate at once (each new write-ahead log
  // file takes up to a third of --memory-mib, 32 here, before it holds anything): with less,
  // the writes of the second before the guard reads the disk again can meet a full disk first.
  const std::uint64_t reserve_mib = 64;
  server s = start_server(disk.sub("data"), reserve_mib);
  std::map<std::string, std::string> acked;
  for (int i = 0; i < 20; ++i) {
    auto r = post_case(s, i);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    acknowledge(acked, r, i);
  }

  disk.fill((reserve_mib - 8) * mib);  // below the reserve, with room for what is in flight
  test::http_reply refused;
  REQUIRE_MESSAGE(test::eventually([&] {
                    disk.fill((reserve_mib - 8) * mib);
                    refused = post_case(s, 100);
                    return refused.status == 503;
                  }),
                  "still " << refused.status << ": " << refused.body);
  INFO(refused.body);
  CHECK(refused.header("content-type") == "application/problem+json");
  CHECK(refused.header("retry-after") == "30");
  const auto& problem = refused.json().as_object();
  CHECK(problem.at("type").as_string() == "/problems/disk-full");
  const std::string detail(problem.at("detail").as_string());
  CHECK(detail.find("below the 64 MiB") != std::string::npos);
  CHECK(detail.find("nothing was written") != std::string::npos);
  // Every write is refused, not only new cases: a token too.
  auto token = test::http_call(s.address, "POST", "/v1/admin/tokens",
                               R"({"role":"agent","center":"410100"})", bearer(s.admin));
  CHECK(token.status == 503);
  // Reads go on, and the server says why it refuses.
  check_cases(s, acked);
  auto ready = test::http_call(s.address, "GET", "/readyz");
  REQUIRE(ready.status == 200);
  CHECK(ready.json().as_object().at("checks").as_object().at("disk").as_string() ==
        "below the reserve: commands refused");
  auto metrics = test::http_call(s.address, "GET", "/metrics", {}, bearer(s.admin));
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("caseline_disk_commands_refused 1") != std::string::npos);
  // The guard flips before it logs: the line may reach the output just after the answer.
  CHECK(test::eventually(
      [&] { return s.proc->output().find("\"disk_below_reserve\"") != std::string::npos; }));

  disk.empty();
  test::http_reply accepted;
  REQUIRE_MESSAGE(test::eventually([&] {
                    accepted = post_case(s, 101);
                    return accepted.status == 201;
                  }),
                  "still " << accepted.status << ": " << accepted.body);
  acknowledge(acked, accepted, 101);
  check_cases(s, acked);
  CHECK(acked.size() == 21);
  CHECK(test::eventually(
      [&] { return s.proc->output().find("\"disk_above_reserve\"") != std::string::npos; }));
}

TEST_CASE("the embedded log on a full disk fails appends with errors, and appends once freed") {
  small_disk disk(160);  // RocksDB resumes once the free space holds a memtable (64 MiB)
  auto log = events::open_embedded_log({disk.sub("log"), 2});
  REQUIRE(log.has_value());
  const auto append = [&](int i) {
    std::promise<result<events::log_position>> done;
    auto answer = done.get_future();
    log.value()->append("case-" + std::to_string(i), std::string(std::size_t{64} * 1024, 'x'),
                        [&done](result<events::log_position> r) { done.set_value(std::move(r)); });
    return answer.get();
  };
  REQUIRE(append(0).has_value());
  disk.fill(0);
  // Every append from here on fails (RocksDB's own diagnostic log among what can no longer be
  // written: its default logger stopped the process at its second failed line).
  REQUIRE(events::resume_attempts_of(*log.value()) == std::uint64_t{0});
  const auto started = std::chrono::steady_clock::now();
  int failed = 0;
  int unknown = 0, disk_full = 0;
  for (int i = 1; i <= 4000 && failed < 50; ++i) {
    auto r = append(i);
    if (r) continue;
    ++failed;
    if (r.error().code == events::errc::outcome_unknown) ++unknown;
    if (r.error().code == events::errc::disk_full) ++disk_full;
  }
  CHECK(failed == 50);
  // The write that failed: its outcome unknown (the WAL may hold it); the rest refused for the
  // full disk, each told so, not each trying to resume the database again: one try at once,
  // then at most one a second.
  CHECK(unknown + disk_full == 50);
  CHECK(disk_full >= 48);
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
          .count();
  const auto attempts = events::resume_attempts_of(*log.value());
  REQUIRE(attempts.has_value());
  CHECK(*attempts >= 1);
  CHECK_MESSAGE(*attempts <= static_cast<std::uint64_t>(seconds) + 2,
                *attempts << " resume tries in " << seconds << " s");
  disk.empty();
  // RocksDB recovers by itself once the free space holds what it needs (its own check of the
  // disk, every few seconds), while the log's tries meanwhile find it busy: from that recovery
  // on, an append is written at once, not refused until the log's next try.
  const auto recoveries = events::error_recoveries_of(*log.value());
  REQUIRE(recoveries.has_value());
  std::string last;
  int refused_after_recovery = 0;
  CHECK_MESSAGE(test::eventually(
                    [&] {
                      const bool recovered =
                          events::error_recoveries_of(*log.value()).value() > *recoveries;
                      auto r = append(1000);
                      if (!r) {
                        last = r.error().message();
                        if (recovered) ++refused_after_recovery;
                      }
                      return r.has_value();
                    },
                    60s),
                last);
  CHECK(events::error_recoveries_of(*log.value()).value() > *recoveries);
  CHECK(refused_after_recovery == 0);
}

TEST_CASE("the projections stall on a full disk and catch up by themselves once it is freed") {
  // Before any thread starts: RocksDB's background threads must see the small disk's mount.
  enter_private_mount_namespace();
  // The log on the ordinary temporary disk, the store alone on the small one: the store's writes
  // are the ones the full disk refuses.
  test::temp_dir dir;
  auto cal = core::calendar::load_file(test::source_dir() + "/core/data/cn-workdays.txt");
  REQUIRE(cal.has_value());
  auto log = events::open_embedded_log({dir.sub("log"), 2});
  REQUIRE(log.has_value());
  REQUIRE(tools::generate_log(*log.value(), cal.value(), 20'000, 12328));

  small_disk disk(96);
  auto st = projections::store::open(disk.sub("store"));
  REQUIRE(st.has_value());
  disk.fill(0);
  // A flush needs a new file, which the full disk refuses; RocksDB then refuses every write until
  // it resumes (the log's events alone would fit the WAL the store had already allocated).
  REQUIRE(st.value()->db().Put({}, st.value()->db().DefaultColumnFamily(), "a", "b").ok());
  CHECK_FALSE(st.value()->flush());
  projections::projection_set set(*st.value());
  projections::projection_runner runner(*log.value(), *st.value(), set.all());
  REQUIRE(runner.start());
  REQUIRE(test::eventually([&] { return runner.stalled().has_value(); }, 60s));
  INFO(runner.stalled()->message());
  CHECK(runner.stalled()->code == events::errc::disk_full);
  CHECK_FALSE(runner.failure());
  // A caller waiting for the projections gets the stall's error at once, not a timeout at its
  // deadline: a command answers "retry" while the disk is full.
  const auto waited = runner.catch_up(std::chrono::minutes(10));
  REQUIRE_FALSE(waited);
  CHECK(waited.error().code == events::errc::disk_full);
  CHECK_FALSE(runner.wait_applied({events::partition_id{0}, events::log_offset{0}},
                                  std::chrono::minutes(10)));
  CHECK(runner.not_applied(make_error(events::errc::unavailable, "behind")).code ==
        events::errc::disk_full);
  // The server's start and a partition's hand-over wait through a stall instead, to their
  // deadline: nobody to answer, and the stall ends by itself.
  using stall = projections::projection_runner::on_stall;
  const auto through = runner.catch_up(std::chrono::milliseconds(300), stall::wait);
  REQUIRE_FALSE(through);
  CHECK(through.error().code == events::errc::timed_out);

  disk.empty();
  // The stall ends at the runner's next try (at most 2 s after the space is freed); a catch-up
  // that waits through it returns once the batch is written.
  REQUIRE(runner.catch_up(120s, stall::wait));
  CHECK_FALSE(runner.stalled());
  CHECK_FALSE(runner.failure());
  runner.stop();

  // Nothing skipped, nothing applied twice: the store is the one a replay on a roomy disk writes.
  {
    auto reference = projections::store::open(dir.sub("reference"));
    REQUIRE(reference.has_value());
    projections::projection_set ref_set(*reference.value());
    REQUIRE(projections::replay(*log.value(), *reference.value(), ref_set.all(), {}));
  }
  st.value().reset();
  auto differences = projections::compare_stores(disk.sub("store"), dir.sub("reference"),
                                                 projections::log_derived_families());
  REQUIRE(differences.has_value());
  CHECK(differences.value().empty());
}
