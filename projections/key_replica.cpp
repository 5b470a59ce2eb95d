#include "projections/key_replica.h"

#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "projections/personal_data.h"
#include "projections/recordings.h"
#include "projections/registry_projection.h"

namespace caseline::projections {

namespace {

using steady = std::chrono::steady_clock;

constexpr std::string_view check_text = "caseline master key check";
constexpr std::string_view check_aad = "caseline.master-key-check.v1";

error wrong_master_key(const std::string& why) {
  return make_error(events::errc::bad_config,
                    "the master key is not the group's: " + why +
                        "; every server of a group needs the same master key "
                        "(--master-key-file or CASELINE_MASTER_KEY)");
}

}  // namespace

key_replica::key_replica(events::key_log& log, key_store& keys, const events::start_offsets& from)
    : log_(log), keys_(keys), progress_(log, "keys", from) {}

result<std::unique_ptr<key_replica>> key_replica::start(events::key_log& log, key_store& keys,
                                                        const events::secret_key& master,
                                                        options o) {
  const auto deadline = steady::now() + o.start;
  auto from = keys.applied_offsets(log.partition_count());
  if (!from) return std::move(from).error();
  std::unique_ptr<key_replica> r{new key_replica(log, keys, from.value())};
  if (auto f = r->progress_.follow(
          [raw = r.get()](std::span<const events::log_record> b) { return raw->on_batch(b); });
      !f)
    return std::move(f).error();
  if (auto c = r->progress_.catch_up_all(deadline); !c) return std::move(c).error();
  if (auto c = r->check_master(
          master, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()));
      !c)
    return std::move(c).error();
  keys.replicate(r.get());
  return r;
}

key_replica::~key_replica() {
  keys_.replicate(nullptr);
  progress_.stop();  // joins: on_batch runs no more
}

std::optional<events::partition_id> key_replica::partition_of(const case_id& id) const {
  if (id().starts_with(staging_key_prefix)) return std::nullopt;
  // The registry's key goes with the registry's records: its owner writes both.
  if (id() == personal_data::registry_key)
    return events::partition_for(registry_writer::stream_key, log_.partition_count());
  return events::partition_for(id(), log_.partition_count());
}

bool key_replica::commit(const case_id& id, const std::string& wrapped,
                         std::function<void(result<void>)>& done) {
  const auto p = partition_of(id);
  if (!p) return false;
  log_.commit(*p, id(), wrapped, [done = std::move(done)](result<events::log_position> r) {
    if (!r) return done(std::move(r).error());
    done(success());
  });
  return true;
}

result<void> key_replica::await(const case_id& id, steady::time_point deadline) {
  const auto p = partition_of(id);
  if (!p) return success();
  return catch_up(*p,
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()));
}

result<void> key_replica::catch_up(events::partition_id p, std::chrono::milliseconds timeout) {
  return progress_.catch_up(p, timeout);
}

std::optional<error> key_replica::failure() const { return progress_.failure(); }

result<void> key_replica::on_batch(std::span<const events::log_record> records) {
  if (records.empty()) return success();
  const events::partition_id p = records.front().position.partition;
  auto r = keys_.apply(p, records);
  if (!r) {
    spdlog::error("{}", log_line("keys_topic_apply_failed",
                                 {{"partition", p()}, {"error", r.error().message()}}));
    progress_.failed(r.error());
  } else {
    progress_.applied(p, records.back().position.offset() + 1);
  }
  return r;
}

result<void> key_replica::check_master(const events::secret_key& master,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  const events::partition_id p0{0};
  auto stored = keys_.stored_record(check_id);
  if (!stored) return std::move(stored).error();
  if (!stored.value()) {
    // The group's first server: its master key becomes the group's. Two first servers at once
    // both publish; compaction keeps the last, and each checks what it applied.
    auto at =
        log_.publish(p0, check_id, events::aes_gcm_seal(master, check_text, check_aad), timeout);
    if (!at) return std::move(at).error();
    if (auto w = progress_.wait_applied(p0, at.value().offset() + 1, deadline); !w) return w;
    spdlog::info("{}",
                 log_line("keys_topic_master_check_published", {{"offset", at.value().offset()}}));
    stored = keys_.stored_record(check_id);
    if (!stored) return std::move(stored).error();
    if (!stored.value()) return wrong_master_key("the check record was not applied");
  }
  auto opened = events::aes_gcm_open(master, *stored.value(), check_aad);
  if (!opened || opened.value() != check_text)
    return wrong_master_key("it does not unwrap the check record of the keys topic");
  return success();
}

}  // namespace caseline::projections
