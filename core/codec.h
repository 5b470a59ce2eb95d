#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/events.h"
#include "core/registry.h"
#include "core/result.h"

namespace caseline::core {

// An event body as stored: its type id, the version it was written with, and cereal
// portable-binary bytes.
struct encoded_event {
  std::uint16_t type_id{0};
  std::uint16_t version{0};
  std::string bytes;
};

encoded_event encode(const event& e);
encoded_event encode(const registry_event& e);
// Decodes (and upcasts to the current version) an event body. An unknown type id, an unknown
// version or bytes that do not decode are errors (core::errc::undecodable_event).
result<event> decode(std::uint16_t type_id, std::uint16_t version, std::string_view bytes);

// The same for registry events (core/registry.h).
result<registry_event> decode_registry_event(std::uint16_t type_id, std::uint16_t version,
                                             std::string_view bytes);

std::string_view event_name(std::uint16_t type_id);  // "case_received", ...; "" if unknown
std::uint16_t type_id_of(const event& e);

}  // namespace caseline::core
