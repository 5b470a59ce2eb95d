#pragma once

// The one binary encoding of caseline: cereal's portable binary format, for event bodies,
// log records and stored rows. Encoding is `binary_output`, a cereal output archive that appends
// the bytes cereal's PortableBinaryOutputArchive writes on a little-endian machine straight to a
// string (no stream, no locale: the stream was a third of an encoding's cost); decoding is
// `binary_input`, a cereal input archive that reads the same bytes straight from a string_view
// and refuses a declared length (of a string, vector or map) larger than the bytes left, so
// a corrupt or hostile record fails with an error instead of allocating what its length says
// (cereal's own archive resizes first and reads after). Include only where bytes are encoded
// or decoded: it brings cereal's headers.

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace caseline::core {

// Writes values as cereal's portable binary archive does, appended to a string: a leading byte
// 1 (the bytes are little-endian), then every value little-endian, whatever the machine, so the
// stored bytes and the hashes chained over them are the same on every host. (cereal's own
// archive writes the machine's order, flagged; binary_input reads both.)
class binary_output : public cereal::OutputArchive<binary_output, cereal::AllowEmptyClassElision> {
 public:
  explicit binary_output(std::string& out)
      : cereal::OutputArchive<binary_output, cereal::AllowEmptyClassElision>(this), out_(out) {
    const std::uint8_t little = 1;
    (*this)(little);
  }

  // Called by cereal for every value: `size` bytes made of elements of DataSize bytes.
  // (The name is cereal's.)
  template <std::streamsize DataSize>
  // NOLINTNEXTLINE(readability-identifier-naming)
  void saveBinary(const void* data, std::streamsize size) {
    const auto* p = static_cast<const char*>(data);
    const auto n = static_cast<std::size_t>(size);
    if constexpr (std::endian::native == std::endian::little || DataSize == 1) {
      out_.append(p, n);
    } else {
      for (std::size_t i = 0; i + DataSize <= n; i += DataSize)
        for (std::size_t b = DataSize; b-- > 0;) out_.push_back(p[i + b]);
    }
  }

 private:
  std::string& out_;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(binary_output& ar, const T& t) {
  ar.template saveBinary<sizeof(T)>(std::addressof(t), sizeof(t));
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(binary_output& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(binary_output& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(binary_output& ar, const cereal::BinaryData<T>& bd) {
  using element = std::remove_const_t<std::remove_pointer_t<T>>;
  ar.template saveBinary<sizeof(element)>(bd.data, static_cast<std::streamsize>(bd.size));
}

// The bytes of `values`, in order.
template <class... T>
std::string binary_encode(const T&... values) {
  std::string out;
  out.reserve(256);  // most rows and bodies fit: no regrowth on the way
  {
    binary_output ar(out);
    ar(values...);
  }
  return out;
}

// Reads what binary_encode wrote: `binary_input ar(bytes); ar(a, b);`. Throws cereal::Exception
// (a std::runtime_error) when the bytes end early or a declared length exceeds what is left.
class binary_input : public cereal::InputArchive<binary_input, cereal::AllowEmptyClassElision> {
 public:
  explicit binary_input(std::string_view bytes)
      : cereal::InputArchive<binary_input, cereal::AllowEmptyClassElision>(this), rest_(bytes) {
    std::uint8_t little = 0;
    (*this)(little);
    swap_ = little != (std::endian::native == std::endian::little ? 1 : 0);
  }

  // Bytes not read yet: a strict reader checks it is 0 at the end.
  std::size_t remaining() const noexcept { return rest_.size(); }

  // Called by cereal for every value: `size` bytes made of elements of DataSize bytes.
  // (The name is cereal's.)
  template <std::streamsize DataSize>
  void loadBinary(void* data, std::streamsize size) {  // NOLINT(readability-identifier-naming)
    const auto n = static_cast<std::size_t>(size);
    if (size < 0 || n > rest_.size())
      throw cereal::Exception("record ends early: " + std::to_string(size) + " bytes wanted, " +
                              std::to_string(rest_.size()) + " left");
    std::memcpy(data, rest_.data(), n);
    rest_.remove_prefix(n);
    if (swap_) {
      auto* p = static_cast<std::uint8_t*>(data);
      for (std::size_t i = 0; i + DataSize <= n; i += DataSize)
        for (std::size_t a = 0, b = DataSize - 1; a < b; ++a, --b) std::swap(p[i + a], p[i + b]);
    }
  }

  // Every element takes at least one byte, so a length above what is left is corrupt.
  void check_length(std::uint64_t declared) const {
    if (declared > rest_.size())
      throw cereal::Exception("declared length " + std::to_string(declared) + " exceeds the " +
                              std::to_string(rest_.size()) + " bytes left");
  }

 private:
  std::string_view rest_;
  bool swap_{false};
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(binary_input& ar, T& t) {
  ar.template loadBinary<sizeof(T)>(std::addressof(t), sizeof(t));
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(binary_input& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(binary_input& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
  ar.check_length(static_cast<std::uint64_t>(t.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(binary_input& ar, cereal::BinaryData<T>& bd) {
  using element = std::remove_pointer_t<T>;
  ar.template loadBinary<sizeof(element)>(bd.data, static_cast<std::streamsize>(bd.size));
}

}  // namespace caseline::core

// cereal pairs every input archive with an output archive (its load_minimal and save_minimal
// checks need it): CEREAL_SETUP_ARCHIVE_TRAITS(binary_input, binary_output), spelled out.
namespace cereal::traits::detail {
template <>
struct get_output_from_input<caseline::core::binary_input> {
  using type = caseline::core::binary_output;
};
template <>
struct get_input_from_output<caseline::core::binary_output> {
  using type = caseline::core::binary_input;
};
}  // namespace cereal::traits::detail
