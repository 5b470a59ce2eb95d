#include "projections/case_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/codec.h"
#include "core/decide.h"
#include "core/errc.h"
#include "core/log_line.h"
#include "events/acknowledgements.h"
#include "events/errc.h"
#include "events/log_reader.h"
#include "projections/access_log.h"
#include "projections/errc.h"
#include "projections/reference_stream.h"

namespace caseline::projections {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "caseline.projections"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::case_not_found: return "case not found";
      case errc::stale_version: return "the case has changed since that version (If-Match)";
      case errc::shutting_down: return "the server is shutting down";
    }
    return "unknown projections error";
  }
};

// How long a command waits for the projection before deciding against a possibly stale state.
constexpr std::chrono::seconds catch_up_timeout{10};

// Why the store does not hold what the log has: the runner's stall (a full disk), or a lag.
error not_caught_up(const projection_runner& runner) {
  return runner.not_applied(
      make_error(events::errc::unavailable, "the projection has not caught up with the log"));
}

// Idle slots are kept (cached state) until there are this many, then swept.
constexpr std::size_t sweep_threshold = 4096;
// How long one catch-up of an assigned partition waits before it is tried again.
constexpr std::chrono::seconds handover_attempt{1};

// A closing command: decided under its partition's sample gate (enter_sample).
bool closes(const core::command& cmd) {
  return std::holds_alternative<core::reply>(cmd) ||
         std::holds_alternative<core::answer_immediately>(cmd);
}

error not_owner(events::partition_id p) {
  return make_error(events::errc::not_owner,
                    fmt::format("partition {} is not this server's now", p()));
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

case_writer::case_writer(events::event_log& log, store& s, projection_runner& runner,
                         personal_data* privacy, core::context base, const clock& clk,
                         unsigned threads)
    : log_(log),
      store_(s),
      reader_(s),
      runner_(runner),
      base_(std::move(base)),
      clock_(clk),
      personal_data_(privacy),
      last_acked_(static_cast<std::size_t>(log.partition_count()), -1),
      owned_(static_cast<std::size_t>(log.partition_count())),
      gates_(static_cast<std::size_t>(log.partition_count())),
      pool_(threads, "writer") {}

case_writer::~case_writer() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  idle_cv_.notify_all();
  handover_.shutdown();
  drain(std::chrono::seconds(30));
  // A burst answered on the log's thread (complete()) may still be leaving.
  std::unique_lock lk(mu_);
  idle_cv_.wait_for(lk, std::chrono::seconds(30), [&] { return !completing_; });
}

void case_writer::post(std::function<void()> task) { pool_.post(std::move(task)); }

bool case_writer::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  draining_ = true;
  return idle_cv_.wait_for(lk, timeout, [&] { return in_flight_ == 0; });
}

events::partition_id case_writer::partition_of(const std::string& id) const {
  return events::partition_for(id, log_.partition_count());
}

void case_writer::enable_ownership() {
  std::lock_guard lk(mu_);
  for (auto& o : owned_) o.accepting = false;
}

bool case_writer::accepts(events::partition_id p) const {
  std::lock_guard lk(mu_);
  return p() >= 0 && p() < log_.partition_count() &&
         owned_[static_cast<std::size_t>(p())].accepting;
}

std::vector<events::partition_id> case_writer::accepting() const {
  std::lock_guard lk(mu_);
  std::vector<events::partition_id> out;
  for (std::size_t p = 0; p < owned_.size(); ++p)
    if (owned_[p].accepting) out.push_back(events::partition_id{static_cast<std::int32_t>(p)});
  return out;
}

bool case_writer::wait_accepts(events::partition_id p, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, timeout,
                           [&] { return owned_.at(static_cast<std::size_t>(p())).accepting; });
}

void case_writer::partition_assigned(events::partition_id p) {
  std::uint64_t term = 0;
  {
    std::lock_guard lk(mu_);
    ownership& o = owned_.at(static_cast<std::size_t>(p()));
    o.accepting = false;
    term = ++o.term;
  }
  spdlog::info("{}", log_line("partition_assigned", {{"partition", p()}}));
  handover_.post([this, p, term] { take_over(p, term); });
}

void case_writer::take_over(events::partition_id p, std::uint64_t term) {
  const auto current = [&] {
    return !stopping_ && owned_[static_cast<std::size_t>(p())].term == term;
  };
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (!current()) return;
    }
    // Everything p holds, the previous owner's last records included (the group fenced its
    // writer before assigning p here), is in the store once this succeeds.
    auto caught = runner_.catch_up(p, handover_attempt, projection_runner::on_stall::wait);
    if (caught && handover_gate_) caught = handover_gate_(p, handover_attempt);
    if (caught) break;
    if (caught.error().code == events::errc::timed_out) continue;  // still replaying
    spdlog::warn("{}", log_line("partition_catch_up_failed",
                                {{"partition", p()}, {"error", caught.error().message()}}));
    // Not a sleep: a revocation or the destructor ends the wait early.
    std::unique_lock lk(mu_);
    idle_cv_.wait_for(lk, handover_attempt, [&] { return !current(); });
  }
  {
    // A new case decided under the previous term may still be storing its key: its mark would
    // land after the check below, and its key, under an id another writer may have given out,
    // would stay unchecked until the next start. Its append is refused (the term moved on); the
    // check waits for its key to land.
    std::unique_lock lk(mu_);
    idle_cv_.wait(lk,
                  [&] { return !current() || owned_[static_cast<std::size_t>(p())].storing == 0; });
    if (!current()) return;
  }
  drop_foreign_keys(p);
  {
    std::lock_guard lk(mu_);
    if (!current()) return;
    forget_locked(p);
    owned_[static_cast<std::size_t>(p())].accepting = true;
  }
  idle_cv_.notify_all();
  spdlog::info("{}", log_line("partition_accepted", {{"partition", p()}}));
}

void case_writer::drop_foreign_keys() { drop_foreign_keys(std::nullopt); }

void case_writer::drop_foreign_keys(std::optional<events::partition_id> only) {
  if (!personal_data_) return;
  const std::int32_t p = only ? (*only)() : -1;  // -1: every partition
  // The key store's marks, not this process's memory: a key stored before a crash is checked
  // after the restart too.
  auto ahead = personal_data_->keys_ahead_of_record();
  if (!ahead) {
    spdlog::warn("{}", log_line("unwritten_case_keys_unread",
                                {{"partition", p}, {"error", ahead.error().message()}}));
    return;  // checked at the next handover or start
  }
  std::vector<std::string> settled;
  std::size_t marks = 0, foreign = 0;
  for (auto& id : ahead.value()) {
    if (only && partition_of(id) != *only) continue;
    ++marks;
    // The log, applied to its end, decides: no case of that id (the mark stays: this writer may
    // give the id out again, and a new key replaces this one), the case this writer wrote after
    // all (its fields open with the key), or another writer's case, whose fields the key does
    // not open: the key goes, and the case reads as one whose key this server does not hold.
    auto row = reader_.get(case_id{id});
    if (!row) {
      spdlog::warn("{}", log_line("unwritten_case_key_unchecked",
                                  {{"case", id}, {"error", row.error().message()}}));
      continue;  // kept, checked again at the next handover or start
    }
    if (!row.value()) continue;
    core::case_state shown = row.value()->state;
    auto opened = personal_data_->open(shown);
    if (opened) {
      settled.push_back(std::move(id));
      continue;
    }
    if (opened.error().code != events::errc::corrupt_record) continue;  // not a wrong key: unknown
    if (auto dropped = personal_data_->drop_unwritten_key(case_id{id}); !dropped) {
      spdlog::warn("{}", log_line("unwritten_case_key_kept",
                                  {{"case", id}, {"error", dropped.error().message()}}));
      continue;
    }
    spdlog::info("{}", log_line("unwritten_case_key_dropped", {{"case", id}}));
    ++foreign;
  }
  if (auto r = personal_data_->settle_keys(settled); !r)
    spdlog::warn("{}", log_line("unwritten_case_keys_unsettled",
                                {{"partition", p}, {"error", r.error().message()}}));
  // At start always (what a stop or a crash left), at a handover when there was something.
  if (only && marks == 0) return;
  log_field where("partition", p);
  if (!only) where = log_field("partition", "all");
  spdlog::info("{}",
               log_line("case_keys_ahead_checked", {where,
                                                    {"marks", marks},
                                                    {"settled", settled.size()},
                                                    {"dropped", foreign},
                                                    {"kept", marks - settled.size() - foreign}}));
}

void case_writer::partition_revoked(events::partition_id p, bool lost) {
  auto refused = std::make_shared<std::vector<pending>>();
  {
    std::unique_lock lk(mu_);
    ownership& o = owned_.at(static_cast<std::size_t>(p()));
    o.accepting = false;
    ++o.term;
    // Queued commands are not decided here any more; the one a writer thread runs now fails at
    // its append (its term is over).
    for (auto& [id, s] : slots_) {
      if (s.queue.empty() || partition_of(id) != p) continue;
      for (auto& w : s.queue) refused->push_back(std::move(w));
      s.queue.clear();
    }
  }
  if (!refused->empty()) {
    post([this, p, refused] {
      for (auto& w : *refused) w.done(not_owner(p));
      std::lock_guard lk(mu_);
      in_flight_ -= refused->size();
      if (in_flight_ == 0) idle_cv_.notify_all();
    });
  }
  std::unique_lock lk(mu_);
  const bool settled = idle_cv_.wait_for(
      lk, revoke_timeout, [&] { return owned_[static_cast<std::size_t>(p())].appending == 0; });
  forget_locked(p);
  lk.unlock();
  spdlog::info("{}", log_line("partition_revoked",
                              {{"partition", p()}, {"lost", lost}, {"settled", settled}}));
}

void case_writer::forget_locked(events::partition_id p) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (partition_of(it->first) != p) {
      ++it;
    } else if (!it->second.busy && it->second.queue.empty()) {
      it = slots_.erase(it);
    } else {
      it->second.cached.reset();  // a command still runs: the next one reads the store
      ++it;
    }
  }
  for (auto& [prefix, highest] : counters_) highest.at(static_cast<std::size_t>(p())).reset();
  std::lock_guard lk(sample_mu_);
  gates_.at(static_cast<std::size_t>(p())).tallies.clear();
}

std::int64_t case_writer::last_acked(events::partition_id p) const {
  std::lock_guard lk(mu_);
  return last_acked_.at(static_cast<std::size_t>(p()));
}

result<core::revisit_tally> case_writer::enter_sample(events::partition_id p,
                                                      const center_code& center,
                                                      const std::string& month) {
  sample_gate& g = gates_.at(static_cast<std::size_t>(p()));
  bool reload = false;
  {
    std::unique_lock lk(sample_mu_);
    // The holder releases from the log's delivery callback, never needing a writer thread.
    sample_cv_.wait(lk, [&] { return !g.busy; });
    g.busy = true;
    reload = g.uncertain;
  }
  const auto give_up = [&](error e) -> result<core::revisit_tally> {
    std::lock_guard lk(sample_mu_);
    g.busy = false;
    sample_cv_.notify_all();
    return e;
  };
  if (reload) {
    auto end = log_.end_offset(p);
    if (!end) return give_up(end.error());
    if (end.value()() > 0 &&
        !runner_.wait_applied({p, events::log_offset{end.value()() - 1}}, catch_up_timeout))
      return give_up(not_caught_up(runner_));
    std::lock_guard lk(sample_mu_);
    g.tallies.clear();
    g.uncertain = false;
  }
  const std::string key = center() + "/" + month;
  {
    std::lock_guard lk(sample_mu_);
    if (auto it = g.tallies.find(key); it != g.tallies.end()) return it->second;
  }
  auto stored = reader_.revisit_tally(p, center, month);
  if (!stored) return give_up(stored.error());
  std::lock_guard lk(sample_mu_);
  g.tallies.emplace(key, stored.value());
  return stored.value();
}

void case_writer::leave_sample(events::partition_id p,
                               const std::optional<core::sampled_closure>& closure, bool appended) {
  std::lock_guard lk(sample_mu_);
  sample_gate& g = gates_.at(static_cast<std::size_t>(p()));
  if (!appended) {
    g.uncertain = true;
  } else if (closure) {
    core::revisit_tally& t = g.tallies[closure->center() + "/" + closure->month];
    ++t.closed;
    if (closure->picked) ++t.picked;
  }
  g.busy = false;
  sample_cv_.notify_all();
}

result<std::string> case_writer::allocate_id(const command_request& request) {
  const auto* rec = std::get_if<core::receive>(&request.cmd);
  if (!rec) return make_error(errc::case_not_found, "only receive creates a case");
  const std::int32_t count = log_.partition_count();
  if (request.partition) {
    const std::int32_t p = (*request.partition)();
    if (p < 0 || p >= count)
      return make_error(events::errc::invalid_partition, fmt::format("partition {}", p));
    if (!owned_[static_cast<std::size_t>(p)].accepting) return not_owner(*request.partition);
  }
  // The partitions this id may go to: the requested one, or any accepted.
  const auto allowed = [&](std::int32_t p) {
    return request.partition ? p == (*request.partition)()
                             : owned_[static_cast<std::size_t>(p)].accepting;
  };
  const civil_date day = shanghai_date(clock_.now());
  // "<center>-<YYYYMMDD>-": every id of the day is this and its sequence (format_case_id).
  std::string head = format_case_id(rec->center(), day, 0);
  head.resize(head.size() - 6);
  const std::string_view prefix = std::string_view(head).substr(0, head.size() - 1);
  auto day_counters = counters_.find(prefix);
  if (day_counters == counters_.end())
    day_counters =
        counters_
            .emplace(std::string(prefix),
                     std::vector<std::optional<std::uint64_t>>(static_cast<std::size_t>(count)))
            .first;
  std::vector<std::optional<std::uint64_t>>& highest = day_counters->second;
  std::optional<std::uint64_t> lowest;
  for (std::int32_t p = 0; p < count; ++p) {
    if (!allowed(p)) continue;
    auto& h = highest[static_cast<std::size_t>(p)];
    if (!h) {
      auto stored = reader_.counter(prefix, events::partition_id{p});
      if (!stored) return stored.error();
      h = stored.value();
    }
    lowest = std::min(lowest.value_or(*h), *h);
  }
  if (!lowest)
    return make_error(events::errc::not_owner, "this server writes no partition of the log now");
  // The smallest sequence above its partition's highest, in an allowed partition. Every sequence
  // below a partition's highest that hashes to it is taken, so no id is given out twice.
  // The head is formatted once: the search may try several sequences.
  std::string id = head;
  for (std::uint64_t n = *lowest + 1;; ++n) {
    id.resize(head.size());
    append_case_sequence(id, n);
    const std::int32_t p = events::partition_for(id, count)();
    if (allowed(p) && n > *highest[static_cast<std::size_t>(p)]) {
      highest[static_cast<std::size_t>(p)] = n;
      return id;
    }
  }
}

void case_writer::submit(command_request request, done_handler done) {
  std::string id;
  std::optional<error> refused;
  bool given_out = false;  // a new case's id, allocated here
  std::unique_lock lk(mu_);
  if (draining_) {
    refused = make_error(errc::shutting_down);
  } else if (request.id) {
    id = (*request.id)();
    if (const auto p = partition_of(id); !owned_[static_cast<std::size_t>(p())].accepting)
      refused = not_owner(p);
  } else if (auto allocated = allocate_id(request); !allocated) {
    refused = std::move(allocated).error();
  } else {
    id = std::move(allocated).value();
    given_out = true;
    request.id = case_id{id};
    std::get<core::receive>(request.cmd).id = case_id{id};
  }
  if (refused) {
    lk.unlock();  // the handler may ask the writer (accepting(), ...)
    done(std::move(*refused));
    return;
  }
  if (slots_.size() >= sweep_at_) sweep_locked();
  const auto [at, inserted] = slots_.try_emplace(id);
  const bool fresh = given_out && inserted;
  slot& s = at->second;
  // An id just given out is free (above everything its partition holds, and not given out
  // before): its case is known to be empty without reading the store.
  if (fresh) {
    s.cached = case_row{};
    s.cached->state.id = case_id{id};
  }
  // Decided here, without a hop to a writer thread, when deciding cannot wait: neither for the
  // projection (the last append's outcome is unknown) nor for the partition's sample gate (a
  // closing command).
  const bool here = !s.uncertain && !closes(request.cmd);
  s.queue.push_back(pending{std::move(request), std::move(done)});
  ++in_flight_;
  if (s.busy) return;
  s.busy = true;
  lk.unlock();
  if (here) return run_next(id);
  post([this, id] { run_next(id); });
}

void case_writer::sweep_locked() {
  for (auto it = slots_.begin(); it != slots_.end();) {
    const slot& s = it->second;
    const bool applied = !s.position || runner_.applied(s.position->partition) >
                                            s.position->offset();
    if (!s.busy && s.queue.empty() && !s.uncertain && applied)
      it = slots_.erase(it);
    else
      ++it;
  }
  // Amortised: when the projection lags, most slots stay, and sweeping again at the next submit
  // would walk them all for each command.
  sweep_at_ = std::max(sweep_threshold, 2 * slots_.size());
}

void case_writer::run_next(const std::string& id) {
  pending work;
  std::optional<case_row> cached;
  bool uncertain = false;
  const events::partition_id partition = partition_of(id);
  std::uint64_t term = 0;
  {
    std::lock_guard lk(mu_);
    slot& s = slots_.at(id);
    if (s.queue.empty()) {  // a revocation took the queued commands: they are answered
      s.busy = false;
      return;
    }
    work = std::move(s.queue.front());
    s.queue.pop_front();
    cached = s.cached;
    uncertain = s.uncertain;
    term = owned_[static_cast<std::size_t>(partition())].term;
  }
  const case_id cid{id};
  bool gated = false;  // holds the partition's sample gate (a closing command)
  auto fail = [&](error e) {
    if (gated) leave_sample(partition, std::nullopt, true);
    work.done(std::move(e));
    finish(id);
  };

  if (uncertain || !cached) {
    // The store is the truth for this case: wait until it holds everything the log has for the
    // partition (our own acknowledged writes, and any whose outcome we do not know).
    if (uncertain) {
      auto end = log_.end_offset(partition);
      if (!end) return fail(end.error());
      if (end.value()() > 0 &&
          !runner_.wait_applied({partition, events::log_offset{end.value()() - 1}},
                                catch_up_timeout))
        return fail(not_caught_up(runner_));
    }
    auto stored = reader_.get(cid);
    if (!stored) return fail(stored.error());
    if (stored.value()) {
      cached = std::move(*stored.value());
    } else {
      cached = case_row{};
      cached->state.id = cid;
    }
    std::lock_guard lk(mu_);
    slot& s = slots_.at(id);
    s.cached = cached;
    s.uncertain = false;
  }

  const command_request& req = work.request;
  const bool is_receive = std::holds_alternative<core::receive>(req.cmd);
  if (cached->state.version == 0 && !is_receive)
    return fail(make_error(errc::case_not_found, id));
  if (req.if_match && *req.if_match != cached->state.version)
    return fail(make_error(errc::stale_version,
                           fmt::format("the case is at version {}, not {}",
                                       cached->state.version, *req.if_match)));

  core::context ctx = base_;
  ctx.now = clock_.now();
  ctx.who = req.who;
  std::shared_ptr<const core::registry> reg;  // keeps the snapshot alive while deciding
  if (registry_source_) {
    reg = registry_source_();
    ctx.reg = reg.get();
  }
  std::shared_ptr<const core::calendar> cal;  // likewise
  if (calendar_source_ && (cal = calendar_source_())) ctx.cal = cal.get();
  if (closes(req.cmd)) {
    const civil_date today = shanghai_date(ctx.now);
    auto tally = enter_sample(partition, cached->state.owner_center, today.to_string().substr(0, 7));
    if (!tally) return fail(tally.error());
    gated = true;
    ctx.revisit_so_far = tally.value();
  }
  auto decided = core::decide(cached->state, req.cmd, ctx);
  if (!decided) return fail(decided.error());
  if (decided.value().empty()) {  // nothing to do (e.g. a reminder already sent): append nothing
    if (gated) leave_sample(partition, std::nullopt, true);
    work.done(command_outcome{cached->state, std::nullopt, {}, std::nullopt});
    return finish(id);
  }
  // Personal text leaves this process only encrypted: the log, the projections and every copy
  // hold ciphertext bound to this case, event and field. A new case's key is made here and
  // made durable below, before its record is appended or in the same synced write.
  std::optional<events::secret_key> new_key;
  std::optional<std::vector<core::event>> plain;  // a new case's events before sealing
  if (personal_data_) {
    if (cached->state.version == 0) {
      plain = decided.value();
      new_key = personal_data_->seal_new_case(cid, decided.value());
    } else if (auto sealed =
                   personal_data_->seal(cid, cached->state.version + 1, decided.value(), false);
               !sealed) {
      return fail(sealed.error());
    }
  }

  auto c = std::make_shared<decided_command>();
  c->id = id;
  c->partition = partition;
  c->term = term;
  c->gated = gated;
  c->done = std::move(work.done);
  c->row = *cached;
  events::record rec;
  rec.idempotency = req.idempotency;
  for (const auto& ev : decided.value()) {
    events::envelope env = events::new_event(cid, core::encode(ev));
    env.recorded_at = ctx.now;
    env.occurred_at = req.occurred_at.value_or(ctx.now);
    env.by = events::actor{req.who.id(), std::string(core::to_string(req.who.role)),
                           req.who.center(), req.who.unit()};
    env.correlation_id = req.correlation_id;
    std::string bytes = events::link_next(env, c->row.state.version, c->row.last_hash);
    if (gated) {
      if (auto closure = core::sample_closure_of(c->row.state, ev)) c->closure = std::move(closure);
    }
    c->row.state = core::evolve(std::move(c->row.state), ev, env.recorded_at);
    rec.events.push_back(std::move(bytes));
    c->outcome.events.push_back(std::move(env));
  }
  c->outcome.state = c->row.state;
  if (plain) {
    core::case_state shown = cached->state;
    for (const auto& ev : *plain) shown = core::evolve(std::move(shown), ev, ctx.now);
    c->outcome.shown = std::move(shown);
  }
  std::string record = events::encode_record(rec);
  if (!new_key) return append(std::move(c), std::move(record));
  // The embedded log: the key rides in the record's own synced write (one sync for both).
  if (personal_data_->key_journal()) {
    auto entry = personal_data_->journal_entry(cid, *new_key);
    c->new_key = *new_key;
    return append(std::move(c), std::move(record), std::move(entry));
  }

  // Refused here, before its key is stored, when the partition moved on since the decision;
  // else counted until the key landed, so that a handover checks it (take_over).
  {
    std::unique_lock lk(mu_);
    ownership& o = owned_[static_cast<std::size_t>(partition())];
    if (!o.accepting || o.term != term) {
      lk.unlock();
      if (c->gated) leave_sample(partition, std::nullopt, true);
      c->done(not_owner(partition));
      return finish(id);
    }
    ++o.storing;
  }
  // Group commit: the key store writes the keys of every new case queued meanwhile with one
  // synced write, and this handler runs on its committer thread once the key is durable. The
  // writer thread is free meanwhile, so concurrent new cases share that write.
  personal_data_->store_key(
      cid, *new_key,
      [this, c = std::move(c), record = std::move(record)](result<void> stored) mutable {
        {
          std::lock_guard lk(mu_);
          --owned_[static_cast<std::size_t>(c->partition())].storing;
        }
        idle_cv_.notify_all();
        if (stored) {
          c->key_stored = true;
          return append(std::move(c), std::move(record));
        }
        // Nothing of the case was appended: it certainly is not in the log. The handler runs on
        // a writer thread, as every done handler does.
        post([this, c = std::move(c), e = std::move(stored).error()] {
          if (c->gated) leave_sample(c->partition, std::nullopt, true);
          c->done(e);
          finish(c->id);
        });
      });
}

void case_writer::append(std::shared_ptr<decided_command> c, std::string record,
                         std::optional<events::journaled_key> journaled) {
  {
    std::lock_guard lk(mu_);
    ownership& o = owned_[static_cast<std::size_t>(c->partition())];
    const bool leased = !write_lease_ || write_lease_();
    if (o.accepting && o.term == c->term && leased) {
      ++o.appending;  // a revocation waits for its outcome
    } else {
      // Decided for a partition that was revoked meanwhile, or on what may be stale (the
      // server's claim to write the topic is in doubt): nothing is appended. The handler runs
      // on a writer thread, as every done handler does.
      post([this, leased, c = std::move(c)] {
        if (c->gated) leave_sample(c->partition, std::nullopt, true);
        c->done(leased ? not_owner(c->partition) : lease_refused());
        finish(c->id);
      });
      return;
    }
  }
  std::string id = c->id;
  events::event_log::append_handler appended =
      [this, c = std::move(c)](result<events::log_position> r) mutable {
        // The next closing command of the partition may be decided now.
        if (c->gated) leave_sample(c->partition, c->closure, r.has_value());
        {
          std::lock_guard lk(mu_);
          --owned_[static_cast<std::size_t>(c->partition())].appending;
        }
        idle_cv_.notify_all();
        // The journal made the key durable with the record: cached, so no read unwraps it.
        if (r && c->new_key) personal_data_->remember_key(case_id{c->id}, *c->new_key);
        // Runs on a log thread, which acknowledges a group commit's records one after the
        // other: the burst is answered once, after its last handler, on the log's thread where
        // it can (events/acknowledgements.h: the embedded log), else by one writer task. The
        // log destroys this callback when it likes (the embedded log: after its whole batch),
        // which can be after the answer went, drain() returned and the api and the HTTP server
        // are gone; the done handler holds the api's responder, and with it the server's
        // connection. So what the callback holds moves into the queue, which complete() empties
        // before ~case_writer returns (it waits for complete() to end, then joins the pool): no
        // done handler outlives the writer. `this` is not used after the hand-over.
        bool start = false;
        {
          std::lock_guard lk(mu_);
          completions_.push_back(completion{std::move(c), std::move(r)});
          start = !std::exchange(completing_, true);
        }
        if (start && !events::after_acknowledgements([this] { complete(); }))
          post([this] { complete(); });
      };
  if (journaled)
    return personal_data_->key_journal()->append_with_key(
        std::move(id), std::move(record), std::move(*journaled), std::move(appended));
  log_.append(std::move(id), std::move(record), std::move(appended));
}

void case_writer::complete() {
  std::vector<completion> burst;
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (completions_.empty()) {
        completing_ = false;
        // Under the lock: ~case_writer waits for this, and `this` is not used after it.
        idle_cv_.notify_all();
        return;
      }
      burst.swap(completions_);
    }
    std::vector<std::string> answered;
    answered.reserve(burst.size());
    std::vector<std::string> confirmed;  // new cases whose key was stored ahead of the record
    {
      access_batch reads(store_);  // the answers' access entries: one write, before any answer
      for (auto& done : burst) {
        if (done.r && done.c->key_stored) confirmed.push_back(done.c->id);
        answered.push_back(answer(done));
      }
      burst.clear();  // the done handlers the answers did not hold
      reads.commit();
    }
    if (!confirmed.empty()) personal_data_->confirm_keys(std::move(confirmed));
    // Only now, with every answer of the burst sent, are they no longer in flight (drain()).
    for (const auto& id : answered) finish(id);
  }
}

std::string case_writer::answer(completion& done) {
  auto& [c, r] = done;
  {
    std::lock_guard lk(mu_);
    slot& s = slots_.at(c->id);
    if (r) {
      // After a revocation the case may change elsewhere: not cached then.
      if (owned_[static_cast<std::size_t>(c->partition())].term == c->term)
        s.cached = std::move(c->row);
      else
        s.cached.reset();
      s.position = r.value();
      auto& acked = last_acked_.at(static_cast<std::size_t>(r.value().partition()));
      acked = std::max(acked, r.value().offset());
    } else {
      s.cached.reset();
      s.uncertain = true;
    }
  }
  if (r) {
    c->outcome.position = r.value();
    if (appended_observer_) appended_observer_(c->outcome);
    c->done(std::move(c->outcome));
  } else {
    c->done(r.error());
  }
  return c->id;
}

void case_writer::finish(const std::string& id) {
  bool more = false;
  {
    std::lock_guard lk(mu_);
    slot& s = slots_.at(id);
    --in_flight_;
    more = !s.queue.empty();
    if (!more) s.busy = false;
    if (in_flight_ == 0) idle_cv_.notify_all();
  }
  if (more) post([this, id] { run_next(id); });
}

}  // namespace caseline::projections
