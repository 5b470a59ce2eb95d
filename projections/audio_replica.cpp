#include "projections/audio_replica.h"

#include <charconv>
#include <condition_variable>
#include <optional>
#include <sstream>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "events/record.h"
#include "events/storage/big_endian.h"

namespace caseline::projections {

namespace {

using steady = std::chrono::steady_clock;

constexpr std::size_t digest_size = 32;
constexpr std::size_t header_size = 4 + digest_size;

std::size_t chunks_of(std::size_t file_size) {
  return std::max<std::size_t>(
      1, (file_size + audio_replica::chunk_size - 1) / audio_replica::chunk_size);
}

std::string record_key(std::string_view sha, char copy, std::size_t n) {
  std::string k(sha);
  k += '/';
  k += copy;
  k += '/';
  k += std::to_string(n);
  return k;
}

struct chunk_record {
  std::string key;
  std::string value;
};

// A copy's records: see the class comment.
std::vector<chunk_record> chunk_records(std::string_view sha, char copy, std::string_view file) {
  const std::size_t m = chunks_of(file.size());
  std::string header;
  storage::put_be32(header, static_cast<std::uint32_t>(m));
  header += events::sha256(file);
  std::vector<chunk_record> out;
  out.reserve(m);
  for (std::size_t n = 0; n < m; ++n) {
    const std::size_t from = n * audio_replica::chunk_size;
    std::string value = header;
    value += file.substr(std::min(from, file.size()), audio_replica::chunk_size);
    out.push_back({record_key(sha, copy, n), std::move(value)});
  }
  return out;
}

// A copy's tombstones (an empty value).
std::vector<chunk_record> tombstones(std::string_view sha, char copy, std::size_t file_size) {
  std::vector<chunk_record> out;
  const std::size_t m = chunks_of(file_size);
  out.reserve(m);
  for (std::size_t n = 0; n < m; ++n) out.push_back({record_key(sha, copy, n), {}});
  return out;
}

// Waits for a set of asynchronous appends. Shared with the handlers, which may answer after the
// waiter gave up.
class acks {
 public:
  explicit acks(std::size_t n) : left_(n) {}
  void answer(const result<events::log_position>& r) {
    {
      std::lock_guard lk(mu_);
      if (!r && !error_) error_ = r.error();
      --left_;
    }
    cv_.notify_all();
  }
  result<void> wait(steady::time_point deadline, std::string_view what) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_until(lk, deadline, [&] { return left_ == 0; }))
      return make_error(events::errc::timed_out,
                        "the audio topic did not acknowledge " + std::string(what) + " in time");
    if (error_) return *error_;
    return success();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t left_;            // guarded by mu_
  std::optional<error> error_;  // guarded by mu_
};

// Calls `done` once every one of `n` appends has answered, with the first error.
class countdown {
 public:
  countdown(std::size_t n, std::function<void(result<void>)> done)
      : left_(n), done_(std::move(done)) {}
  void answer(const result<events::log_position>& r) {
    std::optional<result<void>> outcome;
    {
      std::lock_guard lk(mu_);
      if (!r && !error_) error_ = r.error();
      if (--left_ == 0) outcome = error_ ? result<void>(*error_) : success();
    }
    if (outcome) done_(std::move(*outcome));
  }

 private:
  std::mutex mu_;
  std::size_t left_;            // guarded by mu_
  std::optional<error> error_;  // guarded by mu_
  std::function<void(result<void>)> done_;
};

struct parsed_key {
  std::string sha;
  char copy{};
  std::size_t n{};
};

std::optional<parsed_key> parse_key(std::string_view k) {
  if (k.size() < 64 + 4 || k[64] != '/' || k[66] != '/') return std::nullopt;
  parsed_key out;
  out.sha = std::string(k.substr(0, 64));
  out.copy = k[65];
  if (!is_sha256_hex(out.sha) || (out.copy != 's' && out.copy != 'c')) return std::nullopt;
  const auto digits = k.substr(67);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.n);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return out;
}

std::string parts_dir(std::string_view sha, char copy) {
  return "parts/" + std::string(sha) + "." + copy;
}

result<events::start_offsets> read_offsets(const blob_store& blobs) {
  events::start_offsets out;
  auto text = blobs.read_file(audio_replica::offsets_file);
  if (!text) {
    if (text.error().code == events::errc::not_found) return out;
    return text.error();
  }
  std::istringstream in(text.value());
  std::int32_t p = 0;
  std::int64_t next = 0;
  while (in >> p >> next) out[p] = next;
  if (!in.eof())
    return make_error(events::errc::corrupt_record, "the audio topic's offsets file is damaged");
  return out;
}

result<std::optional<timestamp>> read_seen(const blob_store& blobs) {
  auto text = blobs.read_file(audio_replica::seen_file);
  if (!text) {
    if (text.error().code == events::errc::not_found) return std::optional<timestamp>{};
    return text.error();
  }
  std::int64_t ms = 0;
  const auto& t = text.value();
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ms);
  if (ec != std::errc{} || end != t.data() + t.size())
    return make_error(events::errc::corrupt_record, "the audio topic's seen file is damaged");
  return std::optional<timestamp>{timestamp{ms}};
}

// The recordings held before the group shared its audio, listed once (at the first start).
result<std::set<std::string, std::less<>>> local_recordings(const blob_store& blobs) {
  std::set<std::string, std::less<>> out;
  auto text = blobs.read_file(audio_replica::local_file);
  if (!text) {
    if (text.error().code == events::errc::not_found) return out;
    return text.error();
  }
  std::istringstream in(text.value());
  for (std::string sha; in >> sha;) out.insert(sha);
  return out;
}

}  // namespace

audio_replica::audio_replica(events::key_log& log, blob_store& blobs, options o,
                             const events::start_offsets& from, const events::start_offsets& stored,
                             bool reconcile)
    : log_(log),
      blobs_(blobs),
      options_(o),
      stored_(static_cast<std::size_t>(log.partition_count()), 0),
      reconciling_(reconcile),
      progress_(log, "audio", from) {
  for (const auto& [p, next] : stored)
    if (p >= 0 && p < log.partition_count()) stored_[static_cast<std::size_t>(p)] = next;
  resume_ = stored_;
}

result<std::unique_ptr<audio_replica>> audio_replica::start(events::key_log& log, blob_store& blobs,
                                                            options o) {
  const auto deadline = steady::now() + o.start;
  auto from = read_offsets(blobs);
  if (!from) return std::move(from).error();
  bool reconcile = false;
  if (from.value().empty()) {
    if (!blobs.file_exists(local_file)) {
      // The first start in a group: what is here now was never in the topic, and stays.
      auto held = blobs.list();
      if (!held) return std::move(held).error();
      std::string text;
      for (const auto& sha : held.value()) text += sha + "\n";
      if (auto w = blobs.write_file(local_file, text); !w) return std::move(w).error();
    }
  } else {
    auto seen = read_seen(blobs);
    if (!seen) return std::move(seen).error();
    auto away = away_too_long(log, "audio", seen.value(), o.away, o.start);
    if (!away) return std::move(away).error();
    reconcile = away.value();
  }
  events::start_offsets read_from = from.value();
  if (reconcile)
    for (std::int32_t p = 0; p < log.partition_count(); ++p) read_from[p] = 0;
  // Up to date at this time once the catch-up below reaches the topic's end.
  const std::optional<timestamp> caught_up_at =
      o.away.server_clock ? std::optional<timestamp>{o.away.server_clock->now()} : std::nullopt;
  std::unique_ptr<audio_replica> r{
      new audio_replica(log, blobs, o, read_from, from.value(), reconcile)};
  const auto note_seen = [&blobs](timestamp t) {
    return blobs.write_file(seen_file, std::to_string(t.ms));
  };
  bool up_to_date = true;
  if (auto f = r->progress_.follow(
          [raw = r.get()](std::span<const events::log_record> b) { return raw->on_batch(b); });
      !f)
    return std::move(f).error();
  if (reconcile) {
    // Before it serves: a purged recording must not be read meanwhile.
    if (auto c = r->progress_.catch_up_all(steady::now() + o.reconcile); !c)
      return std::move(c).error();
    auto dropped = r->drop_unnamed();
    if (!dropped) return std::move(dropped).error();
    r->reconciled_ = dropped.value();
    spdlog::info("{}", log_line("audio_topic_reconciled", {{"dropped", dropped.value()}}));
  } else if (auto c = r->progress_.catch_up_all(deadline); !c) {
    if (c.error().code != events::errc::timed_out) return std::move(c).error();
    // Much audio to fetch (a new server): it serves meanwhile, each read waits for its own.
    spdlog::warn("{}", log_line("audio_topic_catching_up", {{"error", c.error().message()}}));
    up_to_date = false;
  }
  if (caught_up_at && up_to_date)
    if (auto n = note_seen(*caught_up_at); !n) return std::move(n).error();
  blobs.replicate(r.get());
  r->progress_.keep_seen(o.away, note_seen);
  return r;
}

result<std::size_t> audio_replica::drop_unnamed() {
  auto local = local_recordings(blobs_);
  if (!local) return std::move(local).error();
  std::lock_guard lk(apply_mu_);
  auto held = blobs_.list();
  if (!held) return std::move(held).error();
  std::size_t dropped = 0;
  for (const auto& sha : held.value()) {
    if (named_.contains(sha) || local.value().contains(sha)) continue;
    if (auto rm = blobs_.remove(sha); !rm) return std::move(rm).error();
    ++dropped;
  }
  reconciling_ = false;
  named_.clear();
  return dropped;
}

audio_replica::~audio_replica() {
  blobs_.replicate(nullptr);
  progress_.stop();  // joins: on_batch runs no more
}

result<void> audio_replica::publish_staged(std::string_view sha, std::string_view file) {
  const auto p = events::partition_for(sha, log_.partition_count());
  auto records = chunk_records(sha, 's', file);
  auto waiter = std::make_shared<acks>(records.size());
  for (auto& r : records)
    log_.publish_async(p, std::move(r.key), std::move(r.value),
                       [waiter](const result<events::log_position>& a) { waiter->answer(a); });
  return waiter->wait(steady::now() + options_.publish, "a staged recording");
}

void audio_replica::commit_claimed(const case_id& owner, std::string_view sha,
                                   std::string_view file, std::size_t staged_size,
                                   std::function<void(result<void>)> done) {
  const auto n = log_.partition_count();
  auto records = chunk_records(sha, 'c', file);
  // Once the claimed copy is committed, the staged one's tombstones; a claimed copy that is not
  // (a fenced server's) leaves the staged one serving.
  // It captures the log, not the replica: the log outlives both, and its handlers may run last.
  auto then = [&log = log_, staged = tombstones(sha, 's', staged_size),
               staged_p = events::partition_for(sha, n),
               done = std::move(done)](result<void> claimed) mutable {
    if (!claimed) return done(std::move(claimed));
    auto left = std::make_shared<countdown>(staged.size(), std::move(done));
    for (auto& t : staged)
      log.publish_async(staged_p, std::move(t.key), std::move(t.value),
                        [left](const result<events::log_position>& a) { left->answer(a); });
  };
  auto left = std::make_shared<countdown>(records.size(), std::move(then));
  const auto p = events::partition_for(owner(), n);
  for (auto& r : records)
    log_.commit(p, std::move(r.key), std::move(r.value),
                [left](const result<events::log_position>& a) { left->answer(a); });
}

result<void> audio_replica::purge(const case_id& owner, std::string_view sha,
                                  std::size_t file_size) {
  const auto n = log_.partition_count();
  const std::size_t size = file_size > 0 ? file_size : max_file_size;
  auto claimed = tombstones(sha, 'c', size);
  auto staged = tombstones(sha, 's', size);
  auto waiter = std::make_shared<acks>(claimed.size() + staged.size());
  auto answer = [waiter](const result<events::log_position>& a) { waiter->answer(a); };
  const auto p = events::partition_for(owner(), n);
  for (auto& t : claimed) log_.commit(p, std::move(t.key), std::move(t.value), answer);
  const auto staged_p = events::partition_for(sha, n);
  for (auto& t : staged) log_.publish_async(staged_p, std::move(t.key), std::move(t.value), answer);
  return waiter->wait(steady::now() + options_.publish, "a recording's purge");
}

result<void> audio_replica::await(std::string_view sha, const case_id& owner,
                                  steady::time_point deadline) {
  const auto n = log_.partition_count();
  const auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  };
  if (auto c = catch_up(events::partition_for(sha, n), left()); !c) return c;
  if (owner().empty()) return success();
  return catch_up(events::partition_for(owner(), n), left());
}

result<void> audio_replica::on_batch(std::span<const events::log_record> records) {
  if (records.empty()) return success();
  const events::partition_id p = records.front().position.partition;
  result<void> r = success();
  {
    std::lock_guard lk(apply_mu_);
    // Read from the start (reconciling): every SHA-256 named, only what lies past the stored
    // offset applied again.
    const std::int64_t resume = reconciling_ ? resume_.at(static_cast<std::size_t>(p())) : 0;
    for (const auto& rec : records) {
      if (reconciling_ && !rec.key.empty())
        if (const auto k = parse_key(rec.key)) named_.insert(k->sha);
      if (rec.position.offset() < resume) continue;
      r = apply(rec);
      if (!r) break;
    }
    if (r && records.back().position.offset() >= resume)
      r = store_offsets(p, records.back().position.offset() + 1);
  }
  if (!r) {
    spdlog::error("{}", log_line("audio_topic_apply_failed",
                                 {{"partition", p()}, {"error", r.error().message()}}));
    progress_.failed(r.error());
    return r;
  }
  progress_.applied(p, records.back().position.offset() + 1);
  return r;
}

result<void> audio_replica::apply(const events::log_record& r) {
  if (r.key.empty()) return success();  // a gap: a transaction marker or an aborted record
  const auto k = parse_key(r.key);
  if (!k)
    return make_error(events::errc::corrupt_record, "an audio topic record with the key " +
                                                        r.key.substr(0, 80) + " is not a chunk");
  const std::string dir = parts_dir(k->sha, k->copy);
  if (r.value.empty()) {
    // A tombstone: the copy is deleted; its first chunk's deletes the file if it is that copy.
    if (k->n != 0) return success();
    if (auto rm = blobs_.remove_all(dir); !rm) return rm;
    auto local = blobs_.read(k->sha);
    if (!local) {
      if (local.error().code == events::errc::not_found) return success();
      return local.error();
    }
    if (is_claimed_recording(local.value()) != (k->copy == 'c')) return success();
    return blobs_.remove(k->sha);
  }
  if (r.value.size() < header_size)
    return make_error(events::errc::corrupt_record, "audio chunk " + r.key + " is truncated");
  const std::size_t m = storage::get_be32(r.value);
  const std::string_view digest = std::string_view(r.value).substr(4, digest_size);
  const std::string_view chunk = std::string_view(r.value).substr(header_size);
  if (k->n >= m)
    return make_error(events::errc::corrupt_record, "audio chunk " + r.key + " beyond its count");
  std::string file;
  if (m == 1) {
    file = std::string(chunk);
  } else {
    // Chunks of one upload (the digest tells two uploads of the same copy apart) until all are
    // here.
    const std::string prefix = dir + "/" + events::to_hex(digest).substr(0, 16) + ".";
    if (auto w = blobs_.write_file(prefix + std::to_string(k->n), chunk); !w) return w;
    for (std::size_t i = 0; i < m; ++i)
      if (!blobs_.file_exists(prefix + std::to_string(i))) return success();
    for (std::size_t i = 0; i < m; ++i) {
      auto part = blobs_.read_file(prefix + std::to_string(i));
      if (!part) return part.error();
      file += part.value();
    }
  }
  if (events::sha256(file) != digest)
    return make_error(events::errc::corrupt_record,
                      "audio copy " + r.key + " does not match its SHA-256");
  if (k->copy == 's') {
    // A staged copy never replaces the claimed one (applied first from another partition).
    auto local = blobs_.read(k->sha);
    if (!local && local.error().code != events::errc::not_found) return local.error();
    if (local && is_claimed_recording(local.value())) return blobs_.remove_all(dir);
  }
  if (auto w = blobs_.write(k->sha, file); !w) return w;
  return m == 1 ? success() : blobs_.remove_all(dir);
}

result<void> audio_replica::store_offsets(events::partition_id p, std::int64_t next) {
  stored_.at(static_cast<std::size_t>(p())) = next;
  std::string text;
  for (std::size_t q = 0; q < stored_.size(); ++q)
    if (stored_[q] > 0) text += std::to_string(q) + " " + std::to_string(stored_[q]) + "\n";
  return blobs_.write_file(offsets_file, text);
}

}  // namespace caseline::projections
