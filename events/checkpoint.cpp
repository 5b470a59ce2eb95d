#include "events/checkpoint.h"

#include <algorithm>
#include <future>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "events/detail/big_endian.h"
#include "events/errc.h"

namespace caseline::events {

namespace {

constexpr std::size_t hash_size = 32;

std::string where(partition_id p, std::int64_t offset) {
  return "partition " + std::to_string(p()) + " offset " + std::to_string(offset);
}

}  // namespace

std::string chain_running_hash(std::string_view previous, partition_id p, log_offset n,
                               std::string_view key, std::string_view value) {
  std::string input;
  input.reserve(previous.size() + 4 + 8 + 4 + key.size() + hash_size);
  input += previous;
  detail::put_be32(input, static_cast<std::uint32_t>(p()));
  detail::put_be64(input, static_cast<std::uint64_t>(n()));
  detail::put_be32(input, static_cast<std::uint32_t>(key.size()));
  input += key;
  input += sha256(value);
  return sha256(input);
}

partition_hasher::partition_hasher(partition_id p)
    : partition_(p), next_(0), hash_(hash_size, '\0') {}

partition_hasher::partition_hasher(partition_id p, log_offset last, std::string hash)
    : partition_(p), next_(last() + 1), hash_(std::move(hash)) {}

result<void> partition_hasher::add(const log_record& r) {
  if (r.position.partition != partition_ || r.position.offset != next_)
    return make_error(errc::corrupt_record,
                      "running hash of partition " + std::to_string(partition_()) +
                          ": expected offset " + std::to_string(next_()) + ", got " +
                          where(r.position.partition, r.position.offset()));
  hash_ = chain_running_hash(hash_, partition_, next_, r.key, r.value);
  next_ = log_offset{next_() + 1};
  return success();
}

// ------------------------------------------------------------------------------- checkpointer

checkpointer::checkpointer(event_log& log, checkpoint_options options)
    : log_(log), options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return from_chrono(std::chrono::system_clock::now()); };
  if (options_.read_batch == 0) options_.read_batch = 1;
}

// The last checkpoint before `end`, read backwards a window at a time: checkpoints are
// periodic, so it is usually in the first window. None: hash from offset 0.
result<checkpointer::partition_state> checkpointer::resume(partition_id p, log_offset end) {
  std::int64_t hi = end();
  std::size_t window = options_.read_batch;
  while (hi > 0) {
    const std::int64_t lo = std::max<std::int64_t>(0, hi - static_cast<std::int64_t>(window));
    // Forward through the window a batch at a time, keeping only the last checkpoint seen.
    std::optional<log_record> last;
    for (std::int64_t from = lo; from < hi;) {
      const auto want = std::min<std::size_t>(options_.read_batch, static_cast<std::size_t>(hi - from));
      auto got = log_.read(p, log_offset{from}, want, std::chrono::milliseconds{0});
      if (!got) return std::move(got).error();
      if (got.value().empty())
        return make_error(errc::timed_out, "checkpointer: nothing read at " + where(p, from));
      for (auto& r : got.value()) {
        if (r.position.offset() >= hi) break;
        if (is_checkpoint(r.value)) last = std::move(r);
      }
      from = got.value().back().position.offset() + 1;
    }
    if (last) {
      auto cp = decode_checkpoint(last->value);
      if (!cp)
        return make_error(cp.error().code, "checkpointer: " + where(p, last->position.offset()) +
                                               ": " + cp.error().detail);
      if (cp.value().partition != p || cp.value().last_offset() >= last->position.offset())
        return make_error(errc::corrupt_record, "checkpointer: the checkpoint at " +
                                                    where(p, last->position.offset()) +
                                                    " does not describe its own partition");
      return partition_state{
          partition_hasher(p, cp.value().last_offset, std::move(cp.value().running_hash)),
          last->position.offset()};
    }
    hi = lo;
    window = std::min<std::size_t>(window * 2, std::size_t{1} << 20);
  }
  return partition_state{partition_hasher(p), -1};
}

result<bool> checkpointer::tick_partition(partition_id p, checkpoint_tick& report) {
  auto end = log_.end_offset(p);
  if (!end) return std::move(end).error();
  const std::int64_t e = end.value()();
  if (e == 0) return false;
  auto found = state_.find(p());
  if (found == state_.end()) {
    auto resumed = resume(p, end.value());
    if (!resumed) return std::move(resumed).error();
    found = state_.emplace(p(), std::move(resumed).value()).first;
  }
  partition_state& st = found->second;
  if (st.last_checkpoint_at >= e - 1) return false;  // nothing since the last checkpoint

  while (st.hasher.next()() < e) {
    const std::int64_t from = st.hasher.next()();
    const auto want = std::min<std::size_t>(options_.read_batch, static_cast<std::size_t>(e - from));
    auto got = log_.read(p, st.hasher.next(), want, std::chrono::milliseconds{0});
    if (!got) return std::move(got).error();
    if (got.value().empty())
      return make_error(errc::timed_out, "checkpointer: nothing read at " + where(p, from));
    for (const auto& r : got.value()) {
      if (r.position.offset() >= e) break;
      if (auto added = st.hasher.add(r); !added) return std::move(added).error();
      ++report.records_hashed;
    }
  }

  const checkpoint cp{p, log_offset{e - 1}, st.hasher.hash(), options_.now()};
  auto done = std::make_shared<std::promise<result<log_position>>>();
  auto acked = done->get_future();
  log_.append_to(p, options_.key, encode_checkpoint(cp),
                 [done](result<log_position> r) { done->set_value(std::move(r)); });
  if (acked.wait_for(options_.append_timeout) != std::future_status::ready)
    return make_error(errc::timed_out, "checkpoint of partition " + std::to_string(p()) +
                                           " not acknowledged in time");
  auto pos = acked.get();
  if (!pos) return std::move(pos).error();
  st.last_checkpoint_at = pos.value().offset();
  ++report.written;
  return true;
}

result<checkpoint_tick> checkpointer::tick() {
  std::lock_guard lk(mu_);
  checkpoint_tick report;
  std::optional<error> first;
  for (std::int32_t p = 0; p < log_.partition_count(); ++p) {
    // Only the partition's writer checkpoints it (a Kafka group: its owner). Another owner may
    // have written meanwhile: a partition taken back resumes from the log's last checkpoint.
    if (!log_.owns(partition_id{p})) {
      state_.erase(p);
      continue;
    }
    auto r = tick_partition(partition_id{p}, report);
    if (!r) {
      // The checkpoint may or may not be in the log: rebuild this partition's state from it.
      state_.erase(p);
      const bool log_down = r.error().code == errc::unavailable ||
                            r.error().code == errc::timed_out || r.error().code == errc::closed;
      if (!first) first = std::move(r).error();
      // The log did not answer: the other partitions would wait as long and fail the same way
      // (a stop must not wait for each of them in turn). The next tick tries them all again.
      if (log_down) break;
    }
  }
  if (first) return *first;
  return report;
}

// --------------------------------------------------------------------------- the periodic task

periodic_task start_checkpoints(checkpointer& c, std::chrono::milliseconds interval,
                                std::function<void(const error&)> on_error) {
  return periodic_task("checkpoints", {.interval = interval, .at_stop = true},
                       [&c, on_error = std::move(on_error)] {
                         auto r = c.tick();
                         if (!r && on_error) on_error(r.error());
                       });
}

}  // namespace caseline::events
