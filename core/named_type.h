#pragma once

#include <compare>
#include <functional>
#include <ostream>
#include <utility>

namespace caseline {

// A value wrapped in a distinct type so that identifiers and quantities that are easy to mix up
// (an offset and a sequence number, two kinds of id) cannot be passed for one another.
template <class T, class Tag>
class named_type {
 public:
  using value_type = T;

  constexpr named_type() = default;
  constexpr explicit named_type(T v) : value_(std::move(v)) {}

  constexpr const T& operator()() const noexcept { return value_; }
  constexpr const T& value() const noexcept { return value_; }

  friend constexpr auto operator<=>(const named_type&, const named_type&) = default;  // NOLINT
  friend constexpr bool operator==(const named_type&, const named_type&) = default;
  friend std::ostream& operator<<(std::ostream& os, const named_type& v) { return os << v.value_; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(value_);
  }

 private:
  T value_{};
};

}  // namespace caseline

template <class T, class Tag>
struct std::hash<caseline::named_type<T, Tag>> {
  std::size_t operator()(const caseline::named_type<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v());
  }
};
