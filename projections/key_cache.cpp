#include "projections/key_cache.h"

#include <algorithm>

namespace caseline::projections {

key_cache::key_cache(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {
  index_.reserve(capacity_);
}

std::optional<events::secret_key> key_cache::find(std::string_view id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  order_.splice(order_.begin(), order_, it->second);
  return it->second->key;
}

void key_cache::put(std::string_view id, const events::secret_key& key) {
  if (const auto it = index_.find(id); it != index_.end()) {
    it->second->key = key;
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  if (index_.size() >= capacity_) {
    index_.erase(std::string_view(order_.back().id));  // before the id it views goes
    order_.pop_back();
  }
  order_.push_front(entry{std::string(id), key});
  index_.emplace(std::string_view(order_.front().id), order_.begin());
}

void key_cache::erase(std::string_view id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return;
  const auto node = it->second;
  index_.erase(it);
  order_.erase(node);
}

}  // namespace caseline::projections
