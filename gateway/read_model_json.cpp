#include "gateway/read_model_json.h"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "core/registry.h"
#include "gateway/json_text.h"

namespace caseline::gateway {

namespace {

namespace json = boost::json;
using namespace caseline::projections;

json::value number_or_null(std::optional<double> v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value date_or_null(const std::optional<civil_date>& d) {
  return d ? json::value(d->to_string()) : json::value(nullptr);
}

json::value cursor_or_null(const std::string& next) {
  return next.empty() ? json::value(nullptr) : json::value(next);
}

json::object figures_json(const figures& f) {
  json::object o;
  for (std::size_t i = 0; i < f.n.size(); ++i) o[to_string(static_cast<metric>(i))] = f.n[i];
  o["accepted"] = f.accepted();
  o["immediate_answer_rate"] = number_or_null(f.immediate_answer_rate());
  o["on_time_rate"] = number_or_null(f.on_time_rate());
  o["revisit_rate"] = number_or_null(f.revisit_rate());
  o["satisfaction_rate"] = number_or_null(f.satisfaction_rate());
  return o;
}

json::object period_json(const period& p) {
  return {{"from", p.from.to_string()}, {"to", p.to.to_string()}};
}

// One matter reported overdue (Art. 35), in the monthly report and in the list alike.
json::object overdue_json(const overdue_case& o, std::string_view unit_name) {
  json::object j;
  j["case_id"] = o.case_id;
  j["center"] = o.center;
  j["unit"] = o.unit;
  j["unit_name"] = unit_name;
  j["due"] = o.due.to_string();
  j["reported_on"] = o.reported_on.to_string();
  j["replied_on"] = date_or_null(o.replied_on);
  j["domain"] = o.dom ? core::to_string(*o.dom) : std::string_view("unclassified");
  j["category"] = o.cat ? core::to_string(*o.cat) : std::string_view("unclassified");
  return j;
}

json::array assessment_rows_json(const std::vector<assessment_row>& rows) {
  json::array out;
  for (const auto& a : rows) {
    json::object o;
    o["rank"] = a.rank;
    o["center"] = a.center;
    o["name"] = a.name;
    o["received"] = a.totals[metric::received];
    o["immediate_answer_rate"] = number_or_null(a.totals.immediate_answer_rate());
    o["on_time_rate"] = number_or_null(a.totals.on_time_rate());
    o["revisit_rate"] = number_or_null(a.totals.revisit_rate());
    o["satisfaction_rate"] = number_or_null(a.totals.satisfaction_rate());
    o["score"] = number_or_null(a.score);
    out.emplace_back(std::move(o));
  }
  return out;
}

// The weights the score was computed with, so that a reader knows how (Art. 45; the measures
// give none: README-reports.md).
json::object weights_json(const assessment_weights& a) {
  return {{"immediate_answer", a.immediate_answer},
          {"on_time", a.on_time},
          {"revisit", a.revisit},
          {"satisfaction", a.satisfaction}};
}

}  // namespace

namespace {
void add_scope(json_writer& w, const scope& sc) {
  if (const auto c = sc.named_center()) w.key("center").str((*c)());
  if (const auto u = sc.named_unit()) w.key("unit").str((*u)());
}

void next_cursor(json_writer& w, const std::string& next) {
  w.key("next_cursor");
  if (next.empty())
    w.null();
  else
    w.str(next);
}
}  // namespace

// The pages are written straight as text (json_writer): they are answered on every request of
// a work list, and building a boost::json value of some twenty members per row first cost more
// than the store's read.
std::string queue_page_json(const queue_query& q, const queue_page& page, civil_date today) {
  json_writer w;
  w.begin_object().key("queue").str(to_string(q.queue));
  add_scope(w, q.sc);
  w.key("items").begin_array();
  for (const auto& item : page.items) {
    w.begin_object();
    w.key("case_id").str(item.id());
    w.key("status").str(core::to_string(item.status));
    w.key("center").str(item.center());
    if (!item.unit().empty()) w.key("unit").str(item.unit());
    w.key("major_urgent").boolean(item.major_urgent);
    if (item.due_kind) {
      w.key("deadline").str(core::to_string(*item.due_kind));
      w.key("due").str(item.due.to_string());
      w.key("provisional").boolean(item.due_provisional);
      w.key("overdue").boolean(item.due < today);
    } else {
      w.key("since").str(item.due.to_string());
    }
    if (item.cat) w.key("category").str(core::to_string(*item.cat));
    if (item.dom) w.key("domain").str(core::to_string(*item.dom));
    w.key("received_on").str(item.received_on.to_string());
    w.end_object();
  }
  w.end_array();
  next_cursor(w, page.next_cursor);
  w.end_object();
  return w.take();
}

std::string deadlines_json(civil_date today, std::optional<working_days> within, const scope& sc,
                           const deadline_page& page) {
  json_writer w;
  w.begin_object().key("today").str(today.to_string());
  if (within) w.key("within_working_days").num((*within)());
  add_scope(w, sc);
  w.key("items").begin_array();
  for (const auto& r : page.items) {
    w.begin_object();
    w.key("case_id").str(r.id());
    w.key("kind").str(core::to_string(r.kind));
    w.key("due").str(r.due.to_string());
    w.key("provisional").boolean(r.basis.provisional);
    w.key("calendar").str(r.basis.calendar);
    w.key("center").str(r.center());
    if (!r.unit().empty()) w.key("unit").str(r.unit());
    w.key("major_urgent").boolean(r.major_urgent);
    w.key("overdue").boolean(r.due < today);
    w.key("reminded").boolean(r.reminded);
    w.end_object();
  }
  w.end_array();
  next_cursor(w, page.next_cursor);
  w.end_object();
  return w.take();
}

json::object report_json(const report& r) {
  json::object o;
  o["kind"] = to_string(r.kind);
  o["label"] = r.label;
  if (!r.title.empty()) o["title"] = r.title;
  o["period"] = period_json(r.current);
  o["previous_period"] = period_json(r.previous);
  o["year_before_period"] = period_json(r.year_before);
  o["center"] = r.center ? (*r.center)() : std::string("province");
  o["center_name"] = r.center_name;
  o["due"] = r.due.to_string();
  o["totals"] = figures_json(r.total);
  o["previous_totals"] = figures_json(r.total_previous);
  o["year_before_totals"] = figures_json(r.total_year_before);
  o["growth"] = {{"month_on_month", number_or_null(r.month_on_month)},
                 {"year_on_year", number_or_null(r.year_on_year)}};
  const figures c = complaints(r.rows, false);
  o["complaints"] = {{"replied", c[metric::replied]},
                     {"revisited", c[metric::replied_revisited]},
                     {"revisit_rate", number_or_null(c.revisit_rate())},
                     {"required_revisit_rate", 1.0}};
  json::array rows;
  for (const auto& row : r.rows)
    rows.emplace_back(json::object{{"domain", row.domain},
                                   {"category", row.category},
                                   {"figures", figures_json(row.current)},
                                   {"previous", figures_json(row.previous)}});
  o["by_domain_category"] = std::move(rows);
  json::array topics;
  for (const auto& t : r.hot_topics)
    topics.emplace_back(json::object{{"topic", t.topic},
                                     {"count", t.count},
                                     {"previous", t.previous},
                                     {"change", number_or_null(t.change)}});
  o["hot_topics"] = std::move(topics);
  json::array units;
  for (const auto& u : r.units) {
    json::object j{{"center", u.center}, {"unit", u.unit}, {"name", u.name}};
    for (std::size_t i = 0; i < u.current.n.size(); ++i)
      j[to_string(static_cast<unit_metric>(i))] = u.current.n[i];
    j["on_time_rate"] = number_or_null(u.current.on_time_rate());
    units.emplace_back(std::move(j));
  }
  o["units"] = std::move(units);
  json::array urgent;
  for (const auto& u : r.urgent)
    urgent.emplace_back(json::object{{"center", u.center}, {"case_id", u.case_id}});
  o["major_urgent"] = std::move(urgent);
  json::array overdue;
  for (const auto& matter : r.overdue) {
    const auto named = std::find_if(r.units.begin(), r.units.end(), [&](const unit_row& u) {
      return u.center == matter.center && u.unit == matter.unit;
    });
    overdue.emplace_back(
        overdue_json(matter, named == r.units.end() ? std::string_view() : named->name));
  }
  o["overdue_reported"] = std::move(overdue);
  o["overdue_reported_truncated"] = r.overdue_truncated;
  if (!r.assessment.empty()) {
    o["assessment"] = assessment_rows_json(r.assessment);
    o["assessment_weights"] = weights_json(r.weights);
  }
  return o;
}

json::object assessment_json(std::string_view month, const std::vector<assessment_row>& rows,
                             const assessment_weights& weights) {
  json::object o;
  o["month"] = month;
  o["score"] =
      "weighted mean of the available rates: immediate answer, on-time closure, revisit, "
      "satisfaction";
  o["weights"] = weights_json(weights);
  o["centers"] = assessment_rows_json(rows);
  return o;
}

json::object overdue_page_json(const overdue_query& q, const overdue_page& page,
                               const core::registry& reg) {
  json::object o;
  o["period"] = period_json(q.p);
  o["center"] = q.center ? (*q.center)() : std::string("province");
  o["unit"] = q.unit ? json::value((*q.unit)()) : json::value(nullptr);
  json::array items;
  for (const auto& c : page.items) {
    const core::unit_info* u = reg.unit(unit_id{c.unit});
    items.emplace_back(overdue_json(c, u ? std::string_view(u->name) : std::string_view()));
  }
  o["items"] = std::move(items);
  o["next_cursor"] = cursor_or_null(page.next_cursor);
  return o;
}

json::object retention_audit_json(const retention_audit& a) {
  json::object o;
  o["as_of"] = a.as_of.to_string();
  o["policy"] = {{"recording_years", a.policy.recording_years},
                 {"text_years", a.policy.text_years}};
  o["summary"] = {{"kept", a.kept},
                  {"eligible", a.eligible},
                  {"held", a.held},
                  {"purged", a.purged},
                  {"refused_attempts", a.refused}};
  json::array items;
  for (const auto& i : a.items) {
    json::object j;
    j["case_id"] = i.case_id;
    j["item"] = core::to_string(i.item);
    if (!i.sha256.empty()) j["sha256"] = i.sha256;
    j["retain_until"] = date_or_null(i.retain_until);
    j["status"] = i.status;
    j["purged_on"] = date_or_null(i.purged_on);
    items.emplace_back(std::move(j));
  }
  o["items"] = std::move(items);
  json::array history;
  for (const auto& h : a.history)
    history.emplace_back(json::object{{"case_id", h.case_id},
                                      {"sequence", h.sequence},
                                      {"kind", h.kind},
                                      {"item", core::to_string(h.item)},
                                      {"on", h.on.to_string()},
                                      {"by", h.by},
                                      {"retain_until", date_or_null(h.retain_until)},
                                      {"note", h.note}});
  o["history"] = std::move(history);
  json::array violations;
  for (const auto& v : a.violations) violations.emplace_back(v);
  o["verdict"] = {{"no_early_purge", a.ok()}, {"violations", std::move(violations)}};
  return o;
}

boost::json::object token_json(const projections::token_info& t) {
  return {{"id", t.id},
          {"role", t.role},
          {"center", t.center},
          {"unit", t.unit.empty() ? boost::json::value(nullptr) : boost::json::value(t.unit)},
          {"created_at", to_rfc3339_shanghai(t.created_at)},
          {"expires", t.expires_at ? boost::json::value(to_rfc3339_shanghai(*t.expires_at))
                                   : boost::json::value(nullptr)}};
}

boost::json::object created_token_json(const projections::created_token& t) {
  auto o = token_json(t.info);
  o["token"] = t.secret;
  return o;
}

boost::json::object token_list_json(const std::vector<projections::token_info>& tokens,
                                    timestamp now) {
  boost::json::array items;
  for (const auto& t : tokens) {
    auto o = token_json(t);
    o["expired"] = projections::expired(t, now);
    items.emplace_back(std::move(o));
  }
  return {{"tokens", std::move(items)}};
}

}  // namespace caseline::gateway
