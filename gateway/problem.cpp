#include "gateway/problem.h"

#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/errc.h"
#include "core/log_line.h"
#include "events/errc.h"
#include "gateway/json_text.h"
#include "projections/errc.h"

namespace caseline::gateway {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "caseline.gateway"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::malformed_json: return "the body is not valid JSON";
      case errc::invalid_field: return "invalid field";
      case errc::not_found: return "not found";
      case errc::method_not_allowed: return "method not allowed";
      case errc::unsupported_media_type: return "unsupported media type";
      case errc::payload_too_large: return "payload too large";
      case errc::headers_too_large: return "request header fields too large";
      case errc::bad_request: return "bad request";
      case errc::request_timeout: return "request timeout";
      case errc::too_many_requests: return "too many requests";
      case errc::not_ready: return "not ready";
      case errc::internal: return "internal error";
      case errc::unauthorized: return "a valid bearer token is required";
      case errc::forbidden: return "the token's role may not do this (Art. 16-23)";
      case errc::idempotency_key_reused:
        return "this Idempotency-Key was used for another request";
      case errc::bad_precondition: return "If-Match must be a quoted case version, e.g. \"3\"";
      case errc::gone: return "not stored (any more)";
      case errc::owner_unreachable:
        return "the partition's owner did not answer in time";
    }
    return "unknown gateway error";
  }
};

// "(Art. 34)" or "(Art. 40(4), 43)" at the end of a rule's message.
std::string article_of(std::string_view message) {
  const auto pos = message.rfind("(Art. ");
  if (pos == std::string_view::npos) return {};
  const auto end = message.rfind(')');
  if (end == std::string_view::npos || end <= pos) return {};
  return std::string(message.substr(pos + 1, end - pos - 1));
}

struct mapping {
  int status;
  const char* slug;
  const char* title;
};

mapping map_gateway(errc e) {
  switch (e) {
    case errc::malformed_json: return {400, "malformed-json", "Malformed JSON"};
    case errc::invalid_field: return {422, "invalid-field", "Invalid field"};
    case errc::not_found: return {404, "not-found", "Not found"};
    case errc::method_not_allowed: return {405, "method-not-allowed", "Method not allowed"};
    case errc::unsupported_media_type:
      return {415, "unsupported-media-type", "Unsupported media type"};
    case errc::payload_too_large: return {413, "payload-too-large", "Payload too large"};
    case errc::headers_too_large:
      return {431, "headers-too-large", "Request header fields too large"};
    case errc::bad_request: return {400, "bad-request", "Bad request"};
    case errc::request_timeout: return {408, "request-timeout", "Request timeout"};
    case errc::too_many_requests: return {429, "too-many-requests", "Too many requests"};
    case errc::not_ready: return {503, "not-ready", "Service unavailable"};
    case errc::unauthorized: return {401, "unauthorized", "Unauthorized"};
    case errc::forbidden: return {403, "forbidden", "Forbidden"};
    case errc::idempotency_key_reused:
      return {422, "idempotency-key-reused", "Idempotency-Key reused"};
    case errc::bad_precondition: return {400, "bad-precondition", "Bad precondition"};
    case errc::gone: return {410, "gone", "Gone"};
    case errc::owner_unreachable:
      return {503, "owner-unreachable",
              "The server that owns the case's partition did not answer in time; the write may "
              "have been made: retry with the same Idempotency-Key"};
    case errc::ok:
    case errc::internal: break;
  }
  return {500, "internal", "Internal error"};
}

// A rule of the measures: 409 when the case's state does not allow the command now, 422 when
// the command itself breaks the rule whatever the state. `type` names the rule
// (/problems/rule/<name>), the detail and `article` say which article.
mapping rule(int status, const char* slug) {
  return {status, slug,
          status == 422 ? "The regulation does not allow this"
                        : "The regulation does not allow this now"};
}

mapping map_core(core::errc e) {
  using core::errc;
  switch (e) {
    case errc::invalid_argument: return {422, "invalid-field", "Invalid field"};
    case errc::case_not_found: return {404, "case-not-found", "Case not found"};
    case errc::undecodable_event:
    case errc::calendar_unreadable:
    case errc::ok: return {500, "internal", "Internal error"};
    case errc::no_calendar_for_year: return rule(422, "rule/no-calendar-for-year");
    case errc::case_already_exists: return rule(409, "rule/case-already-exists");
    case errc::case_archived: return rule(409, "rule/case-archived");
    case errc::not_at_intake: return rule(409, "rule/not-at-intake");
    case errc::not_classified: return rule(409, "rule/not-classified");
    case errc::unknown_center: return rule(422, "rule/unknown-center");
    case errc::unit_not_registered: return rule(422, "rule/unit-not-registered");
    case errc::no_upper_center: return rule(409, "rule/no-upper-center");
    case errc::expressway_not_highway: return rule(422, "rule/expressway-not-highway");
    case errc::not_transferred: return rule(409, "rule/not-transferred");
    case errc::not_the_handling_unit: return rule(409, "rule/not-the-handling-unit");
    case errc::not_the_owning_center: return rule(409, "rule/not-the-owning-center");
    case errc::extension_after_deadline: return rule(409, "rule/extension-after-deadline");
    case errc::extension_too_long: return rule(422, "rule/extension-too-long");
    case errc::nothing_overdue: return rule(409, "rule/nothing-overdue");
    case errc::reply_incomplete: return rule(422, "rule/reply-incomplete");
    case errc::not_replied: return rule(409, "rule/not-replied");
    case errc::revisit_required: return rule(409, "rule/revisit-required");
    case errc::not_closable: return rule(409, "rule/not-closable");
    case errc::already_flagged: return rule(409, "rule/already-flagged");
    case errc::flag_too_late: return rule(409, "rule/flag-too-late");
    case errc::sample_rate_too_low: return rule(422, "rule/sample-rate-too-low");
    case errc::not_permitted: return rule(409, "rule/not-permitted");
    case errc::retention_not_over: return rule(409, "rule/retention-not-over");
    case errc::legal_hold: return rule(409, "rule/legal-hold");
    case errc::nothing_to_purge: return rule(409, "rule/nothing-to-purge");
    case errc::hold_state: return rule(409, "rule/hold-state");
    case errc::retention_too_short: return rule(422, "rule/retention-too-short");
    case errc::received_out_of_range: return rule(422, "rule/received-out-of-range");
    case errc::return_window_passed: return rule(409, "rule/return-window-passed");
    case errc::return_window_open: return rule(409, "rule/return-window-open");
    case errc::no_extension_request: return rule(409, "rule/no-extension-request");
  }
  return {500, "internal", "Internal error"};
}

mapping map_projections(projections::errc e) {
  switch (e) {
    case projections::errc::case_not_found: return {404, "case-not-found", "Case not found"};
    case projections::errc::stale_version:
      return {412, "stale-version", "The case has changed (If-Match)"};
    case projections::errc::shutting_down:
      return {503, "shutting-down", "The server is shutting down"};
    case projections::errc::ok: break;
  }
  return {500, "internal", "Internal error"};
}

mapping map_events(events::errc e) {
  switch (e) {
    case events::errc::unavailable:
    case events::errc::timed_out:
    case events::errc::fatal:
    case events::errc::closed:
    case events::errc::fenced:
      return {503, "log-unavailable", "The event log is unavailable; nothing was written"};
    case events::errc::not_owner:
      return {503, "partition-moving",
              "No server writes the case's partition right now (a rebalance of the group is "
              "moving it, or a server without a group is confirming that it still is the log's "
              "only writer); nothing was written: retry"};
    // Only the errors above mean the append certainly did not happen.
    case events::errc::outcome_unknown:
      return {503, "log-outcome-unknown",
              "The event log did not confirm the write; it may have been written: retry with "
              "the same Idempotency-Key"};
    case events::errc::disk_full:
      return {503, "disk-full",
              "The server's data disk is full; nothing was written: retry once space is freed"};
    case events::errc::not_found: return {404, "not-found", "Not found"};
    default: break;
  }
  return {500, "internal", "Internal error"};
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

problem to_problem(const error& e) {
  mapping m{500, "internal", "Internal error"};
  const auto& cat = e.code.category();
  if (cat == error_category()) {
    m = map_gateway(static_cast<errc>(e.code.value()));
  } else if (cat == core::error_category()) {
    m = map_core(static_cast<core::errc>(e.code.value()));
  } else if (cat == projections::error_category()) {
    m = map_projections(static_cast<projections::errc>(e.code.value()));
  } else if (cat == events::error_category()) {
    m = map_events(static_cast<events::errc>(e.code.value()));
  }
  problem p;
  p.status = m.status;
  p.slug = m.slug;
  p.title = m.title;
  if (m.status == 500) {
    p.detail = "an internal error occurred; it has been logged";
  } else {
    p.detail = e.message();
    p.article = article_of(e.code.message());
    // A role's refusal names the article that gives the power, where one does
    // (core/authorization.h); the code's own is the centers' staff (Art. 16-23).
    if (e.code == core::errc::not_permitted)
      if (auto a = article_of(e.detail); !a.empty()) p.article = std::move(a);
  }
  // The field comes typed with the error, from core's rules as from the gateway's and the
  // projections' checks; the detail text is never read for it.
  p.field = e.field;
  return p;
}

http_response problem_response(const problem& p, std::string_view instance) {
  boost::json::object o;
  o["type"] = "/problems/" + p.slug;
  o["title"] = p.title;
  o["status"] = p.status;
  // The instance (the request's path), a detail or a field may echo what the client sent:
  // never as invalid UTF-8, which would make the body invalid JSON text.
  if (!p.detail.empty()) o["detail"] = valid_utf8(p.detail);
  if (!instance.empty()) o["instance"] = valid_utf8(instance);
  if (!p.article.empty()) o["article"] = p.article;
  if (!p.field.empty()) o["field"] = valid_utf8(p.field);
  http_response r;
  r.status = p.status;
  r.content_type = "application/problem+json";
  r.body = json_text(o);
  // A partition that moves between servers of the group has an owner again within seconds.
  // An owner that did not answer is most often one the group is about to replace.
  if (p.slug == "partition-moving" || p.slug == "owner-unreachable")
    r.headers.emplace_back("Retry-After", "1");
  // A full disk needs an operator: not sooner than the server reads the disk again.
  if (p.slug == "disk-full") r.headers.emplace_back("Retry-After", "30");
  return r;
}

error field_error(std::string_view path, std::string_view reason) {
  return make_field_error(errc::invalid_field, std::string(path), reason);
}

http_response error_response(const error& e, std::string_view instance) {
  problem p = to_problem(e);
  // The answer says only that it has been logged: here it is (codes and system text, never a
  // request's personal fields: those never reach an error's detail).
  if (p.status == 500)
    spdlog::error("{}", log_line("internal_error", {{"category", e.code.category().name()},
                                                    {"code", e.code.value()},
                                                    {"error", e.message()},
                                                    {"instance", std::string(instance)}}));
  return problem_response(p, instance);
}

}  // namespace caseline::gateway
