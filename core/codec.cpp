#include "core/codec.h"

#include <sstream>

#include <cereal/archives/portable_binary.hpp>

#include "core/errc.h"

namespace caseline::core {

namespace {

template <class T>
std::uint16_t current_version() {
  return static_cast<std::uint16_t>(cereal::detail::Version<T>::version);
}

template <std::size_t I = 0>
result<event> decode_alternative(std::uint16_t type_id, std::uint16_t version,
                                 std::string_view bytes) {
  if constexpr (I == std::variant_size_v<event>) {
    return make_error(errc::undecodable_event, "unknown event type id " + std::to_string(type_id));
  } else {
    using T = std::variant_alternative_t<I, event>;
    if (T::type_id != type_id) return decode_alternative<I + 1>(type_id, version, bytes);
    if (version == 0 || version > current_version<T>())
      return make_error(errc::undecodable_event, "unknown version " + std::to_string(version) +
                                                     " of event type " + std::to_string(type_id));
    try {
      std::istringstream in{std::string(bytes)};
      cereal::PortableBinaryInputArchive ar(in);
      T value;
      ar(value);  // cereal reads the stored class version and passes it to serialize()
      if (in.peek() != std::char_traits<char>::eof())
        return make_error(errc::undecodable_event, "trailing bytes after event type " +
                                                       std::to_string(type_id));
      return event{std::move(value)};
    } catch (const std::exception& ex) {
      return make_error(errc::undecodable_event,
                        "event type " + std::to_string(type_id) + ": " + ex.what());
    }
  }
}

}  // namespace

encoded_event encode(const event& e) {
  return std::visit(
      [](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        std::ostringstream out;
        {
          cereal::PortableBinaryOutputArchive ar(out);
          ar(v);
        }
        return encoded_event{T::type_id, current_version<T>(), std::move(out).str()};
      },
      e);
}

result<event> decode(std::uint16_t type_id, std::uint16_t version, std::string_view bytes) {
  return decode_alternative(type_id, version, bytes);
}

std::uint16_t type_id_of(const event& e) {
  return std::visit([](const auto& v) { return std::decay_t<decltype(v)>::type_id; }, e);
}

std::string_view event_name(std::uint16_t type_id) {
  switch (type_id) {
    case case_received::type_id: return "case_received";
  }
  return "";
}

}  // namespace caseline::core
