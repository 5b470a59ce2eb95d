#include "projections/case_projection.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/decide.h"
#include "events/errc.h"
#include "events/log_reader.h"
#include "events/storage/big_endian.h"
#include "events/storage/key.h"
#include "events/storage/scan.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace {

// case_events values: be32(partition) be64(offset) be32(index) stored bytes.
constexpr std::size_t location_size = 16;

std::string encode_history_event(const event_location& l, std::string_view stored_bytes) {
  std::string v;
  v.reserve(location_size + stored_bytes.size());
  storage::put_be32(v, static_cast<std::uint32_t>(l.position.partition()));
  storage::put_be64(v, static_cast<std::uint64_t>(l.position.offset()));
  storage::put_be32(v, l.index);
  v.append(stored_bytes);
  return v;
}

std::string tally_key(events::partition_id p, std::string_view center, std::string_view month) {
  return keys::revisit_tally{p(), std::string(center), std::string(month)}.encode();
}

std::string encode_tally(const core::revisit_tally& t) {
  std::string v;
  storage::put_be64(v, t.closed);
  storage::put_be64(v, t.picked);
  return v;
}

}  // namespace

namespace {
// `value` in decimal, zero-padded to at least `width` digits. By hand: a writer formats an id
// for each sequence it tries.
void append_padded(std::string& out, std::uint64_t value, std::size_t width) {
  char digits[20];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  if (n < width) out.append(width - n, '0');
  while (n != 0) out += digits[--n];
}
}  // namespace

std::string format_case_id(std::string_view center, civil_date day, std::uint64_t sequence) {
  if (day.year < 0)  // not from any clock this server runs on; written as it always was
    return fmt::format("{}-{:04}{:02}{:02}-{:06}", center, day.year, day.month, day.day, sequence);
  std::string id;
  id.reserve(center.size() + 17);
  id += center;
  id += '-';
  append_padded(id, static_cast<std::uint64_t>(day.year), 4);
  append_padded(id, static_cast<std::uint64_t>(day.month), 2);
  append_padded(id, static_cast<std::uint64_t>(day.day), 2);
  id += '-';
  append_case_sequence(id, sequence);
  return id;
}

void append_case_sequence(std::string& id, std::uint64_t sequence) {
  append_padded(id, sequence, 6);
}

std::optional<std::pair<std::string, std::uint64_t>> split_case_id(std::string_view id) {
  const auto dash = id.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= id.size()) return std::nullopt;
  std::uint64_t seq = 0;
  const auto* first = id.data() + dash + 1;
  const auto* last = id.data() + id.size();
  auto [ptr, ec] = std::from_chars(first, last, seq);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return std::pair{std::string(id.substr(0, dash)), seq};
}

void case_projection::begin_batch() {
  rows_.clear();
  counters_.clear();
  tallies_.clear();
}

// Each row the batch changed is written once, with its value after the batch's last event: a
// case's row, a center's day counter (the highest sequence seen), a center's month tally (the
// closures counted). One key per row and batch, however many of the batch's events moved it (a
// counter the batch read but did not raise is written again with its stored value).
result<void> case_projection::prepare_commit(rocksdb::WriteBatch& batch) {
  for (const auto& [id, t] : rows_)
    batch.Put(store_.cf(family::cases), keys::case_row::encode(id), encode_case_row(t.now));
  for (const auto& [key, c] : counters_)
    batch.Put(store_.cf(family::counters), key, storage::be64_value(c));
  for (const auto& [key, t] : tallies_)
    batch.Put(store_.cf(family::counters), key, encode_tally(t));
  return success();
}

void case_projection::end_batch(bool /*committed*/) {
  rows_.clear();
  counters_.clear();
  tallies_.clear();
}

result<void> case_projection::apply(const decoded_event& e, rocksdb::WriteBatch& batch) {
  const std::string& id = e.env.case_id();
  auto found = rows_.find(id);
  if (found == rows_.end()) {
    auto stored = case_reader(store_).get(e.env.case_id);
    if (!stored) return stored.error();
    case_row row;
    if (stored.value()) {
      row = std::move(*stored.value());
    } else {
      row.state.id = e.env.case_id;
    }
    core::case_state before = row.state;
    found = rows_.emplace(id, touched_case{std::move(before), std::move(row)}).first;
  }
  case_row& row = found->second.now;
  const auto broken = events::follows(row.state.version, row.last_hash, e.env);
  if (broken && broken != events::chain_fault::hash)
    return make_error(events::errc::corrupt_record,
                      fmt::format("case {}: event {} has sequence {}, expected {}", id,
                                  e.env.event_id, e.env.sequence(), row.state.version + 1));
  if (broken)
    return make_error(events::errc::corrupt_record,
                      fmt::format("case {}: event {} does not chain to the previous event (hash "
                                  "mismatch)",
                                  id, e.env.event_id));
  const auto sample = core::sample_closure_of(row.state, e.event);
  row.state = core::evolve(std::move(row.state), e.event, e.env.recorded_at);
  row.last_hash = events::sha256(e.stored_bytes);
  batch.Put(store_.cf(family::case_events), keys::case_history{id, e.env.sequence()}.encode(),
            encode_history_event({e.position, e.index}, e.stored_bytes));

  if (std::holds_alternative<core::case_received>(e.event)) {
    if (auto parts = split_case_id(id)) {
      const keys::case_counter key{parts->first, e.position.partition()};
      const std::string encoded = key.encode();
      auto it = counters_.find(encoded);
      if (it == counters_.end()) {
        auto stored = case_reader(store_).counter(parts->first, e.position.partition);
        if (!stored) return stored.error();
        it = counters_.emplace(encoded, stored.value()).first;
      }
      it->second = std::max(it->second, parts->second);
    }
  }
  if (sample) {
    // The same tally the writer kept when it decided the pick, counted again from log order.
    const std::string key = tally_key(e.position.partition, sample->center(), sample->month);
    auto it = tallies_.find(key);
    if (it == tallies_.end()) {
      auto stored = case_reader(store_).revisit_tally(e.position.partition, sample->center,
                                                      sample->month);
      if (!stored) return stored.error();
      it = tallies_.emplace(key, stored.value()).first;
    }
    ++it->second.closed;
    if (sample->picked) ++it->second.picked;
  }
  return success();
}

result<std::optional<case_row>> case_reader::get(const case_id& id) const {
  auto value = storage::get(store_.db(), store_.cf(family::cases), keys::case_row::encode(id()),
                            "read case");
  if (!value) return value.error();
  if (!value.value()) return std::optional<case_row>{};
  auto row = decode_case_row(*value.value());
  if (!row) return row.error();
  return std::optional<case_row>{std::move(row).value()};
}

result<void> case_reader::for_each(
    const std::function<void(const case_id& id, result<case_row> row)>& visit) const {
  return storage::scan(store_.db(), store_.cf(family::cases), {}, "read cases",
                       [&](std::string_view key, std::string_view value) {
                         auto k = keys::case_row::decode(key);
                         if (!k)
                           visit(case_id{std::string(key)},
                                 make_error(events::errc::corrupt_record, "case row key"));
                         else
                           visit(case_id{std::move(k->case_id)}, decode_case_row(value));
                         return storage::scan_step::next;
                       });
}

result<std::vector<history_event>> case_reader::history(const case_id& id) const {
  std::vector<history_event> out;
  auto r = storage::scan(
      store_.db(), store_.cf(family::case_events), {keys::case_history::prefix(id()), {}, {}, true},
      "read case events", [&](std::string_view, std::string_view v) -> result<storage::scan_step> {
        // A location alone is the layout before the events were kept: the store needs a rebuild.
        if (v.size() <= location_size)
          return make_error(events::errc::corrupt_record, "stored case event");
        out.push_back(history_event{
            {{events::partition_id{static_cast<std::int32_t>(storage::get_be32(v.substr(0, 4)))},
              events::log_offset{static_cast<std::int64_t>(storage::get_be64(v.substr(4, 8)))}},
             storage::get_be32(v.substr(12, 4))},
            std::string(v.substr(location_size))});
        return storage::scan_step::next;
      });
  if (!r) return r.error();
  return out;
}

result<decoded_history> decode_history(const case_id& id,
                                       const std::vector<history_event>& history) {
  decoded_history out;
  out.events.reserve(history.size());
  out.folded.id = id;
  for (const auto& stored : history) {
    auto logged = events::decode_stored_event(stored.stored_bytes, stored.location.position,
                                              stored.location.index);
    if (!logged) return logged.error().to_error();
    auto ev = events::decode_case_event(logged.value());
    if (!ev) return ev.error().to_error();
    out.folded = core::evolve(std::move(out.folded), ev.value(), logged.value().env.recorded_at);
    out.events.push_back({std::move(logged.value().env), std::move(ev.value())});
  }
  return out;
}

result<std::uint64_t> case_reader::counter(std::string_view center_and_day,
                                           events::partition_id p) const {
  auto value = storage::get(store_.db(), store_.cf(family::counters),
                            keys::case_counter{std::string(center_and_day), p()}.encode(),
                            "read case counter");
  if (!value) return value.error();
  if (!value.value()) return std::uint64_t{0};
  const auto n = storage::parse_be64_value(*value.value());
  if (!n) return make_error(events::errc::corrupt_record, "stored case counter");
  return *n;
}

result<core::revisit_tally> case_reader::revisit_tally(events::partition_id p,
                                                       const center_code& center,
                                                       std::string_view month) const {
  auto stored = storage::get(store_.db(), store_.cf(family::counters),
                             tally_key(p, center(), month), "read revisit tally");
  if (!stored) return stored.error();
  if (!stored.value()) return core::revisit_tally{};
  const std::string_view value = *stored.value();
  if (value.size() != 16) return make_error(events::errc::corrupt_record, "stored revisit tally");
  return core::revisit_tally{static_cast<std::uint32_t>(storage::get_be64(value.substr(0, 8))),
                             static_cast<std::uint32_t>(storage::get_be64(value.substr(8, 8)))};
}

}  // namespace caseline::projections
