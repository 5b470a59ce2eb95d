#include "projections/registry_projection.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/binary.h"
#include "core/codec.h"
#include "events/errc.h"
#include "events/storage/scan.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace {

constexpr std::chrono::seconds write_timeout{10};

template <class... T>
std::string encode_values(const T&... values) {
  const std::uint32_t version = 1;
  return core::binary_encode(version, values...);
}

template <class... T>
result<void> decode_values(const std::string& bytes, T&... values) {
  try {
    core::binary_input ar(bytes);
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
  auto units = storage::scan(
      store_.db(), store_.cf(family::registry), {std::string(keys::registry::unit_prefix), {}, {}},
      "read registry", [&](std::string_view, std::string_view value) -> result<storage::scan_step> {
        core::unit_info u;
        if (auto r = decode_values(std::string(value), u); !r) return r.error();
        reg.apply(core::unit_registered{u.id, u.name, u.center, u.contact, u.contact_sealed});
        return storage::scan_step::next;
      });
  if (!units) load_error_ = units.error();
  auto meta = storage::get(store_.db(), store_.cf(family::registry), keys::registry::meta,
                           "read registry head");
  if (!meta) {
    load_error_ = meta.error();
  } else if (meta.value()) {
    if (auto r = decode_values(*meta.value(), head_.sequence, head_.last_hash); !r)
      load_error_ = r.error();
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
  batch.Put(store_.cf(family::registry), keys::registry::unit(reg->unit()), encode_values(u));
  pending_head_ = advance(e);
  batch.Put(store_.cf(family::registry), std::string(keys::registry::meta),
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

result<registration> registry_writer::put(
    const core::unit_registered& e, const events::actor& by, const std::string& correlation_id,
    const std::function<result<void>(const core::registry&)>& allowed) {
  std::lock_guard lk(mu_);
  // Decide against everything the log holds for the registry (also writes whose outcome was
  // unknown).
  if (auto ok = catch_up_stream(log_, runner_, stream_key, write_timeout); !ok) return ok.error();
  const auto current = registry_.snapshot();
  if (allowed)
    if (auto ok = allowed(*current); !ok) return ok.error();
  if (auto ok = current->check(e); !ok) return ok.error();
  auto pos = append_reference_event(log_, runner_, lease_, stream_key, registry_.head(),
                                    core::registry_event{e}, by, correlation_id, clock_.now(),
                                    write_timeout);
  if (!pos) return pos.error();
  const core::unit_info* u = registry_.snapshot()->unit(e.unit);
  if (u == nullptr) return make_error(events::errc::fatal, "a registered unit is missing");
  return registration{*u, pos.value()};
}

}  // namespace caseline::projections
