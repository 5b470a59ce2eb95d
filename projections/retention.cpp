#include "projections/retention.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>

#include "core/binary.h"
#include "core/errc.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/storage/scan.h"
#include "projections/case_row.h"
#include "projections/row_keys.h"

namespace caseline::projections {

namespace {

std::string encode_entry(const retention_entry& e) {
  return core::binary_encode(e.case_id, e.sequence, e.kind, e.item, e.on, e.by, e.retain_until,
                             e.note);
}

result<retention_entry> decode_entry(std::string_view bytes) {
  try {
    core::binary_input ar(bytes);
    retention_entry e;
    ar(e.case_id, e.sequence, e.kind, e.item, e.on, e.by, e.retain_until, e.note);
    return e;
  } catch (const std::exception& ex) {
    return make_error(events::errc::corrupt_record, std::string("retention entry: ") + ex.what());
  }
}

}  // namespace

result<void> retention_projection::apply(const decoded_event& e, rocksdb::WriteBatch& batch) {
  retention_entry r;
  r.case_id = e.env.case_id();
  r.sequence = e.env.sequence();
  r.by = e.env.by.user;
  const bool relevant = std::visit(
      [&](const auto& ev) {
        using E = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<E, core::recording_purged>) {
          r.kind = "recording_purged";
          r.item = core::retained_item::recording;
          r.on = ev.purged_on;
          r.retain_until = ev.retain_until;
          r.note = ev.sha256;
        } else if constexpr (std::is_same_v<E, core::text_shredded>) {
          r.kind = "text_shredded";
          r.on = ev.shredded_on;
          r.retain_until = ev.retain_until;
        } else if constexpr (std::is_same_v<E, core::purge_refused>) {
          r.kind = "purge_refused";
          r.item = ev.item;
          r.on = ev.attempted_on;
          r.retain_until = ev.retain_until;
          r.note = ev.rule;
        } else if constexpr (std::is_same_v<E, core::legal_hold_placed>) {
          r.kind = "legal_hold_placed";
          r.on = ev.placed_on;
          r.note = ev.reason;
        } else if constexpr (std::is_same_v<E, core::legal_hold_lifted>) {
          r.kind = "legal_hold_lifted";
          r.on = ev.lifted_on;
          r.note = ev.reason;
        } else {
          return false;
        }
        return true;
      },
      e.event);
  if (relevant)
    batch.Put(store_.cf(family::retention), keys::case_sequence{r.case_id, r.sequence}.encode(),
              encode_entry(r));
  return success();
}

result<retention_audit> audit_retention(store& s, const core::retention_policy& policy,
                                        civil_date as_of, const blob_store* blobs, key_store* keys,
                                        const rocksdb::Snapshot* at) {
  const auto taken = at ? nullptr : s.snapshot();  // none for a read-only store (store.h)
  if (!at) at = taken.get();
  retention_audit a;
  a.as_of = as_of;
  a.policy = policy;
  // The trail first: purges are checked against the case's own dates below.
  auto trail = storage::scan(
      s.db(), s.cf(family::retention), {}, "read the retention trail",
      [&](std::string_view, std::string_view value) -> result<storage::scan_step> {
        auto e = decode_entry(value);
        if (!e) return e.error();
        if (e.value().kind == "purge_refused") ++a.refused;
        a.history.push_back(std::move(e).value());
        return storage::scan_step::next;
      },
      at);
  if (!trail) return trail.error();
  const auto audit_case = [&](std::string_view,
                              std::string_view value) -> result<storage::scan_step> {
    auto row = decode_case_row(value);
    if (!row) return row.error();
    const core::case_state& st = row.value().state;
    auto judge = [&](core::retained_item item, std::optional<civil_date> until,
                     std::optional<civil_date> purged_on, std::string sha) {
      retained_status r{st.id(), st.owner_center(), item, std::move(sha), until, "kept", purged_on};
      if (purged_on) {
        r.status = "purged";
        ++a.purged;
        if (!until || *purged_on <= *until)
          a.violations.push_back(fmt::format("{} {}: purged on {} but kept until {}", st.id(),
                                             core::to_string(item), purged_on->to_string(),
                                             until ? until->to_string() : "its archiving"));
      } else if (st.legal_hold) {
        r.status = "held";
        ++a.held;
      } else if (until && as_of > *until) {
        r.status = "eligible";
        ++a.eligible;
      } else {
        ++a.kept;
      }
      a.items.push_back(std::move(r));
    };
    if (st.recording) {
      judge(core::retained_item::recording, core::recording_retain_until(st, policy),
            st.recording_purged_on, st.recording->sha256);
      if (st.recording_purged_on && blobs && blobs->exists(st.recording->sha256))
        a.violations.push_back(st.id() + " recording: purged, but its audio is still stored");
    }
    judge(core::retained_item::text, core::text_retain_until(st, policy), st.text_shredded_on, {});
    if (st.text_shredded_on && keys) {
      auto key = keys->get(st.id);
      if (!key) return key.error();
      if (key.value()) a.violations.push_back(st.id() + " text: shredded, but its key remains");
    }
    return storage::scan_step::next;
  };
  auto cases = storage::scan(s.db(), s.cf(family::cases), {}, "read the cases", audit_case, at);
  if (!cases) return cases.error();
  return a;
}

std::string retention_audit_text(const retention_audit& a) {
  std::string out = fmt::format(
      "retention audit as of {} (audio {} year(s), text {} year(s), both from "
      "archiving)\n{} kept, {} eligible for purge, {} on legal hold, {} purged, {} refused "
      "attempts\n",
      a.as_of.to_string(), a.policy.recording_years, a.policy.text_years, a.kept, a.eligible,
      a.held, a.purged, a.refused);
  for (const auto& i : a.items)
    out += fmt::format(
        "  {:<24} {:<9} retain until {:<10}  {}{}\n", i.case_id, core::to_string(i.item),
        i.retain_until ? i.retain_until->to_string()
                       : fmt::format("(archiving + {}y)", i.item == core::retained_item::recording
                                                              ? a.policy.recording_years
                                                              : a.policy.text_years),
        i.status, i.purged_on ? " on " + i.purged_on->to_string() : "");
  for (const auto& h : a.history)
    out += fmt::format("  {} #{} {} {} on {} by {}{}\n", h.case_id, h.sequence, h.kind,
                       core::to_string(h.item), h.on.to_string(), h.by,
                       h.note.empty() ? "" : " (" + h.note + ")");
  out += a.ok() ? "verdict: nothing was purged before its retain-until date\n"
                : "verdict: VIOLATIONS\n";
  for (const auto& v : a.violations) out += "  " + v + "\n";
  return out;
}

result<command_outcome> submit_and_wait(case_writer& writer, command_request request,
                                        std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<result<command_outcome>>>();
  auto future = promise->get_future();
  writer.submit(std::move(request),
                [promise](result<command_outcome> r) { promise->set_value(std::move(r)); });
  if (future.wait_for(timeout) != std::future_status::ready)
    return make_error(events::errc::timed_out, "the command did not complete in time");
  return future.get();
}

result<std::vector<std::string>> purge_plan(store& s, const core::retention_policy& policy,
                                            civil_date as_of) {
  auto audit = audit_retention(s, policy, as_of, nullptr, nullptr);
  if (!audit) return audit.error();
  std::vector<std::string> out;
  for (const auto& item : audit.value().items)
    if (item.status == "eligible")
      out.push_back(item.case_id + " " + std::string(core::to_string(item.item)));
  return out;
}

namespace {

// The commands of a purge in flight: at most `limit` submitted and not yet answered. Answers
// arrive on writer threads (or on the submitting thread), each only noted here.
class in_flight_window {
 public:
  explicit in_flight_window(std::size_t limit) : limit_(std::max<std::size_t>(limit, 1)) {}
  // Waits for room, then counts one more in flight.
  void enter() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return open_ < limit_; });
    ++open_;
  }
  void leave() {
    std::lock_guard lk(mu_);
    --open_;
    cv_.notify_all();
  }
  void drain() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return open_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t limit_;
  std::size_t open_{0};  // guarded by mu_
};

// The command's partition is no longer this server's to write (a rebalance moved it): its new
// owner takes the item.
bool partition_moved(const error& e) {
  return e.code == events::errc::not_owner || e.code == events::errc::fenced;
}

bool wanted(const purge_options& o, const std::string& id) {
  if (!o.partitions) return true;
  const auto p = events::partition_for(id, o.partition_count);
  return std::find(o.partitions->begin(), o.partitions->end(), p) != o.partitions->end();
}

}  // namespace

void submit_windowed(case_writer& writer,
                     std::vector<std::pair<std::size_t, command_request>>&& requests,
                     const window_options& o,
                     const std::function<void(std::vector<windowed_answer>&)>& settle) {
  in_flight_window window(o.in_flight);
  std::mutex mu;
  std::vector<windowed_answer> answered;  // guarded by mu
  const auto take = [&] {
    std::vector<windowed_answer> batch;
    std::lock_guard lk(mu);
    batch.swap(answered);
    return batch;
  };
  for (auto& [index, req] : requests) {
    if (o.cancel && o.cancel->load()) break;
    window.enter();
    writer.submit(std::move(req), [&, index = index](result<command_outcome> r) {
      {
        std::lock_guard lk(mu);
        answered.push_back({index, std::move(r)});
      }
      window.leave();
    });
    bool full = false;
    {
      std::lock_guard lk(mu);
      full = answered.size() >= o.settle_every;
    }
    if (full) {
      auto batch = take();
      settle(batch);
    }
  }
  window.drain();
  auto rest = take();
  settle(rest);
}

result<purge_outcome> purge_retention(store& s, case_writer& writer, key_store& keys,
                                      recording_store& recordings,
                                      const core::retention_policy& policy,
                                      const purge_options& o) {
  auto audit = audit_retention(s, policy, o.as_of, nullptr, nullptr);
  if (!audit) return audit.error();
  purge_progress local_progress;
  purge_progress& progress = o.progress ? *o.progress : local_progress;
  purge_outcome out;
  const auto label_of = [](const retained_status& item) {
    return item.case_id + " " + std::string(core::to_string(item.item));
  };
  const auto failed = [&](std::string text) {
    out.failed.push_back(std::move(text));
    progress.failed.fetch_add(1);
  };
  const auto moved = [&](const retained_status& item, const error& e, bool decided) {
    out.moved.push_back({label_of(item), events::partition_for(item.case_id, o.partition_count),
                         e.message(), decided});
    if (!decided) progress.moved.fetch_add(1);
  };
  std::vector<const retained_status*> plan;
  std::vector<case_id> shredded_texts;  // purged before: their keys should be gone
  for (const auto& item : audit.value().items) {
    if (!wanted(o, item.case_id)) continue;
    if (item.status == "eligible") {
      plan.push_back(&item);
      continue;
    }
    // Repairs: the event is in the log but the bytes or key were not deleted (a crash between).
    if (item.status != "purged" || o.dry_run) continue;
    if (item.item == core::retained_item::recording && recordings.blobs().exists(item.sha256)) {
      if (auto r = recordings.purge(item.sha256, case_id{item.case_id}); !r) {
        if (partition_moved(r.error()))
          moved(item, r.error(), true);
        else
          failed(label_of(item) + ": " + r.error().message());
      }
    }
    if (item.item == core::retained_item::text) shredded_texts.push_back(case_id{item.case_id});
  }
  progress.planned.store(plan.size());
  if (!shredded_texts.empty()) {
    // Local only: a shred cut short here left the key here (and, in a group, commits its
    // tombstone again).
    auto remains = keys.held(shredded_texts);
    if (!remains)
      failed("keys of shredded texts: " + remains.error().message());
    else if (!remains.value().empty())
      if (auto sh = keys.shred(remains.value()); !sh)
        for (const auto& id : remains.value()) failed(id() + " text: " + sh.error().message());
  }
  if (o.dry_run) {
    for (const auto* item : plan) out.done.push_back(label_of(*item));
    progress.done.store(plan.size());
    return out;
  }
  const auto request_for = [&](const retained_status& item, core::command cmd) {
    command_request req;
    req.id = case_id{item.case_id};
    req.cmd = std::move(cmd);
    req.who = o.who;
    req.who.center = center_code{item.owner_center};
    req.correlation_id = "retention-purge";
    return req;
  };
  std::vector<std::pair<std::size_t, command_request>> requests;
  requests.reserve(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i)
    requests.emplace_back(i, request_for(*plan[i], plan[i]->item == core::retained_item::recording
                                                       ? core::command{core::purge_recording{}}
                                                       : core::command{core::shred_text{}}));
  // A rule refused it (not yet past retain-until by the real clock, or held): recorded after.
  std::vector<std::pair<std::size_t, std::string>> refusals;
  const auto settle = [&](std::vector<windowed_answer>& answers) {
    std::vector<case_id> to_shred;
    std::vector<std::size_t> shred_items;
    for (auto& a : answers) {
      const auto& item = *plan[a.index];
      const auto label = label_of(item);
      if (!a.outcome) {
        const auto& e = a.outcome.error();
        if (e.code == core::errc::nothing_to_purge) continue;  // purged meanwhile: once only
        if (partition_moved(e))
          moved(item, e, false);
        else if (e.code.category() == core::error_category())
          refusals.emplace_back(a.index, e.message());
        else
          failed(label + ": " + e.message());
        continue;
      }
      if (item.item == core::retained_item::recording) {
        // Here and, in a group, on every server and in the audio topic.
        auto rm = recordings.purge(item.sha256, case_id{item.case_id});
        if (!rm && !partition_moved(rm.error())) {
          failed(label + ": " + rm.error().message());
          continue;
        }
        out.done.push_back(label);
        progress.done.fetch_add(1);
        // Its event is in the log; the new owner's purge deletes the audio (a repair).
        if (!rm) moved(item, rm.error(), true);
      } else {
        to_shred.push_back(case_id{item.case_id});
        shred_items.push_back(a.index);
      }
    }
    if (to_shred.empty()) return;
    // The text_shredded events are in the log by now; a crash before the shred is repaired by
    // the next run.
    if (auto sh = keys.shred(to_shred); !sh) {
      for (auto i : shred_items) failed(label_of(*plan[i]) + ": " + sh.error().message());
      return;
    }
    for (auto i : shred_items) out.done.push_back(label_of(*plan[i]));
    progress.done.fetch_add(shred_items.size());
  };
  const window_options window{o.in_flight, o.shred_batch, o.cancel};
  submit_windowed(writer, std::move(requests), window, settle);
  if (refusals.empty()) return out;
  std::vector<std::pair<std::size_t, command_request>> records;
  records.reserve(refusals.size());
  for (const auto& [i, rule] : refusals)
    records.emplace_back(i, request_for(*plan[i], core::record_refused_purge{plan[i]->item, rule}));
  std::map<std::size_t, std::string> rule_of(refusals.begin(), refusals.end());
  submit_windowed(writer, std::move(records), window, [&](std::vector<windowed_answer>& answers) {
    for (auto& a : answers) {
      const auto label = label_of(*plan[a.index]);
      if (!a.outcome && partition_moved(a.outcome.error())) {
        moved(*plan[a.index], a.outcome.error(), false);  // the new owner decides it again
        continue;
      }
      if (!a.outcome) failed(label + ": refusal not recorded: " + a.outcome.error().message());
      out.refused.push_back(label + ": " + rule_of[a.index]);
      progress.refused.fetch_add(1);
    }
  });
  return out;
}

result<purge_outcome> purge_retention(store& s, case_writer& writer, key_store& keys,
                                      recording_store& recordings,
                                      const core::retention_policy& policy, civil_date as_of,
                                      bool dry_run, const core::actor& who) {
  purge_options o;
  o.as_of = as_of;
  o.dry_run = dry_run;
  o.who = who;
  return purge_retention(s, writer, keys, recordings, policy, o);
}

}  // namespace caseline::projections
