#include "projections/case_index.h"

#include <set>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "core/decide.h"
#include "core/errc.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/storage/scan.h"
#include "projections/case_projection.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace {

std::string row_key(const std::string& scope, civil_date day, const std::string& id) {
  return keys::case_index{scope, day, id}.encode();
}

std::set<std::string> scopes_of(const core::case_state& s) {
  std::set<std::string> out;
  if (s.status == core::case_status::none) return out;
  out.insert(keys::list_scope(core::scope::everything()));
  out.insert(keys::list_scope(core::scope::of_center(s.center)));
  out.insert(keys::list_scope(core::scope::of_center(s.owner_center)));
  if (s.unit) out.insert(keys::list_scope(core::scope::of_unit(*s.unit)));
  return out;
}

std::string encode(const case_summary& c) {
  const std::uint32_t version = 1;
  return core::binary_encode(version, c.id, c.center, c.owner_center, c.status, c.unit, c.category,
                             c.domain, c.received_on, c.version, c.major_urgent);
}

result<case_summary> decode(const std::string& bytes) {
  try {
    core::binary_input ar(bytes);
    std::uint32_t version = 0;
    case_summary c;
    ar(version, c.id, c.center, c.owner_center, c.status, c.unit, c.category, c.domain,
       c.received_on, c.version, c.major_urgent);
    return c;
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("case summary: ") + ex.what());
  }
}

}  // namespace

case_summary summarize(const core::case_state& s) {
  case_summary c;
  c.id = s.id();
  c.center = s.center();
  c.owner_center = s.owner_center();
  c.status = std::string(core::to_string(s.status));
  c.unit = s.unit ? (*s.unit)() : std::string();
  c.category = s.cat ? std::string(core::to_string(*s.cat)) : std::string();
  c.domain = s.dom ? std::string(core::to_string(*s.dom)) : std::string();
  c.received_on = s.received_on;
  c.version = s.version;
  c.major_urgent = s.major_urgent;
  return c;
}

result<void> case_index_projection::prepare_commit(rocksdb::WriteBatch& batch) {
  for (const auto& [id, t] : cases_.touched()) {
    const core::case_state& now = t.now.state;
    const auto old_scopes = scopes_of(t.before);
    const auto new_scopes = scopes_of(now);
    for (const auto& sc : old_scopes)
      if (!new_scopes.contains(sc) || t.before.received_on != now.received_on)
        batch.Delete(store_.cf(family::case_index), row_key(sc, t.before.received_on, id));
    const std::string value = encode(summarize(now));
    for (const auto& sc : new_scopes)
      batch.Put(store_.cf(family::case_index), row_key(sc, now.received_on, id), value);
  }
  return success();
}

result<list_page> case_index_reader::list(const list_query& q) const {
  const std::string list_key = keys::list_scope(q.scope);
  const std::string prefix = keys::case_index::prefix(list_key);
  std::string start =
      q.received_from ? keys::case_index::from_day(list_key, *q.received_from) : prefix;
  if (!q.after.empty()) {
    auto after = events::from_hex(q.after);
    if (!after || !after->starts_with(prefix))
      return make_field_error(core::errc::invalid_argument, "cursor", "not a cursor of this list");
    start = std::max(start, *after + '\x01');  // strictly after the last row returned
  }
  // received_to is inclusive: stop before the next day.
  std::string stop;
  if (q.received_to) stop = keys::case_index::from_day(list_key, q.received_to->plus_days(1));

  list_page page;
  std::size_t scanned = 0;
  std::string last_key;
  auto r = storage::scan(
      store_.db(), store_.cf(family::case_index), {prefix, start, stop}, "read case index",
      [&](std::string_view key, std::string_view value) -> result<storage::scan_step> {
        if (page.items.size() == q.limit || scanned == q.max_scanned) {
          page.next = events::to_hex(last_key);
          return storage::scan_step::stop;
        }
        ++scanned;
        last_key = key;
        auto c = decode(std::string(value));
        if (!c) return c.error();
        if (!q.keep || q.keep(c.value())) page.items.push_back(std::move(c).value());
        return storage::scan_step::next;
      });
  if (!r) return r.error();
  return page;
}

}  // namespace caseline::projections
