#include "core/codec.h"

#include "core/binary.h"
#include "core/errc.h"

namespace caseline::core {

namespace {

template <class T>
std::uint16_t current_version() {
  return static_cast<std::uint16_t>(cereal::detail::Version<T>::version);
}

// Finds the alternative of Variant with the type id and decodes it. Older versions are upcast by
// the type's serialize(), which cereal hands the stored version.
template <class Variant, std::size_t I = 0>
result<Variant> decode_alternative(std::uint16_t type_id, std::uint16_t version,
                                   std::string_view bytes) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return make_error(errc::undecodable_event, "unknown event type id " + std::to_string(type_id));
  } else {
    using T = std::variant_alternative_t<I, Variant>;
    if (T::type_id != type_id) return decode_alternative<Variant, I + 1>(type_id, version, bytes);
    if (version == 0 || version > current_version<T>())
      return make_error(errc::undecodable_event, "unknown version " + std::to_string(version) +
                                                     " of event type " + std::to_string(type_id));
    try {
      binary_input ar(bytes);
      T value;
      ar(value);  // cereal reads the stored class version and passes it to serialize()
      if (ar.remaining() != 0)
        return make_error(errc::undecodable_event,
                          "trailing bytes after event type " + std::to_string(type_id));
      return Variant{std::move(value)};
    } catch (const std::exception& ex) {
      return make_error(errc::undecodable_event,
                        "event type " + std::to_string(type_id) + ": " + ex.what());
    }
  }
}

template <class Variant>
encoded_event encode_variant(const Variant& e) {
  return std::visit(
      [](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        return encoded_event{T::type_id, current_version<T>(), binary_encode(v)};
      },
      e);
}

}  // namespace

encoded_event encode(const event& e) { return encode_variant(e); }
encoded_event encode(const registry_event& e) { return encode_variant(e); }

result<event> decode(std::uint16_t type_id, std::uint16_t version, std::string_view bytes) {
  return decode_alternative<event>(type_id, version, bytes);
}

result<registry_event> decode_registry_event(std::uint16_t type_id, std::uint16_t version,
                                             std::string_view bytes) {
  return decode_alternative<registry_event>(type_id, version, bytes);
}

std::uint16_t type_id_of(const event& e) {
  return std::visit([](const auto& v) { return std::decay_t<decltype(v)>::type_id; }, e);
}

std::string_view event_name(std::uint16_t type_id) {
  switch (type_id) {
    case case_received::type_id:
      return "case_received";
    case answered_immediately::type_id:
      return "answered_immediately";
    case not_accepted::type_id:
      return "not_accepted";
    case redirected::type_id:
      return "redirected";
    case classified::type_id:
      return "classified";
    case transferred::type_id:
      return "transferred";
    case escalated::type_id:
      return "escalated";
    case returned::type_id:
      return "returned";
    case extended::type_id:
      return "extended";
    case reminded::type_id:
      return "reminded";
    case replied::type_id:
      return "replied";
    case revisited::type_id:
      return "revisited";
    case archived::type_id:
      return "archived";
    case flagged_major_urgent::type_id:
      return "flagged_major_urgent";
    case recording_purged::type_id:
      return "recording_purged";
    case text_shredded::type_id:
      return "text_shredded";
    case unit_registered::type_id:
      return "unit_registered";
    case legal_hold_placed::type_id:
      return "legal_hold_placed";
    case legal_hold_lifted::type_id:
      return "legal_hold_lifted";
    case purge_refused::type_id:
      return "purge_refused";
    case deadline_revised::type_id:
      return "deadline_revised";
    case calendar_year_published::type_id:
      return "calendar_year_published";
    case extension_requested::type_id:
      return "extension_requested";
    case overdue_reported::type_id:
      return "overdue_reported";
    case token_issued::type_id:
      return "token_issued";
    case token_revoked::type_id:
      return "token_revoked";
  }
  return "";
}

}  // namespace caseline::core
