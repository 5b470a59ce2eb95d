#include "tools/audit_cmd.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <ostream>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "core/codec.h"
#include "core/registry.h"
#include "events/checkpoint.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "projections/case_projection.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "projections/store.h"
#include "tools/progress.h"

namespace caseline::tools {

namespace {

// Whether a type id is one of core::registry_event's (they decode with decode_registry_event).
bool is_registry_type(std::uint16_t type_id) {
  return []<std::size_t... I>(std::uint16_t t, std::index_sequence<I...>) {
    return ((std::variant_alternative_t<I, core::registry_event>::type_id == t) || ...);
  }(type_id, std::make_index_sequence<std::variant_size_v<core::registry_event>>{});
}

std::string at(events::log_position pos) {
  return fmt::format("partition {} offset {}", pos.partition(), pos.offset());
}

// Running hashes kept between two checkpoints, so that a checkpoint's h(L) can be compared
// with the recomputed one for any L since the previous checkpoint. Bounded: a checkpoint that
// covers less than the window is reported as unverifiable rather than using unbounded memory.
constexpr std::size_t max_window = std::size_t{1} << 22;

void note(audit_report::problems& p, const std::string& what) {
  if (p.count++ == 0) p.first = what;
}

// Opens the sealed personal fields of one case event; one that fails its tag is a problem
// naming the case and the field (never a value).
void check_sealed(const sealed_fields& sealed, const events::envelope& e, const std::string& where,
                  audit_report& report) {
  auto ev = core::decode(e.type_id, e.version, e.body);
  if (!ev) return;  // reported by check_body
  if (auto opened = sealed.privacy.open(case_id{e.case_id()}, e.event_id, ev.value()); !opened)
    note(report.sealed, fmt::format("event {} ({}): {}", e.event_id, where,
                                    opened.error().message()));
}

}  // namespace

std::optional<std::string> chain_problem(const chain_head& head, const events::envelope& env,
                                         std::string_view record_key) {
  const std::string& id = env.case_id();
  if (record_key != id)
    return fmt::format("it belongs to {} but is in a record keyed {} (moved or inserted)", id,
                       record_key);
  if (env.event_id != fmt::format("{}#{}", id, env.sequence()))
    return fmt::format("its event id does not match its case and sequence {}", env.sequence());
  const std::uint64_t expected = head.sequence + 1;
  if (env.sequence() < expected)
    return fmt::format(
        "sequence {} comes after sequence {} ({} at {}): an event was inserted, duplicated or "
        "reordered",
        env.sequence(), head.sequence, head.last_event_id, at(head.last_position));
  if (env.sequence() > expected) {
    if (head.sequence == 0)
      return fmt::format("the case starts at sequence {}: events 1..{} are missing (deleted or "
                         "reordered)",
                         env.sequence(), env.sequence() - 1);
    return fmt::format(
        "sequence {} follows sequence {} ({} at {}): event {}#{} is missing (deleted or "
        "reordered)",
        env.sequence(), head.sequence, head.last_event_id, at(head.last_position), id, expected);
  }
  if (env.prev_hash != head.last_hash) {
    if (head.sequence == 0) return std::string("the first event of the case has a prev_hash");
    return fmt::format(
        "its prev_hash is not the SHA-256 of the stored bytes of {} at {}: that event or this "
        "one was edited, or an event was put in between",
        head.last_event_id, at(head.last_position));
  }
  return std::nullopt;
}

void advance(chain_head& head, const events::envelope& env, std::string_view stored_bytes,
             events::log_position pos) {
  head.sequence = env.sequence();
  head.last_hash = events::sha256(stored_bytes);
  head.last_event_id = env.event_id;
  head.last_position = pos;
}

result<void> check_body(const events::envelope& env) {
  if (is_registry_type(env.type_id)) {
    auto r = core::decode_registry_event(env.type_id, env.version, env.body);
    if (!r) return std::move(r).error();
    return success();
  }
  auto r = core::decode(env.type_id, env.version, env.body);
  if (!r) return std::move(r).error();
  return success();
}

result<void> scan_partition(events::event_log& log, events::partition_id p,
                            const std::function<bool(const events::log_record&)>& visit) {
  auto end = log.end_offset(p);
  if (!end) return std::move(end).error();
  std::int64_t next = 0;
  while (next < end.value()()) {
    const auto want = static_cast<std::size_t>(std::min<std::int64_t>(1024, end.value()() - next));
    auto got = log.read(p, events::log_offset{next}, want, std::chrono::milliseconds{0});
    if (!got) return std::move(got).error();
    if (got.value().empty())
      return make_error(events::errc::timed_out,
                        fmt::format("nothing read at partition {} offset {}", p(), next));
    for (const auto& r : got.value()) {
      if (r.position.offset() != next)
        return make_error(events::errc::corrupt_record,
                          fmt::format("partition {}: expected offset {}, read {}", p(), next,
                                      r.position.offset()));
      ++next;
      if (!visit(r)) return success();
      if (next >= end.value()()) break;
    }
  }
  return success();
}

checkpoint_verifier::outcome checkpoint_verifier::add(const events::log_record& r) {
  outcome o;
  o.checkpoint = events::is_checkpoint(r.value);
  if (auto added = hasher_.add(r); !added) {
    o.problem = added.error().detail;
    return o;
  }
  window_.emplace_back(r.position.offset(), hasher_.hash());
  if (window_.size() > max_window) window_.pop_front();
  if (!o.checkpoint) return o;

  last_checkpoint_ = r.position.offset();
  auto cp = events::decode_checkpoint(r.value);
  if (!cp) {
    o.problem = fmt::format("checkpoint at {}: {}", at(r.position), cp.error().detail);
    return o;
  }
  const auto& c = cp.value();
  const std::int64_t last = c.last_offset();
  if (c.partition != r.position.partition || last >= r.position.offset() || last < covered_) {
    o.problem = fmt::format(
        "checkpoint at {} claims partition {} offsets 0..{}: not a checkpoint of this place "
        "(moved, or rewritten)",
        at(r.position), c.partition(), last);
    return o;
  }
  auto it = std::find_if(window_.begin(), window_.end(),
                         [&](const auto& e) { return e.first == last; });
  if (it == window_.end()) {
    o.problem = fmt::format("checkpoint at {} covers offsets 0..{}, too far behind it to check",
                            at(r.position), last);
    return o;
  }
  if (it->second != c.running_hash) {
    o.problem = fmt::format(
        "checkpoint at {} (covering offsets 0..{}) does not match the records: a record at "
        "offsets {}..{} was edited, inserted, deleted or reordered, or the checkpoint was "
        "rewritten (recomputed {}, stored {})",
        at(r.position), last, covered_ + 1, last, events::to_hex(it->second).substr(0, 16),
        events::to_hex(c.running_hash).substr(0, 16));
    return o;
  }
  ++verified_;
  anchor_ = fmt::format("partition {} offset {} covers 0..{} h={}", r.position.partition(),
                        r.position.offset(), last, events::to_hex(c.running_hash));
  covered_ = last;
  window_.erase(window_.begin(), it);  // later checkpoints cover at least this much
  return o;
}

result<audit_report> audit_log(
    events::event_log& log,
    const std::function<void(std::uint64_t done, std::uint64_t total)>& on_progress,
    const sealed_fields* sealed) {
  audit_report report;
  report.sealed_checked = sealed != nullptr;
  const std::int32_t partitions = log.partition_count();
  std::uint64_t total = 0;
  for (std::int32_t p = 0; p < partitions; ++p) {
    auto end = log.end_offset(events::partition_id{p});
    if (!end) return std::move(end).error();
    total += static_cast<std::uint64_t>(end.value()());
  }
  std::uint64_t done = 0;
  if (on_progress) on_progress(0, total);

  for (std::int32_t pi = 0; pi < partitions; ++pi) {
    const events::partition_id p{pi};
    checkpoint_verifier verifier(p);
    std::unordered_map<std::string, chain_head> heads;

    auto visit = [&](const events::log_record& r) -> bool {
      ++report.records;
      if (on_progress) on_progress(++done, total);
      const auto checked = verifier.add(r);
      if (checked.problem) {
        note(checked.checkpoint ? report.checkpoint : report.log, *checked.problem);
        if (!checked.checkpoint) return false;
      }
      if (checked.checkpoint) return true;

      auto rec = events::decode_record(r.value);
      if (!rec) {
        note(report.record, fmt::format("record at {} (key {}): {}", at(r.position), r.key,
                                        rec.error().detail));
        return true;
      }
      for (const std::string& bytes : rec.value().events) {
        auto env = events::decode_envelope(bytes);
        if (!env) {
          note(report.record, fmt::format("record at {} (key {}): {}", at(r.position), r.key,
                                          env.error().detail));
          continue;
        }
        const auto& e = env.value();
        if (events::partition_for(e.case_id(), partitions) != p)
          note(report.record, fmt::format("event {} at {}: its case belongs to partition {}",
                                          e.event_id, at(r.position),
                                          events::partition_for(e.case_id(), partitions)()));
        chain_head& head = heads[e.case_id()];
        if (auto problem = chain_problem(head, e, r.key)) {
          note(report.chain, fmt::format("event {} (sequence {}, {}): {}", e.event_id,
                                         e.sequence(), at(r.position), *problem));
        } else {
          ++report.events;
        }
        if (auto body = check_body(e); !body)
          note(report.record, fmt::format("event {} (sequence {}, {}): the body does not decode: {}",
                                          e.event_id, e.sequence(), at(r.position),
                                          body.error().message()));
        else if (sealed && !is_registry_type(e.type_id))
          check_sealed(*sealed, e, at(r.position), report);
        // Resynchronise on this event, so that one bad event is one problem, not every later one.
        advance(head, e, bytes, r.position);
      }
      return true;
    };
    if (auto r = scan_partition(log, p, visit); !r)
      note(report.log, fmt::format("partition {}: {}", pi, r.error().message()));
    report.cases += heads.size();
    report.checkpoints += verifier.verified();
    if (!verifier.anchor().empty()) report.anchors.push_back(verifier.anchor());
    report.uncovered += static_cast<std::uint64_t>(verifier.end() - 1 - verifier.last_checkpoint());
  }
  if (sealed && sealed->store) {
    auto rows = projections::case_reader(*sealed->store).for_each(
        [&](const case_id& id, result<projections::case_row> row) {
          if (!row) return note(report.sealed, fmt::format("case {} (stored state): {}", id(),
                                                           row.error().message()));
          if (auto opened = sealed->privacy.open(row.value().state); !opened)
            note(report.sealed, fmt::format("case {} (stored state): {}", id(),
                                            opened.error().message()));
        });
    if (!rows) return std::move(rows).error();
  }
  return report;
}

result<std::unique_ptr<events::event_log>> open_existing_log(const store_options& options) {
  if (options.kafka.empty()) {
    const auto dir = std::filesystem::path(options.data_dir) / "log";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      return make_error(events::errc::bad_config, "there is no embedded log at " + dir.string());
    return events::open_embedded_log({dir.string(), options.partitions, 4096, true});
  }
  return open_log(options);
}

int run_audit_verify(const audit_options& options, std::ostream& out, std::ostream& err) {
  auto log = open_existing_log(options.store);
  if (!log) {
    err << "caseline audit verify: " << log.error().message() << "\n";
    return 2;
  }
  // The sealed fields, when this data folder holds the case keys.
  const std::filesystem::path data(options.store.data_dir);
  std::unique_ptr<projections::key_store> keys;
  std::unique_ptr<projections::store> store;
  std::optional<projections::personal_data> privacy;
  std::optional<sealed_fields> sealed;
  std::string sealed_skipped = "there are no case keys in " + (data / "keys").string();
  if (std::error_code ec; std::filesystem::is_directory(data / "keys", ec)) {
    auto master = projections::load_master_key({options.store.master_key_file,
                                                options.store.master_key_hex,
                                                (data / "master.key").string()});
    // The store before the keys: a case's key is written before its first event, so every
    // row the store holds has its key in a key store opened after it (the server may be running).
    auto st = projections::store::open_secondary((data / "store").string());
    auto k = master ? projections::key_store::open_secondary((data / "keys").string(), master.value())
                    : result<std::unique_ptr<projections::key_store>>(master.error());
    if (k) {
      keys = std::move(k).value();
      privacy.emplace(*keys);
      sealed.emplace(sealed_fields{*privacy, nullptr});
      if (st) {
        store = std::move(st).value();
        sealed->store = store.get();
      } else {
        err << "caseline audit verify: the stored case rows are not checked: "
            << st.error().message() << "\n";
      }
    } else {
      sealed_skipped = k.error().message();
    }
  }
  std::optional<progress_bar> bar;
  if (options.progress) bar.emplace(err, "verifying", 0);
  auto report = audit_log(
      *log.value(),
      [&](std::uint64_t done, std::uint64_t total) {
        if (!bar) return;
        bar->set_total(total);
        bar->update(done);
      },
      sealed ? &*sealed : nullptr);
  if (bar) bar->finish();
  if (!report) {
    err << "caseline audit verify: " << report.error().message() << "\n";
    return 2;
  }
  const audit_report& r = report.value();
  out << fmt::format(
      "records {}, events {}, cases {}, checkpoints verified {}, records after the last "
      "checkpoint {}\n",
      r.records, r.events, r.cases, r.checkpoints, r.uncovered);
  if (!r.sealed_checked) out << "sealed fields not checked: " << sealed_skipped << "\n";
  const std::pair<const char*, const audit_report::problems*> kinds[] = {
      {"chain", &r.chain},   {"record", &r.record}, {"checkpoint", &r.checkpoint},
      {"log", &r.log},       {"sealed field", &r.sealed}};
  for (const auto& [name, p] : kinds) {
    if (p->count == 0) continue;
    out << fmt::format("{} problems: {}; first: {}\n", name, p->count, p->first);
  }
  for (const auto& a : r.anchors) out << "last checkpoint: " << a << "\n";
  out << (r.clean() ? "verified: every chain and checkpoint holds\n"
                    : "TAMPERED: the log does not verify\n");
  return r.clean() ? 0 : 1;
}

}  // namespace caseline::tools
