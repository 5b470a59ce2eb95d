#include "tools/retention_cmd.h"

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "projections/blob_store.h"
#include "projections/clock.h"
#include "projections/recordings.h"
#include "projections/retention.h"

namespace caseline::tools {

namespace {

result<civil_date> as_of_date(const std::string& text) {
  if (text.empty()) return shanghai_date(projections::system_clock{}.now());
  auto d = civil_date::parse(text);
  if (!d) return make_error(std::make_error_code(std::errc::invalid_argument),
                            "--as-of must be YYYY-MM-DD, not '" + text + "'");
  return *d;
}

result<std::unique_ptr<server_stack>> open_offline(const store_options& store) {
  serve_options so;
  so.store = store;
  so.http = false;
  so.checkpoint_interval = std::chrono::minutes(0);
  return server_stack::open(so);
}

}  // namespace

int run_retention_audit(const retention_options& o, std::ostream& out, std::ostream& err) {
  auto as_of = as_of_date(o.as_of);
  if (!as_of) {
    err << "caseline retention audit: " << as_of.error().detail << "\n";
    return 2;
  }
  if (o.format != "text" && o.format != "json") {
    err << "caseline retention audit: --format must be text or json\n";
    return 2;
  }
  auto stack = open_offline(o.store);
  if (!stack) {
    err << "caseline retention audit: " << stack.error().message() << "\n";
    return 2;
  }
  auto& s = *stack.value();
  auto audit = projections::audit_retention(s.store(), s.retention(), as_of.value(), &s.blobs(),
                                            &s.keys());
  if (!audit) {
    err << "caseline retention audit: " << audit.error().message() << "\n";
    return 2;
  }
  out << (o.format == "json" ? projections::retention_audit_json(audit.value()) + "\n"
                             : projections::retention_audit_text(audit.value()));
  return audit.value().ok() ? 0 : 1;
}

int run_retention_purge(const retention_options& o, std::ostream& out, std::ostream& err) {
  if (o.as_of.empty()) {
    err << "caseline retention purge: --as-of DATE is required\n";
    return 2;
  }
  auto as_of = as_of_date(o.as_of);
  if (!as_of) {
    err << "caseline retention purge: " << as_of.error().detail << "\n";
    return 2;
  }
  auto stack = open_offline(o.store);
  if (!stack) {
    err << "caseline retention purge: " << stack.error().message() << "\n";
    return 2;
  }
  auto& s = *stack.value();
  const core::actor who{user_id{o.user}, core::role::supervisor, center_code{}, unit_id{}};
  auto outcome = projections::purge_retention(s.store(), s.writer(), s.keys(), s.blobs(),
                                              s.retention(), as_of.value(), o.dry_run, who);
  if (!outcome) {
    err << "caseline retention purge: " << outcome.error().message() << "\n";
    return 2;
  }
  for (const auto& d : outcome.value().done) out << (o.dry_run ? "would purge " : "purged ") << d << "\n";
  for (const auto& r : outcome.value().refused) out << "refused " << r << "\n";
  for (const auto& f : outcome.value().failed) err << "failed " << f << "\n";
  out << outcome.value().done.size() << (o.dry_run ? " to purge, " : " purged, ")
      << outcome.value().refused.size() << " refused, " << outcome.value().failed.size()
      << " failed\n";
  s.stop(std::chrono::seconds(30));
  return outcome.value().refused.empty() && outcome.value().failed.empty() ? 0 : 1;
}

int run_recording_put(const store_options& o, const std::string& file, std::ostream& out,
                      std::ostream& err) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    err << "caseline recording put: cannot read " << file << "\n";
    return 2;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  // Staged under a key of its own in the key store: the stack holds both.
  auto stack = open_offline(o);
  if (!stack) {
    err << "caseline recording put: " << stack.error().message() << "\n";
    return 2;
  }
  auto sha = projections::recording_store(stack.value()->blobs(), stack.value()->keys())
                 .stage(bytes.str());
  if (!sha) {
    err << "caseline recording put: " << sha.error().message() << "\n";
    return 1;
  }
  out << "{\"sha256\":\"" << sha.value() << "\",\"uri\":\"blob:" << sha.value()
      << "\",\"bytes\":" << bytes.str().size() << "}\n";
  return 0;
}

}  // namespace caseline::tools
