#include "projections/access_log.h"

#include <atomic>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "events/errc.h"
#include "events/storage/scan.h"
#include "events/storage/status.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace {

std::atomic<std::uint64_t> sequence{0};

thread_local access_batch* open_batch = nullptr;

// An entry's key and value. Time first, so entries scan in order; a process-local sequence
// keeps reads of the same millisecond in order, and the token and correlation id keep keys
// distinct across restarts.
std::pair<std::string, std::string> encode(const access_entry& e) {
  const std::uint32_t version = 1;
  return {keys::access{e.at.ms, sequence.fetch_add(1), e.token_id, e.correlation_id}.encode(),
          core::binary_encode(version, e.at.ms, e.token_id, e.role, e.case_id, e.route,
                              e.correlation_id)};
}

// The staged entries in one WriteBatch.
result<void> write_entries(store& s, const std::vector<std::pair<std::string, std::string>>& kv) {
  rocksdb::WriteBatch wb;
  for (const auto& [key, value] : kv) wb.Put(s.cf(family::access_log), key, value);
  const auto status = s.db().Write(rocksdb::WriteOptions(), &wb);
  if (!status.ok()) return storage::from_rocksdb(status, "record access");
  return success();
}

}  // namespace

access_batch::access_batch(store& s) : store_(s), outer_(open_batch) { open_batch = this; }

access_batch::~access_batch() { commit(); }

access_batch* access_batch::open_for(const store& s) {
  for (access_batch* b = open_batch; b; b = b->outer_)
    if (&b->store_ == &s) return b;
  return nullptr;
}

void access_batch::commit() {
  if (committed_) return;
  committed_ = true;
  // Closed first: the answers below record their own reads (if any) at once.
  if (open_batch == this) open_batch = outer_;
  result<void> written = success();
  if (!staged_.empty()) {
    written = write_entries(store_, staged_);
    staged_.clear();
  }
  std::vector<answer> held = std::move(held_);
  held_.clear();
  for (auto& a : held) a(written);
}

void access_batch::after_recorded(answer a) {
  if (open_batch) return open_batch->held_.push_back(std::move(a));
  a(success());
}

result<void> access_log::record(const access_entry& e) {
  auto [key, bytes] = encode(e);
  if (access_batch* b = access_batch::open_for(store_)) {
    b->staged_.emplace_back(std::move(key), std::move(bytes));
    return success();
  }
  const auto s =
      store_.db().Put(rocksdb::WriteOptions(), store_.cf(family::access_log), key, bytes);
  if (!s.ok()) return storage::from_rocksdb(s, "record access");
  return success();
}

bool access_gatherer::stage(const access_entry& e, answer a) {
  auto kv = encode(e);
  std::lock_guard lk(mu_);
  staged_.push_back(std::move(kv));
  held_.push_back(std::move(a));
  return staged_.size() == 1;
}

void access_gatherer::write() {
  std::vector<std::pair<std::string, std::string>> staged;
  std::vector<answer> held;
  {
    std::lock_guard lk(mu_);
    staged.swap(staged_);
    held.swap(held_);
  }
  if (staged.empty()) return;
  const result<void> written = write_entries(store_, staged);
  for (auto& a : held) a(written);
}

result<std::vector<access_entry>> access_log::of_case(const std::string& case_id) const {
  std::vector<access_entry> out;
  auto r = storage::scan(
      store_.db(), store_.cf(family::access_log), {}, "read access log",
      [&](std::string_view, std::string_view value) -> result<storage::scan_step> {
        try {
          core::binary_input ar(value);
          std::uint32_t version = 0;
          access_entry e;
          ar(version, e.at.ms, e.token_id, e.role, e.case_id, e.route, e.correlation_id);
          if (e.case_id == case_id) out.push_back(std::move(e));
        } catch (const std::exception& ex) {
          return make_error(events::errc::corrupt_record,
                            std::string("access entry: ") + ex.what());
        }
        return storage::scan_step::next;
      });
  if (!r) return r.error();
  return out;
}

}  // namespace caseline::projections
