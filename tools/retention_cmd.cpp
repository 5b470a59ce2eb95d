#include "tools/retention_cmd.h"

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "events/errc.h"
#include "gateway/json_text.h"
#include "gateway/read_model_json.h"
#include "projections/blob_store.h"
#include "projections/clock.h"
#include "projections/key_store.h"
#include "projections/recordings.h"
#include "projections/retention.h"
#include "projections/store.h"
#include "tools/admin_client.h"

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

// The parts retention audit and purge --dry-run read, opened read-only beside a running server
// (RocksDB secondary instances; the blob store is plain files).
struct read_only_parts {
  std::unique_ptr<projections::store> store;
  std::unique_ptr<projections::key_store> keys;  // none when the data folder has no key store
  std::unique_ptr<projections::blob_store> blobs;
};

result<read_only_parts> open_read_only(const store_options& o) {
  namespace fs = std::filesystem;
  const fs::path data(o.data_dir);
  read_only_parts parts;
  auto st = projections::store::open_secondary((data / "store").string());
  if (!st) return st.error();
  parts.store = std::move(st).value();
  if (std::error_code ec; fs::is_directory(data / "keys", ec)) {
    auto master = projections::load_master_key(
        {o.master_key_file, o.master_key_hex, (data / "master.key").string()});
    if (!master) return master.error();
    auto k = projections::key_store::open_secondary((data / "keys").string(), master.value());
    if (!k) return k.error();
    parts.keys = std::move(k).value();
  }
  parts.blobs = std::make_unique<projections::blob_store>((data / "blobs").string());
  return parts;
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
  if (auto r = o.store.retention.check(); !r) {
    err << "caseline retention audit: " << r.error().message() << "\n";
    return 2;
  }
  auto parts = open_read_only(o.store);
  if (!parts) {
    err << "caseline retention audit: " << parts.error().message() << "\n";
    return 2;
  }
  auto& p = parts.value();
  auto audit = projections::audit_retention(*p.store, o.store.retention, as_of.value(),
                                            p.blobs.get(), p.keys.get());
  if (!audit) {
    err << "caseline retention audit: " << audit.error().message() << "\n";
    return 2;
  }
  out << (o.format == "json"
              ? gateway::json_text(gateway::retention_audit_json(audit.value())) + "\n"
              : projections::retention_audit_text(audit.value()));
  return audit.value().ok() ? 0 : 1;
}

namespace {

// The purge through the running server's API: starts the job, follows it until it ends.
int purge_through_server(const retention_options& o, civil_date as_of, std::ostream& out,
                         std::ostream& err) {
  const admin_target to{o.url, o.token};
  const auto body =
      gateway::json_text(boost::json::object{{"as_of", as_of.to_string()}, {"dry_run", o.dry_run}});
  auto started = admin_request(to, "POST", "/v1/admin/retention/purge", body);
  if (!started) {
    err << "caseline retention purge: " << started.error().message() << "\n";
    return started.error().code == make_error_code(events::errc::bad_config) ? 2 : 1;
  }
  if (started.value().status != 202) {
    err << "caseline retention purge: " << started.value().status << " " << started.value().body
        << "\n";
    return started.value().status == 422 ? 2 : 1;
  }
  std::error_code ec;
  auto job = boost::json::parse(started.value().body, ec);
  if (ec || !job.is_object() || !job.as_object().contains("id")) {
    err << "caseline retention purge: the server's answer is not a purge job\n";
    return 1;
  }
  const std::string path =
      "/v1/admin/retention/purge/" + std::string(job.as_object().at("id").as_string());
  // A job of 10⁵ cases takes under a minute; the server answers each poll at once.
  while (job.as_object().at("status").as_string() == "running") {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto now = admin_request(to, "GET", path);
    if (!now || now.value().status != 200) {
      err << "caseline retention purge: following " << path << ": "
          << (now ? std::to_string(now.value().status) + " " + now.value().body
                  : now.error().message())
          << "\n";
      return 1;
    }
    job = boost::json::parse(now.value().body, ec);
    if (ec || !job.is_object()) {
      err << "caseline retention purge: the server's answer is not a purge job\n";
      return 1;
    }
  }
  const auto& j = job.as_object();
  const auto& items = j.at("items").as_object();
  const std::string verb = o.dry_run ? "would purge " : "purged ";
  for (const auto& i : items.at("purged").as_array()) out << verb << i.as_string().c_str() << "\n";
  for (const auto& i : items.at("refused").as_array())
    out << "refused " << i.as_string().c_str() << "\n";
  for (const auto& i : items.at("failed").as_array())
    err << "failed " << i.as_string().c_str() << "\n";
  if (j.at("items_truncated").as_bool()) out << "(the lists above are the first items only)\n";
  for (const auto& g : j.at("partitions_not_done").as_array())
    err << "partition " << g.at("partition").as_int64()
        << " not done: " << g.at("reason").as_string().c_str() << "\n";
  out << j.at("purged").to_number<std::uint64_t>() << (o.dry_run ? " to purge, " : " purged, ")
      << j.at("refused").to_number<std::uint64_t>() << " refused, "
      << j.at("failed").to_number<std::uint64_t>() << " failed (job "
      << j.at("id").as_string().c_str() << ", " << j.at("status").as_string().c_str() << ")\n";
  return j.at("status").as_string() == "done" && j.at("refused").to_number<std::uint64_t>() == 0 &&
                 j.at("failed").to_number<std::uint64_t>() == 0
             ? 0
             : 1;
}

}  // namespace

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
  if (!o.url.empty()) return purge_through_server(o, as_of.value(), out, err);
  if (o.dry_run) {
    // Only reads: beside a running server.
    auto parts = open_read_only(o.store);
    if (!parts) {
      err << "caseline retention purge: " << parts.error().message() << "\n";
      return 2;
    }
    auto plan = projections::purge_plan(*parts.value().store, o.store.retention, as_of.value());
    if (!plan) {
      err << "caseline retention purge: " << plan.error().message() << "\n";
      return 2;
    }
    for (const auto& d : plan.value()) out << "would purge " << d << "\n";
    out << plan.value().size() << " to purge, 0 refused, 0 failed\n";
    return 0;
  }
  // A purge appends events and deletes bytes and keys: it runs on the stopped store.
  auto stack = open_offline(o.store);
  if (!stack) {
    err << "caseline retention purge: " << stack.error().message() << "\n";
    return 2;
  }
  auto& s = *stack.value();
  const core::actor who{user_id{o.user}, core::role::supervisor, center_code{}, unit_id{}};
  projections::recording_store recordings(s.blobs(), s.keys());
  auto outcome = projections::purge_retention(s.store(), s.writer(), s.keys(), recordings,
                                              s.retention(), as_of.value(), false, who);
  if (!outcome) {
    err << "caseline retention purge: " << outcome.error().message() << "\n";
    return 2;
  }
  for (const auto& d : outcome.value().done) out << "purged " << d << "\n";
  for (const auto& r : outcome.value().refused) out << "refused " << r << "\n";
  for (const auto& f : outcome.value().failed) err << "failed " << f << "\n";
  out << outcome.value().done.size() << " purged, "
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
