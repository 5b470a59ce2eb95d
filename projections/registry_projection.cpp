#include "projections/registry_projection.h"

#include <sstream>

#include <cereal/archives/portable_binary.hpp>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/codec.h"
#include "events/errc.h"
#include "events/storage/status.h"

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
    reg.apply(core::unit_registered{u.id, u.name, u.center, u.contact, u.contact_sealed});
  }
  if (!it->status().ok()) load_error_ = storage::from_rocksdb(it->status(), "read registry");
  std::string meta;
  const auto st = store_.db().Get(rocksdb::ReadOptions(), store_.cf(family::registry),
                                  std::string(meta_key), &meta);
  if (st.ok()) {
    if (auto r = decode_values(meta, head_.sequence, head_.last_hash); !r) load_error_ = r.error();
  } else if (!st.IsNotFound()) {
    load_error_ = storage::from_rocksdb(st, "read registry head");
  }
  current_ = std::make_shared<const core::registry>(std::move(reg));
}

void registry_projection::begin_batch() { pending_.reset(); }

result<void> registry_projection::apply_registry(const decoded_registry_event& e,
                                                 rocksdb::WriteBatch& batch) {
  const auto* reg = std::get_if<core::unit_registered>(&e.event);
  if (reg == nullptr) return success();  // another reference stream's (the calendar's)
  if (!pending_) {
    std::lock_guard lk(mu_);
    pending_ = *current_;
    pending_head_ = head_;
  }
  if (auto ok = check_follows(pending_head_, e, registry_writer::stream_key); !ok) return ok;
  pending_->apply(*reg);
  const core::unit_info& u = *pending_->unit(reg->unit);
  batch.Put(store_.cf(family::registry), std::string(unit_prefix) + reg->unit(), encode_values(u));
  pending_head_ = advance(e);
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

stream_head registry_projection::head() const {
  std::lock_guard lk(mu_);
  return head_;
}

result<core::unit_info> registry_writer::put(const core::unit_registered& e,
                                             const events::actor& by,
                                             const std::string& correlation_id,
                                             const std::function<result<void>(const core::registry&)>& allowed) {
  std::lock_guard lk(mu_);
  // Decide against everything the log holds for the registry (also writes whose outcome was
  // unknown).
  if (auto ok = catch_up_stream(log_, runner_, stream_key, write_timeout); !ok) return ok.error();
  const auto current = registry_.snapshot();
  if (allowed)
    if (auto ok = allowed(*current); !ok) return ok.error();
  if (auto ok = current->check(e); !ok) return ok.error();
  auto pos = append_reference_event(log_, runner_, stream_key, registry_.head(),
                                    core::registry_event{e}, by, correlation_id, clock_.now(),
                                    write_timeout);
  if (!pos) return pos.error();
  const core::unit_info* u = registry_.snapshot()->unit(e.unit);
  if (u == nullptr) return make_error(events::errc::fatal, "a registered unit is missing");
  return *u;
}

}  // namespace caseline::projections
