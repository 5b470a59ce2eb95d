#pragma once

// Shared by the tamper-evidence tests: real case histories written through the real write side
// (projections::case_writer over the embedded log or Kafka, a manual clock), and the embedded
// log's RocksDB opened directly to alter its bytes the way an intruder with disk access would.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include "core/calendar.h"
#include "core/decide.h"
#include "events/embedded_event_log.h"
#include "events/event_log.h"
#include "projections/case_projection.h"
#include "projections/case_writer.h"
#include "projections/clock.h"
#include "projections/runner.h"
#include "projections/store.h"
#include "tests/support/environment.h"
#include "tests/support/temp_dir.h"

namespace caseline::audit_testing {

using namespace std::chrono_literals;
using test::temp_dir;

using test::source_dir;

// An instant given as Shanghai local time "YYYY-MM-DDTHH:MM".
inline timestamp local(const std::string& text) {
  auto t = parse_rfc3339(text + ":00+08:00");
  if (!t) throw std::invalid_argument("bad time literal " + text);
  return *t;
}

inline core::actor agent() {
  return core::actor{user_id{"agent@410100"}, core::role::agent, center_code{"410100"}, {}};
}
inline core::actor unit_staff() {
  return core::actor{user_id{"staff@u-zz-yg"}, core::role::unit_staff, {}, unit_id{"u-zz-yg"}};
}

inline core::receive a_call(const std::string& content) {
  return core::receive{core::channel::phone,
                       center_code{"410100"},
                       core::caller_info{"13800000000", "张三"},
                       content,
                       std::nullopt,
                       {},
                       ""};
}

// The write side over a log: store, case projection, runner and case_writer, with a manual
// clock. The log is either opened here (embedded, under <dir>/log, as `caseline replay --data
// <dir>` opens it) or given (Kafka).
class history {
 public:
  explicit history(const std::filesystem::path& dir, std::int32_t partitions = 4,
                   std::unique_ptr<events::event_log> log = {})
      : clock_(local("2025-03-03T09:00")) {
    auto cal = core::calendar::load_file(source_dir() + "/core/data/cn-workdays.txt");
    REQUIRE_MESSAGE(cal.has_value(), (cal ? std::string{} : cal.error().message()));
    cal_ = std::move(cal).value();
    reg_ = core::registry::henan();
    reg_.apply(core::unit_registered{unit_id{"u-zz-yg"}, "郑州市道路运输管理局",
                                     center_code{"410100"},
                                     core::unit_contact{"李四", "13900000001", "", ""}});
    if (!log) {
      auto opened = events::open_embedded_log({(dir / "log").string(), partitions});
      REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message()));
      log = std::move(opened).value();
    }
    log_ = std::move(log);
    auto s = projections::store::open((dir / "store").string());
    REQUIRE_MESSAGE(s.has_value(), (s ? std::string{} : s.error().message()));
    store_ = std::move(s).value();
    cases_ = std::make_unique<projections::case_projection>(*store_);
    runner_ = std::make_unique<projections::projection_runner>(
        *log_, *store_, std::vector<projections::projection*>{cases_.get()});
    REQUIRE(runner_->start().has_value());
    core::context base;
    base.cal = &cal_;
    base.reg = &reg_;
    writer_ =
        std::make_unique<projections::case_writer>(*log_, *store_, *runner_, nullptr, base, clock_);
  }

  ~history() { close(); }

  // Decides and appends `cmd` at `at`; the outcome must be a success.
  projections::command_outcome run(std::optional<case_id> id, core::command cmd, core::actor who,
                                   timestamp at) {
    clock_.set(at);
    // Distinct, fixed-width correlation ids: a test can find and alter one in the stored bytes.
    std::string correlation = std::to_string(++commands_);
    correlation =
        "corr-" + std::string(6 - std::min<std::size_t>(6, correlation.size()), '0') + correlation;
    projections::command_request req{
        std::move(id), std::move(cmd), std::move(who), std::move(correlation), {}, {}, {}, {}};
    std::promise<result<projections::command_outcome>> done;
    auto f = done.get_future();
    writer_->submit(std::move(req), [&done](result<projections::command_outcome> r) {
      done.set_value(std::move(r));
    });
    REQUIRE(f.wait_for(30s) == std::future_status::ready);
    auto r = f.get();
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message()));
    return std::move(r).value();
  }

  // The life of one case: received, classified, transferred, replied (four records, four events).
  // Returns its id.
  std::string one_case(const std::string& content, const std::string& day) {
    auto received = run(std::nullopt, a_call(content), agent(), local(day + "T10:00"));
    const case_id id = received.state.id;
    run(id,
        core::classify{
            core::category::inquiry, core::domain::road_transport, {"出租车"}, false, ""},
        agent(), local(day + "T11:00"));
    run(id, core::transfer{unit_id{"u-zz-yg"}}, agent(), local(day + "T15:00"));
    run(id, core::reply{"facts checked", "site visit", "the regulation", true}, unit_staff(),
        local(day + "T17:00"));
    return id();
  }

  events::event_log& log() { return *log_; }
  projections::projection_runner& runner() { return *runner_; }

  // Waits until the projection has applied everything in the log.
  void catch_up() {
    auto r = runner_->catch_up(30s);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message()));
  }

  // Closes everything (writer, runner, store, log) so that the folder can be opened directly.
  void close() {
    writer_.reset();
    runner_.reset();
    cases_.reset();
    store_.reset();
    log_.reset();
  }

 private:
  projections::manual_clock clock_;
  int commands_{0};
  core::calendar cal_;
  core::registry reg_;
  std::unique_ptr<events::event_log> log_;
  std::unique_ptr<projections::store> store_;
  std::unique_ptr<projections::case_projection> cases_;
  std::unique_ptr<projections::projection_runner> runner_;
  std::unique_ptr<projections::case_writer> writer_;
};

// The embedded log's RocksDB, opened directly (its layout: events::embedded_layout).
class raw_log {
 public:
  explicit raw_log(const std::filesystem::path& dir) {
    rocksdb::DBOptions o;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs{
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {std::string(events::embedded_layout::records_family), rocksdb::ColumnFamilyOptions()},
        {std::string(events::embedded_layout::journal_family), rocksdb::ColumnFamilyOptions()}};
    rocksdb::DB* raw = nullptr;
    const auto s = rocksdb::DB::Open(o, (dir / "log").string(), cfs, &handles_, &raw);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    db_.reset(raw);
  }
  ~raw_log() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  raw_log(const raw_log&) = delete;
  raw_log& operator=(const raw_log&) = delete;

  static std::string key(std::int32_t p, std::int64_t offset) {
    return events::embedded_layout::record_key{p, offset}.encode();
  }

  // The stored value (key length, key, record bytes) of a record.
  std::string get(std::int32_t p, std::int64_t offset) {
    std::string v;
    const auto s = db_->Get(rocksdb::ReadOptions(), handles_[1], key(p, offset), &v);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    return v;
  }
  void put(std::int32_t p, std::int64_t offset, const std::string& value) {
    const auto s = db_->Put(rocksdb::WriteOptions(), handles_[1], key(p, offset), value);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  void erase(std::int32_t p, std::int64_t offset) {
    const auto s = db_->Delete(rocksdb::WriteOptions(), handles_[1], key(p, offset));
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  // Number of records of partition p (offsets are dense from 0).
  std::int64_t end(std::int32_t p) {
    std::int64_t n = 0;
    std::string v;
    while (db_->Get(rocksdb::ReadOptions(), handles_[1], key(p, n), &v).ok()) ++n;
    return n;
  }
  // Inserts `value` at `offset`, moving every later record one up (offsets stay dense).
  void insert(std::int32_t p, std::int64_t offset, const std::string& value) {
    for (std::int64_t o = end(p) - 1; o >= offset; --o) put(p, o + 1, get(p, o));
    put(p, offset, value);
  }
  // Removes the record at `offset`, moving every later record one down (offsets stay dense).
  void remove(std::int32_t p, std::int64_t offset) {
    const std::int64_t n = end(p);
    for (std::int64_t o = offset; o + 1 < n; ++o) put(p, o, get(p, o + 1));
    erase(p, n - 1);
  }
  void swap(std::int32_t p, std::int64_t a, std::int64_t b) {
    const std::string va = get(p, a);
    const std::string vb = get(p, b);
    put(p, a, vb);
    put(p, b, va);
  }

 private:
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace caseline::audit_testing
