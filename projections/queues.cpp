#include "projections/queues.h"

#include <memory>
#include <set>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/decide.h"
#include "core/errc.h"
#include "projections/paging.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace {

using core::case_status;

std::string queue_prefix(queue_kind q, std::string_view scope_key) {
  return keys::queue::prefix(to_string(q), scope_key);
}

std::string queue_key(const queue_item& item, const scope& sc) {
  return keys::queue{std::string(to_string(item.queue)), keys::worklist_scope(sc),
                     item.major_urgent, item.due, item.id()}
      .encode();
}

// Every row a case contributes to the queue and deadline families, by family and key.
using row_set = std::map<std::pair<family, std::string>, std::string>;

row_set rows_of(const core::case_state& s) {
  row_set rows;
  if (auto item = queue_entry(s)) {
    const std::string value = detail::encode_row(*item);
    rows[{family::queues, queue_key(*item, scope::of_center(item->center))}] = value;
    if (!item->unit().empty())
      rows[{family::queues, queue_key(*item, scope::of_unit(item->unit))}] = value;
  }
  for (const auto& d : pending_deadlines(s)) {
    const std::string value = encode_deadline_row(d);
    for (auto& k : deadline_keys(d)) rows[{family::sla_deadlines, std::move(k)}] = value;
    if (!d.reminded) rows[{family::sla_remind, remind_key(d)}] = value;
  }
  return rows;
}

}  // namespace

std::string_view to_string(queue_kind q) {
  switch (q) {
    case queue_kind::to_classify: return "to_classify";
    case queue_kind::to_transfer: return "to_transfer";
    case queue_kind::at_unit: return "at_unit";
    case queue_kind::returned: return "returned";
    case queue_kind::escalated: return "escalated";
    case queue_kind::awaiting_revisit: return "awaiting_revisit";
    case queue_kind::to_archive: return "to_archive";
  }
  return "unknown";
}

std::optional<queue_kind> parse_queue_kind(std::string_view s) {
  for (auto q : all_queues)
    if (to_string(q) == s) return q;
  return std::nullopt;
}

std::optional<queue_item> queue_entry(const core::case_state& s) {
  queue_item item;
  item.id = s.id;
  item.center = s.owner_center;
  item.status = s.status;
  item.major_urgent = s.major_urgent;
  item.cat = s.cat;
  item.dom = s.dom;
  item.received_on = s.received_on;
  const auto by_transfer_deadline = [&](queue_kind q) {
    item.queue = q;
    item.due_kind = core::deadline_kind::transfer;
    item.due = s.transfer_due;
    item.due_provisional = s.transfer_basis.provisional;
  };
  const auto by_date = [&](queue_kind q, std::optional<civil_date> since) {
    item.queue = q;
    item.due = since.value_or(s.received_on);
  };
  switch (s.status) {
    case case_status::received: by_transfer_deadline(queue_kind::to_classify); break;
    case case_status::classified: by_transfer_deadline(queue_kind::to_transfer); break;
    case case_status::returned: by_transfer_deadline(queue_kind::returned); break;
    case case_status::escalated: by_transfer_deadline(queue_kind::escalated); break;
    case case_status::transferred:
    case case_status::reopened:
      item.queue = queue_kind::at_unit;
      item.due_kind = core::deadline_kind::reply;
      item.due = s.reply_due.value_or(s.transfer_due);
      item.due_provisional = s.reply_due ? s.reply_basis.provisional : s.transfer_basis.provisional;
      item.unit = s.unit.value_or(unit_id{});
      break;
    case case_status::replied:
      if (s.revisit_required && !s.revisited)
        by_date(queue_kind::awaiting_revisit, s.replied_on);
      else
        by_date(queue_kind::to_archive, s.closed_on);
      break;
    case case_status::answered:
      // Art. 23(1): a matter answered at once that the sample picked waits for its revisit.
      if (s.revisit_required && !s.revisited)
        by_date(queue_kind::awaiting_revisit, s.closed_on);
      else
        by_date(queue_kind::to_archive, s.closed_on);
      break;
    case case_status::not_accepted:
    case case_status::redirected:
    case case_status::revisited: by_date(queue_kind::to_archive, s.closed_on); break;
    case case_status::none:
    case case_status::archived: return std::nullopt;
  }
  return item;
}

// Each touched case's rows are replaced once per batch: from its rows when the batch began to
// its rows after the batch's last event.
result<void> queue_projection::prepare_commit(rocksdb::WriteBatch& batch) {
  for (const auto& [id, t] : cases_.touched()) {
    const row_set before = rows_of(t.before);
    const row_set after = rows_of(t.now.state);
    for (const auto& [key, value] : before)
      if (!after.contains(key)) batch.Delete(store_.cf(key.first), key.second);
    for (const auto& [key, value] : after) {
      const auto old = before.find(key);
      if (old == before.end() || old->second != value)
        batch.Put(store_.cf(key.first), key.second, value);
    }
  }
  return success();
}

result<queue_page> queue_reader::page(const queue_query& q) const {
  const scope& sc = q.sc;
  const std::size_t limit = q.limit;
  if (sc.kind != core::scope_kind::center && sc.kind != core::scope_kind::unit)
    return make_field_error(core::errc::invalid_argument, "center",
                            "a queue belongs to a center or a unit");
  queue_page out;
  auto next = scan_page(
      store_, family::queues, {queue_prefix(q.queue, keys::worklist_scope(sc)), {}, {}}, q.cursor,
      limit, "read queue", [&](std::string_view, std::string_view value) -> result<bool> {
        auto item = detail::decode_row<queue_item>(value, "queue item");
        if (!item) return item.error();
        // A unit's queue: only the center asked for, when both are given.
        if (const auto c = sc.named_center();
            sc.kind == core::scope_kind::unit && c && item.value().center != *c)
          return false;
        out.items.push_back(std::move(item).value());
        return true;
      });
  if (!next) return next.error();
  out.next_cursor = std::move(next).value();
  return out;
}

}  // namespace caseline::projections
