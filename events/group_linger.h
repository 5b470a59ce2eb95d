#pragma once

// The wait of a group commit's writer for more items under load. A writer that syncs once per
// group (the embedded log's WAL, the key store's new keys) forms groups from what queued while
// it was syncing; at a moderate load those groups stay small, and each sync costs its CPU (the
// fsync, the wake-ups, the per-group work after it) for few items. Lingering — after a group of
// `after_group` items or more, waiting up to `linger` past the next group's first item, or until
// `items` are queued — makes one sync serve more of them. An item that comes alone (one client at
// a time: the last group held one) never waits.
//
// A value: the writer keeps one under its queue's mutex. Header-only: no dependency.

#include <chrono>
#include <cstddef>

namespace caseline::events {

struct group_linger {
  std::chrono::microseconds linger{0};  // 0: never waits
  std::size_t items{256};               // a group this large is written at once
  std::size_t after_group{2};           // lingers only after a group of at least this many

  // Whether a writer whose last group held `last_group` items, with `queued` waiting, lingers.
  bool applies(std::size_t last_group, std::size_t queued) const {
    return linger.count() > 0 && last_group >= after_group && queued < items;
  }
  // Whether the enqueue that made the queue `queued` long must wake the writer: for the first
  // item (a writer waiting for any), and for a full group (a lingering one); the items between
  // would only wake a lingering writer to wait again.
  bool wakes(std::size_t queued) const { return queued <= 1 || queued >= items; }
  // When a linger that begins now ends.
  std::chrono::steady_clock::time_point until() const {
    return std::chrono::steady_clock::now() + linger;
  }
};

}  // namespace caseline::events
