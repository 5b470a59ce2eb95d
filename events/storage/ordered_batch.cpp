#include "events/storage/ordered_batch.h"

#include <algorithm>
#include <utility>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

namespace caseline::storage {

enum class entry_kind : std::uint8_t { put, del, merge };

struct key_ordered_batch::entry {
  std::uint32_t family;
  entry_kind kind;
  rocksdb::Slice key;
  rocksdb::Slice value;  // empty for a delete
};

namespace {

// Collects the entries of a batch (slices into its buffer); refuses every other kind.
class collector final : public rocksdb::WriteBatch::Handler {
 public:
  explicit collector(std::vector<key_ordered_batch::entry>& out) : out_(out) {}
  rocksdb::Status PutCF(std::uint32_t cf, const rocksdb::Slice& k,
                        const rocksdb::Slice& v) override {
    out_.push_back({cf, entry_kind::put, k, v});
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(std::uint32_t cf, const rocksdb::Slice& k) override {
    out_.push_back({cf, entry_kind::del, k, {}});
    return rocksdb::Status::OK();
  }
  rocksdb::Status MergeCF(std::uint32_t cf, const rocksdb::Slice& k,
                          const rocksdb::Slice& v) override {
    out_.push_back({cf, entry_kind::merge, k, v});
    return rocksdb::Status::OK();
  }
  // Every other kind (single deletes, ranges, blob indexes, log data, transaction markers) is
  // Handler's default: NotSupported or InvalidArgument, which stops the iteration.

 private:
  std::vector<key_ordered_batch::entry>& out_;
};

}  // namespace

key_ordered_batch::key_ordered_batch() : spare_(std::make_unique<rocksdb::WriteBatch>()) {}

key_ordered_batch::~key_ordered_batch() = default;

bool key_ordered_batch::order(rocksdb::WriteBatch& batch,
                              std::span<rocksdb::ColumnFamilyHandle* const> families) {
  entries_.clear();
  entries_.reserve(batch.Count());
  collector c(entries_);
  if (!batch.Iterate(&c).ok()) return false;
  std::uint32_t max_id = 0;
  for (auto* h : families) max_id = std::max(max_id, h->GetID());
  std::vector<rocksdb::ColumnFamilyHandle*> by_id(max_id + 1, nullptr);
  for (auto* h : families) by_id[h->GetID()] = h;
  for (const auto& e : entries_)
    if (e.family >= by_id.size() || by_id[e.family] == nullptr) return false;
  std::stable_sort(entries_.begin(), entries_.end(), [](const entry& a, const entry& b) {
    if (a.family != b.family) return a.family < b.family;
    return a.key.compare(b.key) < 0;
  });
  rocksdb::WriteBatch& out = *spare_;
  out.Clear();
  for (const auto& e : entries_) {
    auto* cf = by_id[e.family];
    // The batch's bytes are already in memory; these appends cannot fail but on a size limit,
    // which a default WriteBatch has none of.
    rocksdb::Status s;
    switch (e.kind) {
      case entry_kind::put:
        s = out.Put(cf, e.key, e.value);
        break;
      case entry_kind::del:
        s = out.Delete(cf, e.key);
        break;
      case entry_kind::merge:
        s = out.Merge(cf, e.key, e.value);
        break;
    }
    if (!s.ok()) return false;
  }
  // The caller's batch now holds the ordered entries; its old buffer is reused next time.
  std::swap(batch, out);
  entries_.clear();
  return true;
}

}  // namespace caseline::storage
