#include "projections/calendar_projection.h"

#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/errc.h"
#include "events/errc.h"
#include "events/storage/scan.h"
#include "projections/row_keys.h"
#include "projections/sla_index.h"

namespace caseline::projections {

namespace {

constexpr std::chrono::seconds write_timeout{10};

struct stored_head {
  std::uint64_t sequence{0};
  std::string last_hash;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(sequence, last_hash);
  }
};

std::map<int, std::string> blocks_of(const std::map<int, published_year>& years) {
  std::map<int, std::string> blocks;
  for (const auto& [y, p] : years) blocks[y] = p.text;
  return blocks;
}

}  // namespace

calendar_projection::calendar_projection(store& s) : store_(s) {
  auto years = storage::scan(
      store_.db(), store_.cf(family::registry), {std::string(keys::registry::year_prefix), {}, {}},
      "read calendar", [&](std::string_view, std::string_view value) -> result<storage::scan_step> {
        auto y = detail::decode_row<published_year>(value, "calendar year");
        if (!y) return y.error();
        const int year = y.value().year;
        years_[year] = std::move(y).value();
        return storage::scan_step::next;
      });
  if (!years) load_error_ = years.error();
  auto head = detail::read_row<stored_head>(
      store_, family::registry, std::string(keys::registry::calendar_meta), "calendar head");
  if (!head) load_error_ = head.error();
  else if (head.value()) head_ = {head.value()->sequence, head.value()->last_hash};
  if (!years_.empty() && !load_error_) {
    auto cal = core::calendar::compose(blocks_of(years_));
    if (!cal) load_error_ = cal.error();
    else current_ = std::make_shared<const core::calendar>(std::move(cal).value());
  }
}

void calendar_projection::begin_batch() {
  pending_years_.reset();
  pending_calendar_.reset();
}

result<void> calendar_projection::apply_registry(const decoded_registry_event& e,
                                                 rocksdb::WriteBatch& batch) {
  const auto* pub = std::get_if<core::calendar_year_published>(&e.event);
  if (pub == nullptr) return success();  // the registry's
  if (!pending_years_) {
    std::lock_guard lk(mu_);
    pending_years_ = years_;
    pending_head_ = head_;
  }
  if (auto ok = check_follows(pending_head_, e, calendar_writer::stream_key); !ok) return ok;
  published_year y{pub->year, pub->text, pub->published_on, pub->by()};
  (*pending_years_)[pub->year] = y;
  // The writer checked the year against the others; a log that still does not compose was
  // written by something else and is not applied.
  auto cal = core::calendar::compose(blocks_of(*pending_years_));
  if (!cal)
    return make_error(events::errc::corrupt_record,
                      "calendar event " + e.env.event_id + ": " + cal.error().detail);
  pending_calendar_ = std::make_shared<const core::calendar>(std::move(cal).value());
  pending_head_ = advance(e);
  batch.Put(store_.cf(family::registry), keys::registry::year(pub->year), detail::encode_row(y));
  batch.Put(store_.cf(family::registry), std::string(keys::registry::calendar_meta),
            detail::encode_row(stored_head{pending_head_.sequence, pending_head_.last_hash}));
  return success();
}

void calendar_projection::end_batch(bool committed) {
  if (committed && pending_years_) {
    std::lock_guard lk(mu_);
    years_ = std::move(*pending_years_);
    current_ = std::move(pending_calendar_);
    head_ = pending_head_;
  }
  pending_years_.reset();
  pending_calendar_.reset();
}

std::shared_ptr<const core::calendar> calendar_projection::snapshot() const {
  std::lock_guard lk(mu_);
  return current_;
}

std::map<int, published_year> calendar_projection::years() const {
  std::lock_guard lk(mu_);
  return years_;
}

stream_head calendar_projection::head() const {
  std::lock_guard lk(mu_);
  return head_;
}

result<std::optional<provisional_year_warning>> provisional_next_year(
    events::event_log& log, const projection_runner& runner, const calendar_projection& cal,
    civil_date today, std::chrono::milliseconds timeout) {
  if (auto caught = catch_up_stream(log, runner, calendar_writer::stream_key, timeout); !caught)
    return caught.error();
  const auto current = cal.snapshot();
  if (!current || !core::next_year_provisional(*current, today))
    return std::optional<provisional_year_warning>{};
  return std::optional<provisional_year_warning>{
      provisional_year_warning{today.year + 1, core::official_days_left(*current, today)}};
}

result<publication> calendar_writer::publish(int year, const std::string& text,
                                             const events::actor& by,
                                             const std::string& correlation_id) {
  std::lock_guard lk(mu_);
  auto own = core::calendar::parse_year(year, text);
  if (!own) return own.error();
  auto caught = catch_up_stream(log_, runner_, stream_key, write_timeout);
  if (!caught) return caught.error();
  auto years = calendar_.years();
  if (const auto it = years.find(year); it != years.end() && it->second.text == text) {
    const auto cal = calendar_.snapshot();
    return publication{it->second, cal ? cal->version() : std::string{}, false, caught.value()};
  }
  auto blocks = blocks_of(years);
  blocks[year] = text;
  if (auto cal = core::calendar::compose(blocks); !cal) return cal.error();
  const timestamp now = clock_.now();
  const core::calendar_year_published e{year, text, shanghai_date(now), user_id{by.user}};
  auto pos =
      append_reference_event(log_, runner_, lease_, stream_key, calendar_.head(),
                             core::registry_event{e}, by, correlation_id, now, write_timeout);
  if (!pos) return pos.error();
  const auto cal = calendar_.snapshot();
  years = calendar_.years();
  const auto it = years.find(year);
  if (!cal || it == years.end())
    return make_error(events::errc::fatal, "a published calendar year is missing");
  return publication{it->second, cal->version(), true, pos.value()};
}

result<int> calendar_writer::seed(std::string_view data_file_text, const events::actor& by) {
  auto blocks = core::calendar::split_years(data_file_text);
  if (!blocks) return blocks.error();
  if (auto whole = core::calendar::compose(blocks.value()); !whole) return whole.error();
  std::lock_guard lk(mu_);
  if (auto ok = catch_up_stream(log_, runner_, stream_key, write_timeout); !ok) return ok.error();
  // Each year the log has never published: all of them at the first start, the rest of them
  // after a start that was cut short while seeding (an older seed wrote a record a year). A year
  // the log has is never replaced here: that is publish()'s. All in one record, so that no
  // server ever reads part of a seed: a calendar with this year missing would count deadlines
  // on weekends alone, and warn of 0 official days left.
  auto years = blocks_of(calendar_.years());
  const timestamp now = clock_.now();
  std::vector<core::registry_event> missing;
  for (const auto& [year, text] : blocks.value()) {
    if (years.contains(year)) continue;
    years[year] = text;
    missing.emplace_back(
        core::calendar_year_published{year, text, shanghai_date(now), user_id{by.user}});
  }
  if (missing.empty()) return 0;
  if (auto cal = core::calendar::compose(years); !cal) return cal.error();
  auto pos = append_reference_events(log_, runner_, lease_, stream_key, calendar_.head(), missing,
                                     by, "calendar-seed", now, write_timeout);
  if (!pos) return pos.error();
  return static_cast<int>(missing.size());
}

}  // namespace caseline::projections
