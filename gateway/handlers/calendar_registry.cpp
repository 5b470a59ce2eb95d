// The working-day calendar (read it, publish a year) and the registry of units and centers
// (Art. 30-31).

#include "gateway/detail/api_impl.h"

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/calendar.h"
#include "gateway/command_json.h"

namespace caseline::gateway {

// Every handler has the route table's signature (api_impl.h): it takes its answerer by
// value, whether it hands it on or only answers through it.
// NOLINTBEGIN(performance-unnecessary-value-param)

namespace {

json::object unit_json(const core::unit_info& u) {
  return {{"id", u.id()},
          {"name", u.name},
          {"center", u.center()},
          {"contact",
           {{"name", u.contact.name},
            {"mobile", u.contact.mobile},
            {"email", u.contact.email},
            {"fax", u.contact.fax}}}};
}

}  // namespace

// The working-day calendar as the log has published it: a year with its notice is official,
// one without is provisional; a year with no data at all is answered from the weekdays.
result<int> api::impl::calendar_year(const scope_ptr& sc) {
  const std::string& y = sc->match.params.at("year");
  if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos || y < "1971")
    return field_error("year", "must be YYYY");
  return std::stoi(y);
}

void api::impl::get_calendar(const scope_ptr& sc, answerer done) {
  auto year = calendar_year(sc);
  if (!year) return done.fail(year.error());
  const auto cal = current_calendar();
  json::array days;
  int workdays = 0;
  for (civil_date d{year.value(), 1, 1}; d.year == year.value(); d = d.plus_days(1)) {
    auto kind = cal->kind(d);
    if (!kind) return done.fail(kind.error());
    if (kind.value() == core::day_kind::workday || kind.value() == core::day_kind::makeup_workday)
      ++workdays;
    days.emplace_back(json::object{{"date", d.to_string()},
                                   {"kind", core::to_string(kind.value())},
                                   {"name", cal->name_of(d)}});
  }
  json::object o{{"year", year.value()},
                 {"status", core::to_string(cal->status(year.value()))},
                 {"provisional", cal->status(year.value()) != core::year_status::official},
                 {"source", cal->source(year.value())},
                 {"calendar", cal->version()},
                 {"workdays", workdays},
                 {"published_on", nullptr},
                 {"text", nullptr}};
  const auto years = s_.calendar.years();
  if (const auto it = years.find(year.value()); it != years.end()) {
    o["published_on"] = it->second.published_on.to_string();
    o["text"] = it->second.text;
  }
  o["days"] = std::move(days);
  done(json_response(200, o));
}

// PUT /v1/calendar/{year}: the year's lines in the calendar data file format (text/plain).
void api::impl::publish_calendar(const scope_ptr& sc, answerer done) {
  const auto ct = sc->req.header("content-type");
  if (!ct || !ct->starts_with("text/plain"))
    return done.fail(make_error(errc::unsupported_media_type,
                                "send the year's lines as Content-Type: text/plain"));
  auto year = calendar_year(sc);
  if (!year) return done.fail(year.error());
  const auto a = to_actor(*sc->who);
  auto p = s_.calendar_writer.publish(
      year.value(), sc->req.body,
      events::actor{a.id(), std::string(to_string(sc->who->role)), a.center(), a.unit()},
      sc->correlation_id);
  if (!p) return done.fail(p.error());
  // Pending deadlines counted on the replaced year are revised in the background.
  if (p.value().changed && s_.clock_moved) s_.clock_moved();
  auto r = json_response(p.value().changed ? 201 : 200,
                         {{"year", year.value()},
                          {"status", core::to_string(current_calendar()->status(year.value()))},
                          {"calendar", p.value().calendar_version},
                          {"published_on", p.value().year.published_on.to_string()},
                          {"changed", p.value().changed}});
  if (p.value().position) with_position(r, *p.value().position);
  done(std::move(r));
}

void api::impl::get_unit(const scope_ptr& sc, answerer done) {
  const std::string& id = sc->match.params.at("id");
  const auto reg = s_.registry.snapshot();
  const core::unit_info* u = reg->unit(unit_id{id});
  if (!u) return done.fail(make_error(errc::not_found, "unit " + id));
  auto shown = opened_unit(*sc, *u);
  if (!shown) return done.fail(shown.error());
  done(json_response(200, unit_json(shown.value())));
}

// A unit with its contact (personal data, sealed in the log and the registry rows) opened on
// a copy for display; a contact that does not verify is logged and counted like a case field.
result<core::unit_info> api::impl::opened_unit(const request_scope& sc, core::unit_info u) {
  auto opened = s_.privacy.open(u);
  if (!opened) {
    if (integrity_failure(opened.error()))
      integrity_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error(
        R"({{"event":"personal_data_unreadable","unit_id":"{}","correlation_id":"{}","error":"{}"}})",
        valid_token_text(u.id(), 64) ? u.id() : "?", sc.correlation_id, opened.error().message());
    return opened.error();
  }
  return u;
}

void api::impl::put_unit(const scope_ptr& sc, answerer done) {
  if (auto r = require_json(sc->req); !r) return done.fail(r.error());
  const std::string& id = sc->match.params.at("id");
  auto e = parse_unit(unit_id{id}, sc->req.body);
  if (!e) return done.fail(e.error());
  // The contact is sealed before it enters the log.
  if (auto sealed = s_.privacy.seal(e.value()); !sealed) return done.fail(sealed.error());
  const auto a = to_actor(*sc->who);
  const principal who = *sc->who;
  auto u = s_.registry_writer.put(
      e.value(), events::actor{a.id(), std::string(to_string(sc->who->role)), a.center(), a.unit()},
      sc->correlation_id,
      [&](const core::registry& reg) { return may_register_unit(who, e.value(), reg); });
  if (!u) return done.fail(u.error());
  auto shown = opened_unit(*sc, u.value().unit);
  if (!shown) return done.fail(shown.error());
  auto r = json_response(200, unit_json(shown.value()));
  with_position(r, u.value().position);
  done(std::move(r));
}

void api::impl::list_centers(const scope_ptr&, answerer done) {
  const auto reg = s_.registry.snapshot();
  json::array out;
  for (const auto& c : reg->centers()) {
    json::array units;
    for (const auto& u : reg->units_of(c.code)) units.emplace_back(u.id());
    out.emplace_back(
        json::object{{"code", c.code()},
                     {"name", c.name},
                     {"parent", c.parent ? json::value((*c.parent)()) : json::value(nullptr)},
                     {"units", std::move(units)}});
  }
  done(json_response(200, {{"centers", std::move(out)}}));
}

// NOLINTEND(performance-unnecessary-value-param)

}  // namespace caseline::gateway
