// Cases: receive one (Art. 27), list them, read one and its history, and the public status by
// phone (Art. 36).

#include "gateway/detail/api_impl.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/codec.h"
#include "core/errc.h"
#include "events/errc.h"
#include "gateway/case_json.h"
#include "gateway/command_json.h"
#include "gateway/json_text.h"
#include "gateway/query.h"
#include "projections/case_index.h"
#include "projections/case_projection.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

namespace {

json::object summary_json(const projections::case_summary& c) {
  auto opt = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  return {{"id", c.id},
          {"center", c.center},
          {"owner_center", c.owner_center},
          {"status", c.status},
          {"unit", opt(c.unit)},
          {"category", opt(c.category)},
          {"domain", opt(c.domain)},
          {"received_on", c.received_on.to_string()},
          {"version", c.version},
          {"major_urgent", c.major_urgent}};
}

std::string digits_of(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c >= '0' && c <= '9') out += c;
  return out;
}

template <class E>
bool is_enum_name(std::string_view v) {
  for (int i = 0; i < 64; ++i) {
    const auto n = core::to_string(static_cast<E>(i));
    if (n == "unknown") return false;
    if (n == v) return true;
  }
  return false;
}

}  // namespace

void api::impl::receive(const scope_ptr& sc, answerer done) {
  if (auto r = require_json(sc->req); !r) return done.fail(r.error());
  std::optional<timestamp> occurred_at;
  auto cmd = parse_receive(sc->req.body, occurred_at);
  if (!cmd) return done.fail(cmd.error());
  // The case's recording must have been uploaded, and belong to no other case.
  std::optional<std::string> recording;
  if (const auto& rec = cmd.value().recording) {
    if (auto ok = recordings_.claimable(rec->sha256, case_id{}); !ok) {
      const auto& e = ok.error();
      if (e.code == events::errc::not_found)
        return done(
            error_response(field_error("recording.sha256",
                                       "no such recording: upload it first (PUT /v1/recordings)"),
                           sc->req.path));
      if (e.code == core::errc::invalid_argument)
        return done(
            error_response(field_error("recording.sha256", "the recording belongs to another case"),
                           sc->req.path));
      return done.fail(e);
    }
    recording = rec->sha256;
  }
  projections::command_request req;
  req.cmd = std::move(cmd).value();
  req.occurred_at = occurred_at;
  // Once the case is in the log its recording is re-sealed under the case's key; should that
  // fail, the first fetch through the case claims it.
  auto claim = [this, sc, recording](const core::case_state& st) {
    if (!recording) return;
    if (auto c = recordings_.claim(*recording, st.id); !c)
      spdlog::error(
          R"({{"event":"recording_not_claimed","case_id":"{}","correlation_id":"{}","error":"{}"}})",
          st.id(), sc->correlation_id, c.error().message());
  };
  submit(sc, std::move(req), 201, std::move(done), std::move(claim));
}

void api::impl::get_case(const scope_ptr& sc, answerer done) {
  const std::string& id = sc->match.params.at("id");
  auto found = visible_case(*sc, id);
  if (!found) return done.fail(found.error());
  if (!found.value()) return done.fail(case_not_found(id));
  auto& st = *found.value();
  auto opened = open_personal(*sc, st);
  if (!opened) return done.fail(opened.error());
  auto resp = json_text_response(200, case_json(st, s_.clock.now(), view(*sc, opened.value())));
  resp.headers.emplace_back("ETag", etag(found.value()->version));
  answer_read(*sc, id, done, std::move(resp));
}

void api::impl::get_events(const scope_ptr& sc, answerer done) {
  const std::string& id = sc->match.params.at("id");
  if (auto w = await_own_writes(*sc, id); !w) return done.fail(w.error());
  // The history is the case projection's copy of the log's events (one prefix scan); the log
  // itself is read only by replay and audit.
  auto history = projections::case_reader(s_.store).history(case_id{id});
  if (!history) return done.fail(history.error());
  // The caller's scope is checked on the case its events fold to, the case's row without a
  // second search of the store. An event that does not decode answers 500, but only to a
  // caller the case's row shows it to.
  auto decoded = projections::decode_history(case_id{id}, history.value());
  if (!decoded || decoded.value().events.empty()) {
    // No history, or one that does not decode: the case's row says whether the case exists and
    // is the caller's. 404 only when it does not; a case whose history rows are missing is a
    // store that lost rows (a rebuild restores them), not a missing case.
    auto found = visible_case(*sc, id);
    if (!found) return done.fail(found.error());
    if (!found.value()) return done.fail(case_not_found(id));
    if (decoded) return done.fail(history_missing(*sc, id));
    return done.fail(decoded.error());
  }
  if (!sc->who || !in_scope(*sc->who, decoded.value().folded)) return done.fail(case_not_found(id));
  // Every event is opened before any is written: "personal_data" comes before the events. The
  // case's key, looked up once for all its events (none once its text was shredded).
  auto key = s_.privacy.key_of(case_id{id});
  if (!key) {
    log_unverified(*sc, id, key.error());
    return done.fail(key.error());
  }
  auto& events = decoded.value().events;
  std::vector<bool> available(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto opened = open_personal(*sc, id, key.value(), events[i].env.event_id, events[i].event);
    if (!opened) return done.fail(opened.error());
    available[i] = opened.value();
  }
  const bool shredded = std::find(available.begin(), available.end(), false) != available.end();
  json_writer w;
  w.begin_object().key("case_id").str(id);
  w.key("personal_data").str(shredded ? "shredded" : "available");
  w.key("events").begin_array();
  for (std::size_t i = 0; i < events.size(); ++i)
    write_event(w, events[i].env, events[i].event, view(*sc, available[i]));
  w.end_array().end_object();
  answer_read(*sc, id, done, json_text_response(200, w.take()));
}

void api::impl::list_cases(const scope_ptr& sc, answerer done) {
  if (auto k = known_params(sc->req, {"center", "status", "unit", "category", "domain",
                                      "received_from", "received_to", "cursor", "limit"});
      !k)
    return done.fail(k.error());
  auto param = [&](std::string_view n) { return gateway::param(sc->req, n); };
  projections::list_query lq;
  lq.scope = list_scope(*sc->who);
  const std::string center = param("center"), unit = param("unit"), status = param("status"),
                    category = param("category"), domain = param("domain");
  if (!status.empty() && !is_enum_name<core::case_status>(status))
    return done.fail(field_error("status", "not a case status"));
  if (!category.empty() && !is_enum_name<core::category>(category))
    return done.fail(field_error("category", "not a category"));
  if (!domain.empty() && !is_enum_name<core::domain>(domain))
    return done.fail(field_error("domain", "not a domain"));
  for (const char* n : {"received_from", "received_to"}) {
    const std::string v = param(n);
    if (v.empty()) continue;
    auto d = civil_date::parse(v);
    if (!d) return done.fail(field_error(n, "must be YYYY-MM-DD"));
    (std::string_view(n) == "received_from" ? lq.received_from : lq.received_to) = *d;
  }
  auto limit = parse_limit(param("limit"), lq.limit, 200);
  if (!limit) return done.fail(limit.error());
  lq.limit = limit.value();
  lq.after = param("cursor");
  // Narrow the scanned range with the most selective index the caller's scope allows.
  if (lq.scope.unbounded() && !unit.empty())
    lq.scope = core::scope::of_unit(unit_id{unit});
  else if (lq.scope.unbounded() && !center.empty())
    lq.scope = core::scope::of_center(center_code{center});
  lq.keep = [=](const projections::case_summary& c) {
    return (center.empty() || c.center == center || c.owner_center == center) &&
           (unit.empty() || c.unit == unit) && (status.empty() || c.status == status) &&
           (category.empty() || c.category == category) && (domain.empty() || c.domain == domain);
  };
  if (auto w = await_all_writes(*sc); !w) return done.fail(w.error());
  auto page = projections::case_index_reader(s_.store).list(lq);
  if (!page) {
    if (page.error().code == core::errc::invalid_argument)
      return done.fail(field_error("cursor", "not a cursor of this list"));
    return done.fail(page.error());
  }
  json::array items;
  for (const auto& c : page.value().items) items.emplace_back(summary_json(c));
  done(json_response(
      200, {{"items", std::move(items)},
            {"next_cursor",
             page.value().next.empty() ? json::value(nullptr) : json::value(page.value().next)}}));
}

void api::impl::get_status(const scope_ptr& sc, answerer done) {
  int retry_after = 1;
  // Per client address: behind a trusted proxy, the address it forwarded.
  if (!status_limit_.allow(sc->req.client_key.empty() ? sc->req.client : sc->req.client_key,
                           retry_after)) {
    auto r = error_response(make_error(errc::too_many_requests, "per-address request rate"));
    r.headers.emplace_back("Retry-After", std::to_string(retry_after));
    return done(std::move(r));
  }
  const std::string& id = sc->match.params.at("id");
  const auto last4 = sc->req.query_param("phone_last4");
  if (!last4 || last4->size() != 4 || digits_of(*last4).size() != 4)
    return done.fail(field_error("phone_last4", "must be 4 digits"));
  if (auto w = await_own_writes(*sc, id); !w) return done.fail(w.error());
  auto row = projections::case_reader(s_.store).get(case_id{id});
  if (!row && integrity_failure(row.error())) {
    log_unverified(*sc, id, row.error());
    return done.fail(case_not_found(id));
  }
  if (!row) return done.fail(row.error());
  // A wrong id, a wrong phone, a shredded case (no phone left) and a damaged one answer the
  // same bytes.
  if (!row.value()) return done.fail(case_not_found(id));
  auto st = row.value()->state;
  auto opened = open_personal(*sc, st);
  // A damaged case answers as a missing one: this route needs no token, and "exists but
  // damaged" must not be learnt from it (the failure is logged and counted).
  if (!opened && integrity_failure(opened.error())) return done.fail(case_not_found(id));
  if (!opened) return done.fail(opened.error());
  const std::string phone = digits_of(st.caller.phone);
  if (phone.size() < 4 || phone.substr(phone.size() - 4) != *last4)
    return done.fail(case_not_found(id));
  json::object deadlines{{"transfer_by", nullptr}, {"reply_by", nullptr}};
  for (const auto& d : core::deadlines(st, s_.clock.now()))
    deadlines[d.kind == core::deadline_kind::transfer ? "transfer_by" : "reply_by"] =
        json::object{{"due", d.due.to_string()},
                     {"state", core::to_string(d.state)},
                     {"provisional", d.basis.provisional}};
  auto date = [](const std::optional<civil_date>& d) {
    return d ? json::value(d->to_string()) : json::value(nullptr);
  };
  done(json_response(200, {{"id", id},
                           {"status", core::to_string(st.status)},
                           {"received_on", st.received_on.to_string()},
                           {"closed_on", date(st.closed_on)},
                           {"archived_on", date(st.archived_on)},
                           {"deadlines", std::move(deadlines)}}));
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
