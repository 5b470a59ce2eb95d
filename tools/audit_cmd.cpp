#include "tools/audit_cmd.h"

#include <filesystem>
#include <ostream>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "projections/case_projection.h"
#include "projections/key_store.h"
#include "projections/personal_data.h"
#include "projections/store.h"
#include "tools/progress.h"

namespace caseline::tools {

result<audit_report> audit_log(
    events::event_log& log,
    const std::function<void(std::uint64_t done, std::uint64_t total)>& on_progress,
    const sealed_fields* sealed) {
  audit_report report;
  report.sealed_checked = sealed != nullptr;
  // Opens the sealed personal fields of each case event; one that fails its tag is a problem
  // naming the case and the field (never a value).
  auto open_sealed = [&](const events::logged_event& e, const events::typed_event& ev) {
    const auto* case_event = std::get_if<core::event>(&ev);
    if (case_event == nullptr) return;      // a registry event: not a case's
    core::event opened_copy = *case_event;  // opened in place
    if (auto opened = sealed->privacy.open(case_id{e.env.case_id()}, e.env.event_id, opened_copy);
        !opened)
      report.sealed.note(fmt::format("event {} (partition {} offset {}): {}", e.env.event_id,
                                     e.position.partition(), e.position.offset(),
                                     opened.error().message()));
  };
  auto verified = sealed ? events::verify_log(log, on_progress, open_sealed)
                         : events::verify_log(log, on_progress);
  if (!verified) return std::move(verified).error();
  report.log = std::move(verified).value();
  if (sealed && sealed->store) {
    auto row_problem = [&](const case_id& id, const error& e) {
      report.sealed.note(fmt::format("case {} (stored state): {}", id(), e.message()));
    };
    const projections::case_reader reader(*sealed->store);
    auto rows = reader.for_each([&](const case_id& id, result<projections::case_row> row) {
      if (!row) return row_problem(id, row.error());
      if (auto opened = sealed->privacy.open(row.value().state); !opened)
        row_problem(id, opened.error());
    });
    if (!rows) return std::move(rows).error();
  }
  return report;
}

result<std::unique_ptr<events::event_log>> open_existing_log(const store_options& options) {
  if (options.kafka.empty()) {
    const auto dir = std::filesystem::path(options.data_dir) / "log";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      return make_error(events::errc::bad_config, "there is no embedded log at " + dir.string());
    return events::open_embedded_log({dir.string(), options.partitions, 4096, true});
  }
  return open_log(options);
}

int run_audit_verify(const audit_options& options, std::ostream& out, std::ostream& err) {
  auto log = open_existing_log(options.store);
  if (!log) {
    err << "caseline audit verify: " << log.error().message() << "\n";
    return 2;
  }
  // The sealed fields, when this data folder holds the case keys.
  const std::filesystem::path data(options.store.data_dir);
  std::unique_ptr<projections::key_store> keys;
  std::unique_ptr<projections::store> store;
  std::optional<projections::personal_data> privacy;
  std::optional<sealed_fields> sealed;
  std::string sealed_skipped = "there are no case keys in " + (data / "keys").string();
  if (std::error_code ec; std::filesystem::is_directory(data / "keys", ec)) {
    auto master = projections::load_master_key({options.store.master_key_file,
                                                options.store.master_key_hex,
                                                (data / "master.key").string()});
    // The store before the keys: a case's key is written before its first event, so every
    // row the store holds has its key in a key store opened after it (the server may be running).
    auto st = projections::store::open_secondary((data / "store").string());
    auto k = master ? projections::key_store::open_secondary((data / "keys").string(), master.value())
                    : result<std::unique_ptr<projections::key_store>>(master.error());
    if (k) {
      keys = std::move(k).value();
      privacy.emplace(*keys);
      sealed.emplace(sealed_fields{*privacy, nullptr});
      if (st) {
        store = std::move(st).value();
        sealed->store = store.get();
      } else {
        err << "caseline audit verify: the stored case rows are not checked: "
            << st.error().message() << "\n";
      }
    } else {
      sealed_skipped = k.error().message();
    }
  }
  std::optional<progress_bar> bar;
  if (options.progress) bar.emplace(err, "verifying", 0);
  auto report = audit_log(
      *log.value(),
      [&](std::uint64_t done, std::uint64_t total) {
        if (!bar) return;
        bar->set_total(total);
        bar->update(done);
      },
      sealed ? &*sealed : nullptr);
  if (bar) bar->finish();
  if (!report) {
    err << "caseline audit verify: " << report.error().message() << "\n";
    return 2;
  }
  const audit_report& r = report.value();
  const events::log_verification& l = r.log;
  out << fmt::format(
      "records {}, events {}, cases {}, checkpoints verified {}, records after the last "
      "checkpoint {}\n",
      l.records, l.events, l.streams, l.checkpoints, l.uncovered);
  if (!r.sealed_checked) out << "sealed fields not checked: " << sealed_skipped << "\n";
  const std::pair<const char*, const events::problem_tally*> kinds[] = {
      {"chain", &l.chain},
      {"record", &l.record},
      {"checkpoint", &l.checkpoint},
      {"log", &l.log},
      {"sealed field", &r.sealed}};
  for (const auto& [name, p] : kinds) {
    if (p->count == 0) continue;
    out << fmt::format("{} problems: {}; first: {}\n", name, p->count, p->first);
  }
  for (const auto& a : l.anchors) out << "last checkpoint: " << a << "\n";
  out << (r.clean() ? "verified: every chain and checkpoint holds\n"
                    : "TAMPERED: the log does not verify\n");
  return r.clean() ? 0 : 1;
}

}  // namespace caseline::tools
