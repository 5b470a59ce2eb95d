#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/case_state.h"
#include "core/events.h"
#include "core/registry.h"
#include "core/result.h"
#include "projections/key_store.h"

namespace caseline::projections {

// Encrypts personal fields before they enter the log and decrypts them for display. Each field is
// sealed with its case's data key and bound to (case id, event id, field name); deleting the
// case's key (key_store::shred) makes every copy of its text unreadable while the non-personal
// facts stay. A field whose tag does not verify is an error, never shown as data.
//
// Thread-safe (the key store is).
class personal_data {
 public:
  explicit personal_data(key_store& keys) : keys_(keys) {}

  // Seals the personal fields of a command's events; event i gets the event id of sequence
  // `first_sequence + i`. A new case gets its key here, stored (synced) before this returns.
  result<void> seal(const case_id& id, std::uint64_t first_sequence,
                    std::vector<core::event>& events, bool new_case);
  // The first command of a new case without waiting for its key: seals its events (from sequence
  // 1) with a new key and returns the key, not yet stored. The caller stores it with `store_key`
  // and appends the events only once that reports success (the write side does: its key
  // writes are group-committed instead of one synced write per case on a writer thread).
  events::secret_key seal_new_case(const case_id& id, std::vector<core::event>& events);
  // key_store::store_ahead_of_record: `done` runs on the key store's committer thread once the
  // key, marked as ahead of its record, is durable.
  void store_key(const case_id& id, const events::secret_key& key, key_store::stored_handler done);
  // The first records of these new cases are in the log: their keys' marks go (key_store::confirm).
  void confirm_keys(std::vector<std::string> ids) { keys_.confirm(std::move(ids)); }
  // The ids whose key store_key stored and confirm_keys did not confirm (a refused or failed
  // append, a crash before its outcome), in id order.
  result<std::vector<std::string>> keys_ahead_of_record();
  // Those keys checked: each is the key of its case after all, or of no case yet.
  result<void> settle_keys(std::span<const std::string> ids) { return keys_.settle(ids); }
  // With a key journal (key_store::use_journal), a new case's key is not stored before its
  // record: it is appended with it (`key_journal()->append_with_key(..., journal_entry(...))`),
  // and `remember_key` caches it once that append succeeded. Null: store_key as above.
  events::key_journal* key_journal() const { return keys_.journal(); }
  events::journaled_key journal_entry(const case_id& id, const events::secret_key& key) const {
    return {id(), keys_.wrap(id, key)};
  }
  void remember_key(const case_id& id, const events::secret_key& key) { keys_.remember(id, key); }
  // Deletes a new case's key whose record was never written (as a shred does, its mark too):
  // the id belongs to another writer's case.
  result<void> drop_unwritten_key(const case_id& id) { return keys_.shred({id}); }
  // Opens a state's personal fields in place. false when the case's text was shredded (the
  // fields are then emptied).
  result<bool> open(core::case_state& s);
  // Opens one event's personal fields in place (they must have been sealed for `event_id`).
  result<bool> open(const case_id& id, std::string_view event_id, core::event& e);
  // A case's data key as the opens above look it up; none once the case's text was shredded.
  // For several events of one case (its history): looked up once, then passed to each open.
  using case_key = std::optional<events::secret_key>;
  result<case_key> key_of(const case_id& id) { return keys_.get(id); }
  // As open(id, event_id, e), with the case's key already looked up by key_of(id).
  result<bool> open(const case_id& id, const case_key& key, std::string_view event_id,
                    core::event& e);

  // The registry's personal data: a unit's contact, sealed under the registry's data key (kept
  // in the key store under `registry_key`) and bound to the unit and the field, so the event
  // and the registry row carry the same sealed bytes. Shredding that key would blank every
  // contact; nothing else depends on it.
  static constexpr const char* registry_key = "registry:units";
  result<void> seal(core::unit_registered& e);
  // Opens a unit's contact in place (a contact registered before it was sealed is plain text
  // and stays as it is); false when the registry's key is gone (the contact is then emptied).
  result<bool> open(core::unit_info& u);

 private:
  key_store& keys_;
};

}  // namespace caseline::projections
