// Where a write goes in a Kafka group, forwarding it to its partition's owner, and position
// tokens (Caseline-Position, Caseline-After): the api's part of "any server takes any request".

#include "gateway/forwarding.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log_line.h"
#include "events/errc.h"
#include "events/record.h"
#include "gateway/detail/api_impl.h"
#include "gateway/peer_client.h"

namespace caseline::gateway {

namespace {

constexpr std::size_t max_positions = 64;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <class Int>
bool parse_int(std::string_view s, Int& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

// The 503 of a write that no server can take here and now: the client retries (any server).
error partition_moving(events::partition_id p, std::string_view why) {
  return make_error(events::errc::not_owner,
                    fmt::format("partition {} of the log: {}; nothing was written", p(), why));
}

// The headers a forwarded request keeps (lower-case, as http_request holds them).
constexpr std::string_view forwarded_headers[] = {
    "authorization", "idempotency-key", "if-match",      "content-type",
    "accept",        "x-request-id",    "caseline-after"};

// The reference stream a route writes, by its name in the route table (routes.cpp).
std::optional<std::string_view> reference_stream(std::string_view route_name) {
  if (route_name == "put_unit") return registry_stream;
  if (route_name == "publish_calendar") return calendar_stream;
  if (route_name == "create_token" || route_name == "revoke_token") return tokens_stream;
  return std::nullopt;
}

}  // namespace

std::string format_position(events::log_position p) {
  return fmt::format("{}:{}", p.partition(), p.offset());
}

void with_position(http_response& r, events::log_position at) {
  r.headers.emplace_back(position_header, format_position(at));
}

result<std::vector<events::log_position>> parse_positions(std::string_view value,
                                                          std::int32_t partitions) {
  auto bad = [](std::string_view why) {
    return make_error(errc::bad_request, fmt::format("{}: {} (expected <partition>:<offset>[,...])",
                                                     after_header, why));
  };
  std::vector<events::log_position> out;
  while (true) {
    const auto comma = value.find(',');
    const auto item = trim(value.substr(0, comma));
    const auto colon = item.find(':');
    std::int32_t p = 0;
    std::int64_t o = 0;
    if (colon == std::string_view::npos || !parse_int(item.substr(0, colon), p) ||
        !parse_int(item.substr(colon + 1), o))
      return bad("not a position");
    if (p >= partitions) return bad(fmt::format("the log has partitions 0 to {}", partitions - 1));
    if (out.size() == max_positions)
      return bad(fmt::format("more than {} positions", max_positions));
    out.push_back({events::partition_id{p}, events::log_offset{o}});
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

// The partition a write goes to, when this server is in a group: a case's command to the case's,
// a new case with an Idempotency-Key to the key's (the hash its record carries, so that a retry
// on any server reaches the same writer), one without to a partition this server writes (round
// robin), a reference stream's write to the stream key's. Reads and what the log does not hold
// (the manual clock, staged recordings) go nowhere: answered here.
std::optional<events::partition_id> api::impl::write_partition(request_scope& sc) {
  const route& rt = *sc.match.matched;
  const auto n = s_.log.partition_count();
  if (rt.handler == handled_by<&impl::command>)
    return events::partition_for(sc.match.params.at("id"), n);
  if (auto stream = reference_stream(rt.name)) return events::partition_for(*stream, n);
  if (rt.handler != handled_by<&impl::receive>) return std::nullopt;
  if (const auto key = sc.req.header("idempotency-key")) {
    // A key that is not one is refused by the pipeline, here.
    if (!valid_token_text(*key, 255)) return std::nullopt;
    const std::string token = sc.who ? sc.who->token_id : std::string("-");
    sc.new_case_partition = events::partition_for(events::idempotency_key_hash(token, *key), n);
  } else if (const auto mine = s_.writable ? s_.writable() : std::vector<events::partition_id>{};
             !mine.empty()) {
    sc.new_case_partition = mine[next_writable_.fetch_add(1) % mine.size()];
  } else {
    // None here: the owner of a partition picked by the request's id takes it.
    sc.new_case_partition = events::partition_for(sc.correlation_id, n);
  }
  return sc.new_case_partition;
}

bool api::impl::routed_elsewhere(const scope_ptr& sc, responder& done) {
  if (!s_.writes) return false;  // no group: this server writes everything
  const auto p = write_partition(*sc);
  if (!p || s_.writes(*p)) return false;
  // Forwarded once already: the server that forwarded it believed this one owns p; a second hop
  // could only loop while the group's view settles.
  if (sc->req.header("caseline-forwarded-by")) {
    done(error_response(
        partition_moving(*p, "forwarded here, but this server does not write it (it is moving)"),
        sc->req.path));
    return true;
  }
  const auto owner = s_.owner_url ? s_.owner_url(*p) : std::nullopt;
  if (!owner || *owner == s_.self_url) {
    forwarded_no_owner_.fetch_add(1, std::memory_order_relaxed);
    done(error_response(partition_moving(*p, "no server of the group is known to own it"),
                        sc->req.path));
    return true;
  }
  forward(sc, *p, *owner, done);
  return true;
}

// The owner answers; its answer (status, headers, body) goes back as it came. Forwarded, not
// redirected: clients drop Authorization on a redirect to another host.
void api::impl::forward(const scope_ptr& sc, events::partition_id p, const std::string& owner,
                        responder& done) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : sc->req.headers)
    for (auto keep : forwarded_headers)
      if (name == keep) headers.emplace_back(name, value);
  // The same correlation id on both servers' log lines; the client's address, not this server's.
  headers.emplace_back("x-correlation-id", sc->correlation_id);
  if (!sc->req.client.empty()) headers.emplace_back("x-forwarded-for", sc->req.client);
  headers.emplace_back(std::string(forwarded_by_header),
                       s_.self_url.empty() ? std::string("-") : s_.self_url);
  // Sent again on a fresh connection (when a kept-alive one fails before any answer) only when
  // the owner answers a second copy as it answered the first: a request with an
  // Idempotency-Key (the owner's key store replays it), or a PUT (a unit or a calendar year put
  // again changes nothing more). Anything else is answered 503 owner-unreachable instead.
  const auto may_resend =
      sc->req.header("idempotency-key") || sc->req.method == "PUT" ? resend::safe : resend::never;
  auto answer =
      peers_.send(owner, sc->req.method, sc->req.target, headers, sc->req.body, may_resend);
  if (!answer) {
    const bool sent = answer.error().code == errc::owner_unreachable;
    (sent ? forwarded_unanswered_ : forwarded_unreachable_).fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("{}", log_line("forward_failed", {{"partition", p()},
                                                   {"owner", owner},
                                                   {"correlation_id", sc->correlation_id},
                                                   {"error", answer.error().message()}}));
    // Nothing sent: nothing written. Sent without an answer: the owner may have written it.
    if (sent)
      return done(error_response(
          make_error(errc::owner_unreachable,
                     fmt::format("partition {} of the log: its owner gave {} within {} ms; the "
                                 "write may have been made: retry with the same Idempotency-Key",
                                 p(), answer.error().detail, peers_.options().answer.count())),
          sc->req.path));
    return done(
        error_response(partition_moving(p, "its owner could not be reached"), sc->req.path));
  }
  forwarded_answered_.fetch_add(1, std::memory_order_relaxed);
  auto r = std::move(answer).value();
  // The pipeline adds this request's correlation id, the one the owner was given.
  std::erase_if(r.headers, [](const auto& h) {
    return h.first.size() == 16 &&
           std::equal(h.first.begin(), h.first.end(), "x-correlation-id", [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  });
  done(std::move(r));
}

// Caseline-After: waits (bounded) until this server's projections applied every position named.
result<void> api::impl::await_positions(const request_scope& sc) {
  const auto h = sc.req.header("caseline-after");
  if (!h) return success();
  auto positions = parse_positions(*h, s_.log.partition_count());
  if (!positions) return positions.error();
  const auto deadline = std::chrono::steady_clock::now() + read_your_writes_timeout;
  for (const auto& pos : positions.value()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!s_.runner.wait_applied(pos, std::max(left, std::chrono::milliseconds(0))))
      return s_.runner.not_applied(
          make_error(errc::not_ready, fmt::format("{}: this server has not applied {} yet",
                                                  after_header, format_position(pos))));
  }
  return success();
}

// A token made on another server of the group is answered with the position of its record, and
// used here at once with Caseline-After that position: this server may not have applied it yet.
// Sign-in is checked first (an unauthenticated client must not read the positions' effect), so
// an unknown token waits here, bounded as Caseline-After always is, for the positions named in
// the tokens' partition only, and only for those the log holds and this server has not applied:
// the wait is never longer than this server's own lag. An unknown token without Caseline-After,
// or naming a position beyond the log's end or one applied already, is 401 at once, so a client
// without a token cannot make a server wait. A known token (expired, revoked, its unit moved)
// waits for nothing: no record would change the answer.
// The runner may apply the token's record between the caller's lookup and this one: a token
// known by now, or a named position applied by now (with or without a wait), is looked up
// again. Only a position still not applied at the end leaves the first answer standing.
// An unknown token's Caseline-After just past the log's end: how far past may still be a write
// committed a moment ago, and how long it is waited for.
constexpr std::int64_t just_committed_slack = 64;
constexpr std::chrono::milliseconds just_committed_wait{1000};

bool api::impl::await_token(const request_scope& sc) {
  const auto after = sc.req.header("caseline-after");
  const auto bearer = sc.req.header("authorization");
  if (!after || !bearer || !bearer->starts_with("Bearer ")) return false;
  const auto found = tokens_.find(bearer->substr(7));
  if (!found) return false;        // unreadable: answered as it is
  if (found.value()) return true;  // applied since the caller's lookup: look again
  const auto n = s_.log.partition_count();
  const auto positions = parse_positions(*after, n);
  if (!positions) return false;  // sign-in first: 401, not a 400 about the header
  const auto tokens = events::partition_for(tokens_stream, n);
  const auto deadline = std::chrono::steady_clock::now() + read_your_writes_timeout;
  bool applied = false;
  for (const auto& pos : positions.value()) {
    if (pos.partition() != tokens()) continue;
    if (s_.runner.wait_applied(pos, std::chrono::milliseconds(0))) {
      applied = true;
      continue;
    }
    // Deliberately ignored: a log that cannot say its end waits for nothing (401 as it is).
    const auto end = s_.log.end_offset(tokens);
    if (!end) continue;
    // Just past the end is a write committed a moment ago: on Kafka the commit is answered before
    // the markers that make it readable (read_committed) are written, so the end a reader is told
    // may lag it. Such a position waits a short while; one further away (made up) not at all.
    auto until = deadline;
    if (pos.offset() >= end.value()()) {
      if (pos.offset() >= end.value()() + just_committed_slack) continue;
      until = std::min(deadline, std::chrono::steady_clock::now() + just_committed_wait);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    applied = s_.runner.wait_applied(pos, std::max(left, std::chrono::milliseconds(0))) || applied;
  }
  return applied;
}

}  // namespace caseline::gateway
