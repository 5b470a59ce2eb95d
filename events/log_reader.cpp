#include "events/log_reader.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include <fmt/format.h>

#include "core/codec.h"
#include "events/errc.h"

namespace caseline::events {

namespace {

std::string at(log_position pos) {
  return fmt::format("partition {} offset {}", pos.partition(), pos.offset());
}

// Running hashes kept between two checkpoints, so that a checkpoint's h(L) can be compared
// with the recomputed one for any L since the previous checkpoint. Bounded: a checkpoint that
// covers less than the window is reported as unverifiable rather than using unbounded memory.
constexpr std::size_t max_window = std::size_t{1} << 22;

// Whether one of the variant's alternatives has the type id.
template <class Variant, std::size_t... I>
bool any_type_id(std::uint16_t type_id, std::index_sequence<I...> /*alternatives*/) {
  return ((std::variant_alternative_t<I, Variant>::type_id == type_id) || ...);
}

// Records per read while scanning a partition.
constexpr std::int64_t scan_batch = 1024;

}  // namespace

// ------------------------------------------------------------------------------------ decode

error decode_error::to_error() const {
  if (stage == decode_stage::body)
    return make_error(cause.code,
                      fmt::format("partition {} offset {} event {}: {}", position.partition(),
                                  position.offset(), event_id, cause.detail));
  return make_error(cause.code, fmt::format("partition {} offset {}: {}", position.partition(),
                                            position.offset(), cause.detail));
}

decode_result<record_events> record_events::decode(const log_record& r) {
  auto rec = decode_record(r.value);
  if (!rec) return decode_error{decode_stage::record, r.position, 0, {}, 0, std::move(rec).error()};
  record_events out;
  out.position_ = r.position;
  out.record_ = std::move(rec).value();
  return out;
}

decode_result<logged_event> record_events::event(std::uint32_t i) const {
  return decode_stored_event(record_.events.at(i), position_, i);
}

decode_result<logged_event> decode_stored_event(std::string_view bytes, log_position position,
                                                std::uint32_t index) {
  auto env = decode_envelope(bytes);
  if (!env)
    return decode_error{decode_stage::envelope, position, index, {}, 0, std::move(env).error()};
  return logged_event{std::move(env).value(), bytes, position, index};
}

bool is_registry_type(std::uint16_t type_id) {
  return any_type_id<core::registry_event>(
      type_id, std::make_index_sequence<std::variant_size_v<core::registry_event>>{});
}

result<typed_event> decode_body(const envelope& env) {
  if (is_registry_type(env.type_id)) {
    auto r = core::decode_registry_event(env.type_id, env.version, env.body);
    if (!r) return std::move(r).error();
    return typed_event{std::move(r).value()};
  }
  auto r = core::decode(env.type_id, env.version, env.body);
  if (!r) return std::move(r).error();
  return typed_event{std::move(r).value()};
}

decode_result<typed_event> decode_body(const logged_event& e) {
  auto r = decode_body(e.env);
  if (!r)
    return decode_error{decode_stage::body, e.position,       e.index,
                        e.env.event_id,     e.env.sequence(), std::move(r).error()};
  return std::move(r).value();
}

decode_result<core::event> decode_case_event(const logged_event& e) {
  auto r = core::decode(e.env.type_id, e.env.version, e.env.body);
  if (!r)
    return decode_error{decode_stage::body, e.position,       e.index,
                        e.env.event_id,     e.env.sequence(), std::move(r).error()};
  return std::move(r).value();
}

// ---------------------------------------------------------------------------------- the chain

envelope new_event(const ::caseline::case_id& stream, core::encoded_event body) {
  envelope env;
  env.case_id = stream;
  env.type_id = body.type_id;
  env.version = body.version;
  env.body = std::move(body.bytes);
  return env;
}

std::string link_next(envelope& env, std::uint64_t previous, std::string& last_hash) {
  env.sequence = sequence_number{previous + 1};
  env.event_id = event_id_of(env.case_id, env.sequence);
  env.prev_hash = last_hash;
  std::string bytes = encode_envelope(env);
  last_hash = sha256(bytes);
  return bytes;
}

std::optional<chain_fault> follows(std::uint64_t sequence, std::string_view last_hash,
                                   const envelope& env) {
  if (env.sequence() <= sequence) return chain_fault::repeated;
  if (env.sequence() > sequence + 1) return chain_fault::missing;
  if (env.prev_hash != last_hash) return chain_fault::hash;
  return std::nullopt;
}

std::optional<chain_break> check_link(const chain_head& head, const envelope& env,
                                      std::string_view record_key) {
  const std::string& id = env.case_id();
  if (record_key != id)
    return chain_break{chain_fault::foreign_key,
                       fmt::format("it belongs to {} but is in a record keyed {} (moved or "
                                   "inserted)",
                                   id, record_key)};
  if (env.event_id != event_id_of(env.case_id, env.sequence))
    return chain_break{
        chain_fault::event_id,
        fmt::format("its event id does not match its case and sequence {}", env.sequence())};
  const auto fault = follows(head.sequence, head.last_hash, env);
  if (!fault) return std::nullopt;
  const std::uint64_t expected = head.sequence + 1;
  switch (*fault) {
    case chain_fault::repeated:
      return chain_break{
          *fault,
          fmt::format("sequence {} comes after sequence {} ({} at {}): an event was "
                      "inserted, duplicated or reordered",
                      env.sequence(), head.sequence, head.last_event_id, at(head.last_position))};
    case chain_fault::missing:
      if (head.sequence == 0)
        return chain_break{*fault,
                           fmt::format("the case starts at sequence {}: events 1..{} are missing "
                                       "(deleted or reordered)",
                                       env.sequence(), env.sequence() - 1)};
      return chain_break{*fault,
                         fmt::format("sequence {} follows sequence {} ({} at {}): event {}#{} is "
                                     "missing (deleted or reordered)",
                                     env.sequence(), head.sequence, head.last_event_id,
                                     at(head.last_position), id, expected)};
    default:
      if (head.sequence == 0)
        return chain_break{*fault, "the first event of the case has a prev_hash"};
      return chain_break{
          *fault, fmt::format("its prev_hash is not the SHA-256 of the stored bytes of {} at {}: "
                              "that event or this one was edited, or an event was put in between",
                              head.last_event_id, at(head.last_position))};
  }
}

void advance(chain_head& head, const logged_event& e) {
  head.sequence = e.env.sequence();
  head.last_hash = sha256(e.stored_bytes);
  head.last_event_id = e.env.event_id;
  head.last_position = e.position;
}

// ----------------------------------------------------------------------- reading a partition

result<void> scan_partition(event_log& log, partition_id p,
                            const std::function<bool(const log_record&)>& visit) {
  auto end = log.end_offset(p);
  if (!end) return std::move(end).error();
  std::int64_t next = 0;
  while (next < end.value()()) {
    const auto want = static_cast<std::size_t>(std::min(scan_batch, end.value()() - next));
    auto got = log.read(p, log_offset{next}, want, std::chrono::milliseconds{0});
    if (!got) return std::move(got).error();
    if (got.value().empty())
      return make_error(errc::timed_out,
                        fmt::format("nothing read at partition {} offset {}", p(), next));
    for (const auto& r : got.value()) {
      if (r.position.offset() != next)
        return make_error(errc::corrupt_record,
                          fmt::format("partition {}: expected offset {}, read {}", p(), next,
                                      r.position.offset()));
      ++next;
      if (!visit(r)) return success();
      if (next >= end.value()()) break;
    }
  }
  return success();
}

result<void> scan_events(
    event_log& log, partition_id p,
    const std::function<bool(const logged_event&, const typed_event&)>& visit) {
  std::optional<error> failed;
  auto scanned = scan_partition(log, p, [&](const log_record& r) {
    if (!holds_events(r.value)) return true;
    auto events_of = record_events::decode(r);
    if (!events_of) {
      failed = events_of.error().to_error();
      return false;
    }
    for (std::uint32_t i = 0; i < events_of.value().size(); ++i) {
      auto e = events_of.value().event(i);
      if (!e) {
        failed = e.error().to_error();
        return false;
      }
      auto body = decode_body(e.value());
      if (!body) {
        failed = body.error().to_error();
        return false;
      }
      if (!visit(e.value(), body.value())) return false;
    }
    return true;
  });
  if (!scanned) return scanned;
  if (failed) return std::move(*failed);
  return success();
}

checkpoint_verifier::outcome checkpoint_verifier::add(const log_record& r) {
  outcome o;
  o.checkpoint = is_checkpoint(r.value);
  if (auto added = hasher_.add(r); !added) {
    o.problem = added.error().detail;
    return o;
  }
  window_.emplace_back(r.position.offset(), hasher_.hash());
  if (window_.size() > max_window) window_.pop_front();
  if (!o.checkpoint) return o;

  last_checkpoint_ = r.position.offset();
  auto cp = decode_checkpoint(r.value);
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
  auto it =
      std::find_if(window_.begin(), window_.end(), [&](const auto& e) { return e.first == last; });
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
        at(r.position), last, covered_ + 1, last, to_hex(it->second).substr(0, 16),
        to_hex(c.running_hash).substr(0, 16));
    return o;
  }
  ++verified_;
  anchor_ = fmt::format("partition {} offset {} covers 0..{} h={}", r.position.partition(),
                        r.position.offset(), last, to_hex(c.running_hash));
  covered_ = last;
  window_.erase(window_.begin(), it);  // later checkpoints cover at least this much
  return o;
}

// -------------------------------------------------------------------- verifying the whole log

void problem_tally::note(std::string what) {
  if (count++ == 0) first = std::move(what);
}

result<log_verification> verify_log(
    event_log& log, const std::function<void(std::uint64_t done, std::uint64_t total)>& on_progress,
    const std::function<void(const logged_event&, const typed_event&)>& on_event) {
  log_verification report;
  const std::int32_t partitions = log.partition_count();
  std::uint64_t total = 0;
  for (std::int32_t p = 0; p < partitions; ++p) {
    auto end = log.end_offset(partition_id{p});
    if (!end) return std::move(end).error();
    total += static_cast<std::uint64_t>(end.value()());
  }
  std::uint64_t done = 0;
  if (on_progress) on_progress(0, total);

  for (std::int32_t pi = 0; pi < partitions; ++pi) {
    const partition_id p{pi};
    checkpoint_verifier verifier(p);
    std::unordered_map<std::string, chain_head> heads;

    auto visit = [&](const log_record& r) -> bool {
      ++report.records;
      if (on_progress) on_progress(++done, total);
      const auto checked = verifier.add(r);
      if (checked.problem) {
        (checked.checkpoint ? report.checkpoint : report.log).note(*checked.problem);
        if (!checked.checkpoint) return false;
      }
      if (checked.checkpoint) return true;

      auto rec = record_events::decode(r);
      if (!rec) {
        report.record.note(fmt::format("record at {} (key {}): {}", at(r.position), r.key,
                                       rec.error().cause.detail));
        return true;
      }
      for (std::uint32_t i = 0; i < rec.value().size(); ++i) {
        auto ev = rec.value().event(i);
        if (!ev) {
          report.record.note(fmt::format("record at {} (key {}): {}", at(r.position), r.key,
                                         ev.error().cause.detail));
          continue;
        }
        const logged_event& e = ev.value();
        const auto home = partition_for(e.env.case_id(), partitions);
        if (home != p)
          report.record.note(fmt::format("event {} at {}: its case belongs to partition {}",
                                         e.env.event_id, at(r.position), home()));
        chain_head& head = heads[e.env.case_id()];
        if (auto broken = check_link(head, e.env, r.key)) {
          report.chain.note(fmt::format("event {} (sequence {}, {}): {}", e.env.event_id,
                                        e.env.sequence(), at(r.position), broken->detail));
        } else {
          ++report.events;
        }
        auto body = decode_body(e);
        if (!body)
          report.record.note(fmt::format("event {} (sequence {}, {}): the body does not decode: {}",
                                         e.env.event_id, e.env.sequence(), at(r.position),
                                         body.error().cause.message()));
        else if (on_event)
          on_event(e, body.value());
        // Resynchronise on this event, so that one bad event is one problem, not every later one.
        advance(head, e);
      }
      return true;
    };
    if (auto r = scan_partition(log, p, visit); !r)
      report.log.note(fmt::format("partition {}: {}", pi, r.error().message()));
    report.streams += heads.size();
    report.checkpoints += verifier.verified();
    if (!verifier.anchor().empty()) report.anchors.push_back(verifier.anchor());
    report.uncovered += static_cast<std::uint64_t>(verifier.end() - 1 - verifier.last_checkpoint());
  }
  return report;
}

// ------------------------------------------------------------------------ verifying one case

result<case_verification> verify_case(event_log& log, std::string_view case_key, bool checkpoints) {
  case_verification r;
  r.partition = partition_for(case_key, log.partition_count());

  chain_head head;
  bool broken = false;  // after the first bad event nothing more of the case is trusted
  std::optional<integrity_problem> checkpoint_problem;
  checkpoint_verifier verifier(r.partition);
  std::vector<std::pair<std::string, log_position>> seen;  // every event id of the case

  auto bad = [&](const envelope* env, log_position pos, std::string what) {
    if (broken) return;
    broken = true;
    r.problem = integrity_problem{env ? env->event_id : std::string{}, env ? env->sequence() : 0,
                                  pos, std::move(what)};
  };

  auto visit = [&](const log_record& rec) -> bool {
    if (checkpoints) {
      auto checked = verifier.add(rec);
      if (checked.problem && !checkpoint_problem) {
        integrity_problem p{{}, 0, rec.position, *checked.problem};
        // Name this case's events in the range the checkpoint failed to cover.
        std::string suspects;
        for (const auto& [id, pos] : seen)
          if (pos.offset() > verifier.covered() && pos.offset() < rec.position.offset())
            suspects += (suspects.empty() ? "" : ", ") + id + " at " + at(pos);
        if (!suspects.empty()) p.what += "; this case's events in that range: " + suspects;
        checkpoint_problem = std::move(p);
      }
    }
    if (!holds_events(rec.value)) return true;
    const bool keyed = rec.key == case_key;
    auto decoded = record_events::decode(rec);
    if (!decoded) {
      if (keyed)
        bad(nullptr, rec.position, "the record does not decode: " + decoded.error().cause.detail);
      return true;  // another key's record: audit verify's business
    }
    for (std::uint32_t i = 0; i < decoded.value().size(); ++i) {
      auto ev = decoded.value().event(i);
      if (!ev) {
        if (keyed)
          bad(nullptr, rec.position,
              fmt::format("event {} of the record does not decode: {}", i,
                          ev.error().cause.detail));
        continue;
      }
      const logged_event& e = ev.value();
      if (e.env.case_id() != case_key && !keyed) continue;
      seen.emplace_back(e.env.event_id, rec.position);
      ++r.events_in_log;
      if (broken) continue;
      if (auto problem = check_link(head, e.env, rec.key)) {
        bad(&e.env, rec.position, problem->detail);
        continue;
      }
      auto body = decode_case_event(e);
      if (!body) {
        bad(&e.env, rec.position,
            "the body does not decode as a case event: " + body.error().cause.message());
        continue;
      }
      advance(head, e);
      r.events.push_back(
          verified_event{e.env, std::move(body).value(), rec.position, i, to_hex(head.last_hash)});
    }
    return true;
  };
  if (auto scanned = scan_partition(log, r.partition, visit); !scanned) {
    // A record missing from the middle of the partition is tampering too, not just an error.
    if (scanned.error().code != errc::corrupt_record) return std::move(scanned).error();
    if (!r.problem) r.problem = integrity_problem{{}, 0, std::nullopt, scanned.error().message()};
  }
  if (!r.problem && checkpoint_problem) r.problem = std::move(checkpoint_problem);
  r.checkpoints_verified = verifier.verified();
  if (checkpoints)
    r.uncovered_records =
        static_cast<std::uint64_t>(verifier.end() - 1 - verifier.last_checkpoint());
  return r;
}

}  // namespace caseline::events
