#include "projections/sla_index.h"

#include <algorithm>
#include <memory>

#include <rocksdb/db.h>

#include "core/errc.h"
#include "events/errc.h"
#include "events/storage/scan.h"
#include "projections/paging.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace detail {
result<void> decode_failed(std::string_view what, const std::exception& ex) {
  return make_error(events::errc::corrupt_record, "stored " + std::string(what) + ": " + ex.what());
}

result<std::optional<std::string>> read_bytes(store& s, family f, const std::string& key,
                                              std::string_view what, const rocksdb::Snapshot* at) {
  return storage::get(s.db(), s.cf(f), key, "read " + std::string(what), at);
}
}  // namespace detail

namespace {

std::string scope_prefix(std::string_view scope_key) { return keys::deadline::prefix(scope_key); }

std::string indexed_key(const deadline_row& row, std::string_view scope_key) {
  return keys::deadline{std::string(scope_key), row.due, std::string(core::to_string(row.kind)),
                        row.id()}
      .encode();
}

}  // namespace

std::vector<deadline_row> pending_deadlines(const core::case_state& s) {
  using core::case_status;
  std::vector<deadline_row> out;
  const auto reminded = [&](core::deadline_kind k, civil_date due) {
    return std::find(s.reminders.begin(), s.reminders.end(), core::reminder_key{k, due}) !=
           s.reminders.end();
  };
  const auto add = [&](core::deadline_kind k, civil_date due, unit_id unit,
                       const core::deadline_basis& basis) {
    out.push_back(deadline_row{s.id, k, due, s.owner_center, std::move(unit), s.major_urgent,
                               reminded(k, due), basis});
  };
  switch (s.status) {
    case case_status::received:
    case case_status::classified:
    case case_status::escalated:
      // Art. 27: until the first transfer. A case returned by a unit had its first transfer.
      if (!s.first_transferred_on)
        add(core::deadline_kind::transfer, s.transfer_due, {}, s.transfer_basis);
      break;
    case case_status::transferred:
    case case_status::reopened:
      if (s.reply_due && !s.replied_on)
        add(core::deadline_kind::reply, *s.reply_due, s.unit.value_or(unit_id{}), s.reply_basis);
      break;
    default: break;
  }
  return out;
}

std::string encode_deadline_row(const deadline_row& row) { return detail::encode_row(row); }

result<deadline_row> decode_deadline_row(std::string_view bytes) {
  return detail::decode_row<deadline_row>(bytes, "deadline row");
}

std::vector<std::string> deadline_keys(const deadline_row& row) {
  std::vector<std::string> out;
  out.push_back(indexed_key(row, "*"));
  out.push_back(indexed_key(row, keys::worklist_scope(scope::of_center(row.center))));
  if (!row.unit().empty())
    out.push_back(indexed_key(row, keys::worklist_scope(scope::of_unit(row.unit))));
  return out;
}

std::string remind_key(const deadline_row& row) {
  return keys::remind{row.due, std::string(core::to_string(row.kind)), row.id()}.encode();
}

result<deadline_page> sla_reader::range(const std::string& prefix, const std::string& from,
                                        const std::string& to_exclusive, std::string_view cursor,
                                        std::size_t limit) const {
  const bool remind = prefix.empty();
  deadline_page out;
  auto next = scan_page(store_, remind ? family::sla_remind : family::sla_deadlines,
                        {prefix, prefix + from, prefix + to_exclusive}, cursor, limit,
                        "read deadline index",
                        [&](std::string_view, std::string_view value) -> result<bool> {
                          auto row = decode_deadline_row(value);
                          if (!row) return row.error();
                          out.items.push_back(std::move(row).value());
                          return true;
                        });
  if (!next) return next.error();
  out.next_cursor = std::move(next).value();
  return out;
}

result<deadline_page> sla_reader::overdue(const scope& sc, civil_date today,
                                          std::string_view cursor, std::size_t limit) const {
  return range(scope_prefix(keys::worklist_scope(sc)), "", today.to_string(), cursor, limit);
}

result<deadline_page> sla_reader::due_soon(const scope& sc, civil_date today, working_days within,
                                           std::string_view cursor, std::size_t limit) const {
  civil_date last = today;
  if (within() > 0) {
    auto d = cal_.add_working_days(today, within);
    if (!d) return d.error();
    last = d.value();
  }
  return range(scope_prefix(keys::worklist_scope(sc)), today.to_string(),
               last.plus_days(1).to_string(), cursor, limit);
}

result<std::vector<deadline_row>> sla_reader::to_remind(civil_date today, std::size_t limit) const {
  auto page = range("", "", today.to_string(), {}, limit);
  if (!page) return page.error();
  return std::move(page.value().items);
}

}  // namespace caseline::projections
