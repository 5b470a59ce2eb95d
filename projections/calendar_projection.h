#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>

#include "core/calendar.h"
#include "core/registry.h"
#include "core/result.h"
#include "events/event_log.h"
#include "projections/clock.h"
#include "projections/projection.h"
#include "projections/reference_stream.h"
#include "projections/runner.h"
#include "projections/store.h"

namespace caseline::projections {

// A year of the calendar as the log last published it.
struct published_year {
  std::int32_t year{0};
  std::string text;  // the year's lines in the data file format
  civil_date published_on;
  std::string by;

  friend bool operator==(const published_year&, const published_year&) = default;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(year, text, published_on, by);
  }
};

// The working-day calendar as a projection of the calendar_year_published events of the log:
// every year's latest publication, composed into one core::calendar. Decisions read its
// snapshot, so the live server and every replay count deadlines on the same calendar at the
// same log position. Rows (family registry): "calendar/year/<YYYY>" -> published_year,
// "calendar/meta" -> the calendar stream's head.
//
// Lifecycle: construct (loads the stored rows) before the runner starts. apply* run on the
// runner's thread; snapshot(), years() and head() from any thread.
class calendar_projection final : public projection {
 public:
  explicit calendar_projection(store& s);
  std::string_view name() const override { return "calendar"; }
  void begin_batch() override;
  result<void> apply(const decoded_event&, rocksdb::WriteBatch&) override { return success(); }
  result<void> apply_registry(const decoded_registry_event& e, rocksdb::WriteBatch& batch) override;
  void end_batch(bool committed) override;

  // The calendar of every published year; null until the log holds one (the server seeds it at
  // its first start).
  std::shared_ptr<const core::calendar> snapshot() const;
  std::map<int, published_year> years() const;
  stream_head head() const;
  const std::optional<error>& load_error() const { return load_error_; }

 private:
  store& store_;
  mutable std::mutex mu_;
  std::shared_ptr<const core::calendar> current_;  // guarded by mu_
  std::map<int, published_year> years_;            // guarded by mu_
  stream_head head_;                               // guarded by mu_
  // The batch being applied (runner thread only).
  std::optional<std::map<int, published_year>> pending_years_;
  std::shared_ptr<const core::calendar> pending_calendar_;
  stream_head pending_head_;
  std::optional<error> load_error_;
};

// The early warning that next year is still provisional (core::next_year_provisional), told
// on the calendar of everything the log holds for the calendar stream when called: for the
// same log and the same day every server tells the same, whatever its projection had applied
// before. An error when the projection did not catch up within `timeout` (warn at a later
// call); nullopt when there is nothing to warn of (next year official, or no calendar in the
// log yet).
struct provisional_year_warning {
  int year{0};                // the provisional one: today's year + 1
  int official_days_left{0};  // core::official_days_left
  friend bool operator==(const provisional_year_warning&,
                         const provisional_year_warning&) = default;
};
result<std::optional<provisional_year_warning>> provisional_next_year(
    events::event_log& log, const projection_runner& runner, const calendar_projection& cal,
    civil_date today, std::chrono::milliseconds timeout);

// What a publication changed.
struct publication {
  published_year year;
  std::string calendar_version;  // of the whole calendar after it
  bool changed{false};           // false: the year was already published with these lines
  // Where a read sees it: the event's record, or (unchanged) the stream's last one.
  std::optional<events::log_position> position{};
};

// The write side of the calendar: checks a year's lines (core::calendar::parse_year, and that
// they agree with the other years), appends a calendar_year_published event under the key
// "calendar" and waits until the projection applied it. Publishing the lines the log already
// holds for the year appends nothing. Publications are serialised. Thread-safe; every
// reference must outlive it.
class calendar_writer {
 public:
  calendar_writer(events::event_log& log, projection_runner& runner, calendar_projection& cal,
                  const clock& clk)
      : log_(log), runner_(runner), calendar_(cal), clock_(clk) {}

  result<publication> publish(int year, const std::string& text, const events::actor& by,
                              const std::string& correlation_id);
  // Publishes each year of the shipped data file that the log has never published, one event
  // each: every year at the first start (and the rest of them after a start cut short while
  // seeding). A year the log holds is never replaced here: that is publish()'s. Returns the
  // years published.
  result<int> seed(std::string_view data_file_text, const events::actor& by);

  static constexpr const char* stream_key = "calendar";

  // Checked before each append (reference_stream.h): a server alone on Kafka passes its claim's.
  // Set before the first write.
  void set_write_lease(write_lease lease) { lease_ = std::move(lease); }

 private:
  events::event_log& log_;
  projection_runner& runner_;
  calendar_projection& calendar_;
  const clock& clock_;
  write_lease lease_;
  std::mutex mu_;
};

}  // namespace caseline::projections

CEREAL_CLASS_VERSION(caseline::projections::published_year, 1);
