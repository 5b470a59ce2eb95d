#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>

#include "core/events.h"
#include "core/ids.h"
#include "core/result.h"
#include "core/time.h"

namespace caseline::core {

// A service center (Art. 5): the provincial center 410000 over one center per prefecture-level
// city and per directly-administered county, each named by its GB/T 2260 code.
struct center_info {
  center_code code;
  std::string name;
  std::optional<center_code> parent;  // none for the provincial center

  friend bool operator==(const center_info&, const center_info&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(code, name, parent);
  }
};

// The one responsible contact a handling unit names to its center and keeps current (Art. 31).
struct unit_contact {
  std::string name;
  std::string mobile;
  std::string email;
  std::string fax;

  friend bool operator==(const unit_contact&, const unit_contact&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(name, mobile, email, fax);
  }
};

// id 17: a handling unit registered with a center, or its contact updated (Art. 30-31).
// v2: the contact (a person's name, mobile, email, fax) is personal data, sealed under the
// registry's data key before it enters the log (projections::personal_data); v1 bodies hold it
// in plain text, which the upcast says with contact_sealed = false.
struct unit_registered {
  static constexpr std::uint16_t type_id = 17;
  friend bool operator==(const unit_registered&, const unit_registered&) = default;
  unit_id unit;
  std::string name;
  center_code center;
  unit_contact contact;
  bool contact_sealed{true};  // not stored: v2 and later seal it

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(unit, name, center, contact);
    if constexpr (Archive::is_loading::value) contact_sealed = version >= 2;
  }
};

// id 22: a year of the working-day calendar published (its State Council notice, or the
// provisional year the law fixes), in the calendar data file format (core/calendar.h): one
// `year YYYY covered|provisional <source>` line and the year's days. It replaces what the log
// said of that year before. Written under the stream key "calendar", so every instance and every
// replay sees the same calendar at the same log position.
struct calendar_year_published {
  static constexpr std::uint16_t type_id = 22;
  friend bool operator==(const calendar_year_published&, const calendar_year_published&) = default;
  std::int32_t year{0};
  std::string text;
  civil_date published_on;
  user_id by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(year, text, published_on, by);
  }
};

// id 26: a bearer token issued (or an older store's token published into the log once, with
// its first id and hash). Only the SHA-256 of the secret (hex) is written: the secret is 256
// random bits, so its hash reveals nothing. Written under the stream key "tokens", so a token
// authenticates on every instance that reads the log.
struct token_issued {
  static constexpr std::uint16_t type_id = 26;
  friend bool operator==(const token_issued&, const token_issued&) = default;
  std::string id;           // the public id: the hash's first 12 hex digits
  std::string secret_hash;  // hex SHA-256 of the secret
  std::string role;         // the gateway's role name
  center_code center;
  std::string unit;  // for a handling unit's token; empty otherwise
  timestamp created_at;
  std::optional<timestamp> expires_at;  // none: never expires

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(id, secret_hash, role, center, unit, created_at, expires_at);
  }
};

// id 27: a bearer token revoked: it answers 401 from then on.
struct token_revoked {
  static constexpr std::uint16_t type_id = 27;
  friend bool operator==(const token_revoked&, const token_revoked&) = default;
  std::string id;
  timestamp revoked_at;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(id, revoked_at);
  }
};

// Reference-data events (the registry of units, the calendar, the bearer tokens), in type-id
// order (ids are shared with case events and never reused).
using registry_event =
    std::variant<unit_registered, calendar_year_published, token_issued, token_revoked>;

struct unit_info {
  unit_id id;
  std::string name;
  center_code center;
  unit_contact contact;
  bool contact_sealed{false};  // v2: as its registration (rows of v1 hold plain text)

  friend bool operator==(const unit_info&, const unit_info&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(id, name, center, contact);
    if (version >= 2) ar(contact_sealed);
  }
};

// The centers and the handling units registered with them. A plain value: the fold of the
// registry events over the built-in Henan centers; decisions read it through the context.
// Not synchronised: share it between threads only as const.
class registry {
 public:
  // The Henan provincial center and its city and directly-administered county centers.
  static registry henan();

  static constexpr const char* provincial_center = "410000";

  const center_info* center(const center_code& code) const;
  const unit_info* unit(const unit_id& id) const;
  // The center directly above `code`, if any.
  std::optional<center_code> upper_center(const center_code& code) const;
  std::vector<center_info> centers() const;
  std::vector<unit_info> units_of(const center_code& code) const;

  // Checks a registration (known center, unit id and name, a contact that can be reached).
  result<void> check(const unit_registered& e) const;
  // Applies a checked registration; a later registration of the same unit replaces the earlier.
  void apply(const unit_registered& e);
  void add_center(center_info c);

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(centers_, units_);
  }

 private:
  std::map<center_code, center_info> centers_;
  std::map<unit_id, unit_info> units_;
};

}  // namespace caseline::core

CEREAL_CLASS_VERSION(caseline::core::center_info, 1);
CEREAL_CLASS_VERSION(caseline::core::unit_contact, 1);
CEREAL_CLASS_VERSION(caseline::core::unit_registered, 2);
CEREAL_CLASS_VERSION(caseline::core::unit_info, 2);
CEREAL_CLASS_VERSION(caseline::core::calendar_year_published, 1);
CEREAL_CLASS_VERSION(caseline::core::token_issued, 1);
CEREAL_CLASS_VERSION(caseline::core::token_revoked, 1);
CEREAL_CLASS_VERSION(caseline::core::registry, 1);

static_assert(caseline::core::unit_registered::type_id ==
              caseline::core::reserved_type_id::unit_registered);
static_assert(caseline::core::calendar_year_published::type_id ==
              caseline::core::reserved_type_id::calendar_year_published);
static_assert(caseline::core::token_issued::type_id ==
              caseline::core::reserved_type_id::token_issued);
static_assert(caseline::core::token_revoked::type_id ==
              caseline::core::reserved_type_id::token_revoked);
