#include "projections/personal_data.h"

#include "core/personal_fields.h"
#include "events/errc.h"
#include "events/field_crypto.h"
#include "events/record.h"

namespace caseline::projections {

namespace {

// Opens every personal field that `visit` names with the case's key (looked up by the caller);
// a shredded case (no key) empties them instead.
template <class Visit>
result<bool> open_fields(const personal_data::case_key& key, const case_id& id,
                         std::string_view event_id, Visit visit) {
  std::optional<error> failure;
  visit([&](std::string_view field, std::string& value) {
    if (failure || value.empty()) return;
    if (!key) {
      value.clear();
      return;
    }
    auto plain = events::open_field(*key, id(), field, value, event_id);
    if (!plain) {
      failure = make_error(plain.error().code,
                           "case " + id() + " field " + std::string(field) + ": " +
                               plain.error().detail);
      return;
    }
    value = std::move(plain).value();
  });
  if (failure) return *failure;
  return key.has_value();
}

}  // namespace

namespace {

// Seals every personal field of the events with the case's key; event i gets the event id of
// sequence `first_sequence + i`.
void seal_fields(const events::secret_key& key, const case_id& id, std::uint64_t first_sequence,
                 std::vector<core::event>& evs) {
  for (std::size_t i = 0; i < evs.size(); ++i) {
    const std::string event_id = events::event_id_of(id, sequence_number{first_sequence + i});
    core::for_each_personal_field(evs[i], [&](std::string_view field, std::string& value) {
      value = events::seal_field(key, id(), event_id, field, value);
    });
  }
}

}  // namespace

result<void> personal_data::seal(const case_id& id, std::uint64_t first_sequence,
                                 std::vector<core::event>& evs, bool new_case) {
  if (new_case) {
    auto key = keys_.create(id);
    if (!key) return key.error();
    seal_fields(key.value(), id, first_sequence, evs);
    return success();
  }
  // Nothing to seal (a legal hold, a purge): no key needed, so it also works once the case's
  // text was shredded.
  bool any = false;
  for (auto& e : evs)
    core::for_each_personal_field(e, [&](std::string_view, std::string& v) { any = any || !v.empty(); });
  if (!any) return success();
  auto key = keys_.get(id);
  if (!key) return key.error();
  if (!key.value())
    return make_error(events::errc::bad_config,
                      "case " + id() + " has no data key (its text was shredded)");
  seal_fields(*key.value(), id, first_sequence, evs);
  return success();
}

events::secret_key personal_data::seal_new_case(const case_id& id, std::vector<core::event>& evs) {
  auto key = events::secret_key::random();
  seal_fields(key, id, 1, evs);
  return key;
}

void personal_data::store_key(const case_id& id, const events::secret_key& key,
                              key_store::stored_handler done) {
  keys_.store_ahead_of_record(id, key, std::move(done));
}

result<std::vector<std::string>> personal_data::keys_ahead_of_record() {
  std::vector<std::string> ids;
  if (auto r = keys_.each_ahead_of_record([&](std::string_view id) { ids.emplace_back(id); }); !r)
    return r.error();
  return ids;
}

namespace {

template <class F>
void for_each_contact_field(core::unit_contact& c, F f) {
  f("contact.name", c.name);
  f("contact.mobile", c.mobile);
  f("contact.email", c.email);
  f("contact.fax", c.fax);
}

std::string unit_seal_id(const unit_id& u) { return "unit:" + u(); }

}  // namespace

result<void> personal_data::seal(core::unit_registered& e) {
  const case_id reg{registry_key};
  auto existing = keys_.get(reg);
  if (!existing) return existing.error();
  auto key = existing.value() ? result<events::secret_key>(*existing.value()) : keys_.create(reg);
  if (!key) return key.error();
  const std::string seal_id = unit_seal_id(e.unit);
  if (seal_id.size() > 255) return make_error(events::errc::bad_config, "unit id too long");
  for_each_contact_field(e.contact, [&](std::string_view field, std::string& value) {
    if (!value.empty()) value = events::seal_field(key.value(), reg(), seal_id, field, value);
  });
  e.contact_sealed = true;
  return success();
}

result<bool> personal_data::open(core::unit_info& u) {
  if (!u.contact_sealed) return true;
  auto key = keys_.get(case_id{registry_key});
  if (!key) return key.error();
  std::optional<error> failure;
  const std::string seal_id = unit_seal_id(u.id);
  for_each_contact_field(u.contact, [&](std::string_view field, std::string& value) {
    if (failure || value.empty()) return;
    if (!key.value()) {
      value.clear();
      return;
    }
    auto plain = events::open_field(*key.value(), registry_key, field, value, seal_id);
    if (!plain) {
      failure = make_error(plain.error().code, "unit " + u.id() + " field " + std::string(field) +
                                                   ": " + plain.error().detail);
      return;
    }
    value = std::move(plain).value();
  });
  if (failure) return *failure;
  return key.value().has_value();
}

result<bool> personal_data::open(core::case_state& s) {
  auto key = key_of(s.id);
  if (!key) return key.error();
  return open_fields(key.value(), s.id, {},
                     [&](const auto& f) { core::for_each_personal_field(s, f); });
}

result<bool> personal_data::open(const case_id& id, std::string_view event_id, core::event& e) {
  auto key = key_of(id);
  if (!key) return key.error();
  return open(id, key.value(), event_id, e);
}

result<bool> personal_data::open(const case_id& id, const case_key& key, std::string_view event_id,
                                 core::event& e) {
  return open_fields(key, id, event_id,
                     [&](const auto& f) { core::for_each_personal_field(e, f); });
}

}  // namespace caseline::projections
