#include "projections/registry_projection.h"

#include <future>
#include <sstream>

#include <cereal/archives/portable_binary.hpp>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/codec.h"
#include "events/detail/rocksdb_status.h"
#include "events/errc.h"

namespace caseline::projections {

namespace {

constexpr std::string_view unit_prefix = "unit/";
constexpr std::string_view meta_key = "meta";
constexpr std::chrono::seconds write_timeout{10};

template <class... T>
std::string encode_values(const T&... values) {
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive ar(out);
    const std::uint32_t version = 1;
    ar(version, values...);
  }
  return std::move(out).str();
}

template <class... T>
result<void> decode_values(const std::string& bytes, T&... values) {
  try {
    std::istringstream in(bytes);
    cereal::PortableBinaryInputArchive ar(in);
    std::uint32_t version = 0;
    ar(version, values...);
    return success();
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("registry row: ") + ex.what());
  }
}

}  // namespace

registry_projection::registry_projection(store& s) : store_(s) {
  core::registry reg = core::registry::henan();
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db().NewIterator(rocksdb::ReadOptions(), store_.cf(family::registry)));
  for (it->Seek(unit_prefix); it->Valid() && it->key().starts_with(unit_prefix); it->Next()) {
    core::unit_info u;
    if (auto r = decode_values(it->value().ToString(), u); !r) {
      load_error_ = r.error();
      break;
    }
    reg.apply(core::unit_registered{u.id, u.name, u.center, u.contact});
  }
  if (!it->status().ok()) load_error_ = events::detail::from_rocksdb(it->status(), "read registry");
  std::string meta;
  const auto st = store_.db().Get(rocksdb::ReadOptions(), store_.cf(family::registry),
                                  std::string(meta_key), &meta);
  if (st.ok()) {
    if (auto r = decode_values(meta, head_.sequence, head_.last_hash); !r) load_error_ = r.error();
  } else if (!st.IsNotFound()) {
    load_error_ = events::detail::from_rocksdb(st, "read registry head");
  }
  current_ = std::make_shared<const core::registry>(std::move(reg));
}

void registry_projection::begin_batch() { pending_.reset(); }

result<void> registry_projection::apply_registry(const decoded_registry_event& e,
                                                 rocksdb::WriteBatch& batch) {
  if (!pending_) {
    std::lock_guard lk(mu_);
    pending_ = *current_;
    pending_head_ = head_;
  }
  if (e.env.sequence() != pending_head_.sequence + 1 || e.env.prev_hash != pending_head_.last_hash)
    return make_error(events::errc::corrupt_record,
                      fmt::format("registry event {} does not follow event {} of the registry",
                                  e.env.event_id, pending_head_.sequence));
  if (const auto* reg = std::get_if<core::unit_registered>(&e.event)) {
    pending_->apply(*reg);
    const core::unit_info& u = *pending_->unit(reg->unit);
    batch.Put(store_.cf(family::registry), std::string(unit_prefix) + reg->unit(),
              encode_values(u));
  }
  pending_head_.sequence = e.env.sequence();
  pending_head_.last_hash = events::sha256(e.stored_bytes);
  batch.Put(store_.cf(family::registry), std::string(meta_key),
            encode_values(pending_head_.sequence, pending_head_.last_hash));
  return success();
}

void registry_projection::end_batch(bool committed) {
  if (committed && pending_) {
    std::lock_guard lk(mu_);
    current_ = std::make_shared<const core::registry>(std::move(*pending_));
    head_ = pending_head_;
  }
  pending_.reset();
}

std::shared_ptr<const core::registry> registry_projection::snapshot() const {
  std::lock_guard lk(mu_);
  return current_;
}

registry_projection::stream_head registry_projection::head() const {
  std::lock_guard lk(mu_);
  return head_;
}

result<core::unit_info> registry_writer::put(const core::unit_registered& e,
                                             const events::actor& by,
                                             const std::string& correlation_id) {
  std::lock_guard lk(mu_);
  // Decide against everything the log holds for the registry (also writes whose outcome was
  // unknown): wait for the projection to apply the registry partition's end.
  const auto partition = events::partition_for(stream_key, log_.partition_count());
  auto end = log_.end_offset(partition);
  if (!end) return end.error();
  if (end.value()() > 0 &&
      !runner_.wait_applied({partition, events::log_offset{end.value()() - 1}}, write_timeout))
    return make_error(events::errc::unavailable, "the registry projection is behind the log");
  if (auto ok = registry_.snapshot()->check(e); !ok) return ok.error();

  const auto h = registry_.head();
  const auto body = core::encode(core::registry_event{e});
  events::envelope env;
  env.sequence = sequence_number{h.sequence + 1};
  env.event_id = fmt::format("{}#{}", stream_key, env.sequence());
  env.case_id = case_id{stream_key};
  env.type_id = body.type_id;
  env.version = body.version;
  env.recorded_at = clock_.now();
  env.occurred_at = env.recorded_at;
  env.by = by;
  env.correlation_id = correlation_id;
  env.prev_hash = h.last_hash;
  env.body = body.bytes;
  events::record rec;
  rec.events.push_back(events::encode_envelope(env));

  auto acked = std::make_shared<std::promise<result<events::log_position>>>();
  auto future = acked->get_future();
  log_.append(stream_key, events::encode_record(rec),
              [acked](result<events::log_position> r) { acked->set_value(std::move(r)); });
  if (future.wait_for(write_timeout) != std::future_status::ready)
    return make_error(events::errc::timed_out, "the log did not acknowledge the registration");
  auto pos = future.get();
  if (!pos) return pos.error();
  if (!runner_.wait_applied(pos.value(), write_timeout))
    return make_error(events::errc::unavailable, "the registry projection is behind the log");
  const core::unit_info* u = registry_.snapshot()->unit(e.unit);
  if (u == nullptr) return make_error(events::errc::fatal, "a registered unit is missing");
  return *u;
}

}  // namespace caseline::projections
