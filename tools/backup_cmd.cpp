#include "tools/backup_cmd.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/errc.h"
#include "events/embedded_event_log.h"
#include "events/errc.h"
#include "events/storage/info_log.h"
#include "events/storage/key_order.h"
#include "events/storage/secondary.h"
#include "events/storage/status.h"
#include "gateway/json_text.h"
#include "projections/rebuild.h"

namespace caseline::tools {

namespace {

namespace fs = std::filesystem;
using storage::from_rocksdb;

constexpr const char* manifest_name = "manifest.json";

error bad_argument(std::string what) {
  return make_error(core::errc::invalid_argument, std::move(what));
}
error io_error(const std::string& what, const std::error_code& ec) {
  return make_error(events::errc::fatal, what + ": " + ec.message());
}
error bad_backup(const std::string& file, const std::string& what) {
  return make_error(events::errc::corrupt_record, "backup file " + file + ": " + what);
}

// Streams a file through SHA-256; its size too.
result<std::pair<std::uint64_t, std::string>> hash_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error(events::errc::fatal, "cannot read " + p.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  std::uint64_t size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    size += n;
  }
  if (in.bad()) return make_error(events::errc::fatal, "cannot read " + p.string());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return std::pair{size, out};
}

// fsync of a file or a folder: what is renamed into place must be on disk first.
result<void> sync_path(const fs::path& p, bool directory) {
  const int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return io_error("open " + p.string(), {errno, std::generic_category()});
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) return io_error("fsync " + p.string(), {saved, std::generic_category()});
  return success();
}

result<void> sync_tree(const fs::path& root) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (auto r = sync_path(it->path(), it->is_directory()); !r) return r;
  }
  if (ec) return io_error("list " + root.string(), ec);
  return sync_path(root, true);
}

// A temporary folder beside `target` (same file system, so that the final rename is atomic);
// removed by the destructor unless released.
class staging_dir {
 public:
  static result<staging_dir> beside(const fs::path& target) {
    const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    std::string templ =
        (parent / ("." + target.filename().string() + ".partial-XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr)
      return io_error("create a folder beside " + target.string(),
                      {errno, std::generic_category()});
    return staging_dir(templ);
  }
  staging_dir(staging_dir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  staging_dir(const staging_dir&) = delete;
  ~staging_dir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);  // best effort: a failed run's leftovers
  }
  const fs::path& path() const { return path_; }
  result<void> commit(const fs::path& target) {
    if (auto r = sync_tree(path_); !r) return r;
    std::error_code ec;
    fs::rename(path_, target, ec);
    if (ec) return io_error("rename into " + target.string(), ec);
    path_.clear();
    const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    return sync_path(parent, true);
  }

 private:
  explicit staging_dir(fs::path p) : path_(std::move(p)) {}
  fs::path path_;
};

// Copies a RocksDB database, read through a secondary instance (the server may hold it), key by
// key into a new database at `to` with the same column families.
result<void> copy_database(const fs::path& from, const fs::path& to) {
  auto src = storage::open_secondary(from.string());
  if (!src) return src.error();
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : src.value()->names()) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  storage::use_info_log(options, to.string());
  auto s = rocksdb::DB::Open(options, to.string(), cfs, &handles, &raw);
  if (!s.ok()) return from_rocksdb(s, "create " + to.string());
  std::unique_ptr<rocksdb::DB> dst(raw);
  auto close = [&] {
    for (auto* h : handles) dst->DestroyColumnFamilyHandle(h);
  };
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;  // flushed below, before the database is closed
  for (std::size_t i = 0; i < handles.size() && s.ok(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(
        src.value()->db().NewIterator(storage::in_key_order(), src.value()->handles()[i]));
    rocksdb::WriteBatch batch;
    for (it->SeekToFirst(); it->Valid() && s.ok(); it->Next()) {
      batch.Put(handles[i], it->key(), it->value());
      if (batch.GetDataSize() > (4u << 20)) {
        s = dst->Write(wo, &batch);
        batch.Clear();
      }
    }
    if (s.ok()) s = it->status();
    if (s.ok() && batch.Count() > 0) s = dst->Write(wo, &batch);
  }
  if (s.ok()) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    s = dst->Flush(fo, handles);
  }
  close();
  if (!s.ok()) return from_rocksdb(s, "copy " + from.string() + " into " + to.string());
  s = dst->Close();
  if (!s.ok()) return from_rocksdb(s, "close " + to.string());
  return success();
}

// The blob store's files (not a blob still being written), copied as they are, in
// blob_copy_order.
result<void> copy_blobs(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return success();
  auto order = blob_copy_order(from.string());
  if (!order) return order.error();
  fs::create_directories(to, ec);
  if (ec) return io_error("create " + to.string(), ec);
  for (const auto& rel : order.value()) {
    fs::create_directories((to / rel).parent_path(), ec);
    if (ec) return io_error("create " + (to / rel).parent_path().string(), ec);
    fs::copy_file(from / rel, to / rel, ec);
    // A blob purged (Art. 38) while the backup runs is not copied; its purge event is in the
    // log or comes after the backup, and a purge run on the restored data removes it again.
    if (ec == std::errc::no_such_file_or_directory) {
      ec.clear();
      continue;
    }
    if (ec) return io_error("copy " + (from / rel).string(), ec);
  }
  return success();
}

std::string manifest_json(const backup_manifest& m) {
  boost::json::object o;
  o["format_version"] = m.format_version;
  o["log_kind"] = m.log_kind;
  if (!m.topic.empty()) o["topic"] = m.topic;
  o["partitions"] = m.partitions;
  o["created_at"] = m.created_at;
  boost::json::object offsets;
  for (auto [p, off] : m.offsets) offsets[std::to_string(p)] = off;
  o["offsets"] = std::move(offsets);
  boost::json::array files;
  for (const auto& f : m.files)
    files.push_back(boost::json::object{{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  o["files"] = std::move(files);
  return gateway::json_text(o) + "\n";
}

// A manifest path may name only a file inside the backup: relative, no "..", no empty part.
bool safe_relative(const std::string& p) {
  if (p.empty() || p.front() == '/') return false;
  for (const auto& part : fs::path(p))
    if (part == ".." || part == "." || part.empty()) return false;
  return true;
}

result<backup_manifest> parse_manifest(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return bad_backup(manifest_name, "missing");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return bad_backup(manifest_name, "not a JSON object");
  backup_manifest m;
  try {
    const auto& o = v.as_object();
    m.format_version = static_cast<int>(o.at("format_version").to_number<std::int64_t>());
    if (m.format_version != backup_format_version)
      return bad_backup(manifest_name, fmt::format("format version {}, this caseline reads {}",
                                                   m.format_version, backup_format_version));
    m.log_kind = std::string(o.at("log_kind").as_string());
    if (m.log_kind != "embedded" && m.log_kind != "kafka")
      return bad_backup(manifest_name, "log kind '" + m.log_kind + "'");
    if (const auto* t = o.if_contains("topic")) m.topic = std::string(t->as_string());
    m.partitions = static_cast<std::int32_t>(o.at("partitions").to_number<std::int64_t>());
    m.created_at = std::string(o.at("created_at").as_string());
    for (const auto& [p, off] : o.at("offsets").as_object())
      m.offsets[std::stoi(std::string(p))] = off.to_number<std::int64_t>();
    for (const auto& f : o.at("files").as_array()) {
      const auto& fo = f.as_object();
      backup_file bf{std::string(fo.at("path").as_string()),
                     fo.at("size").to_number<std::uint64_t>(),
                     std::string(fo.at("sha256").as_string())};
      if (!safe_relative(bf.path) || bf.path == manifest_name)
        return bad_backup(manifest_name, "names a file outside the backup: " + bf.path);
      m.files.push_back(std::move(bf));
    }
  } catch (const std::exception& e) {
    // Boost.JSON's accessors throw on a missing or mistyped field: a malformed manifest.
    return bad_backup(manifest_name, std::string("malformed: ") + e.what());
  }
  return m;
}

}  // namespace

result<std::vector<std::string>> blob_copy_order(const std::string& blobs_dir) {
  // 0: a replica's seen time, 1: its offsets, 2: everything else (the data they cover).
  const auto rank = [](const fs::path& rel) {
    if (rel.has_parent_path()) return 2;
    const std::string name = rel.filename().string();
    if (name.ends_with("-seen")) return 0;
    if (name.ends_with("-offsets")) return 1;
    return 2;
  };
  std::vector<std::pair<int, std::string>> files;
  std::error_code ec;
  const fs::path from(blobs_dir);
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_directory()) continue;
    if (it->path().filename().string().find(".tmp.") != std::string::npos) continue;
    const auto rel = fs::relative(it->path(), from);
    files.emplace_back(rank(rel), rel.generic_string());
  }
  if (ec) return io_error("list " + from.string(), ec);
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  out.reserve(files.size());
  for (auto& f : files) out.push_back(std::move(f.second));
  return out;
}

result<backup_manifest> create_backup(const store_options& options, const std::string& out,
                                      timestamp now) {
  const fs::path data(options.data_dir);
  const fs::path target(out);
  std::error_code ec;
  if (fs::exists(target, ec)) return bad_argument(out + " exists already");
  if (!fs::is_directory(data / "store", ec))
    return bad_argument("there is no projection store at " + (data / "store").string());
  const bool embedded = options.kafka.empty();
  if (embedded && !fs::is_directory(data / "log", ec))
    return bad_argument("there is no embedded log at " + (data / "log").string());
  auto staging = staging_dir::beside(target);
  if (!staging) return staging.error();
  const fs::path& dir = staging.value().path();

  // The order is what keeps the copy consistent (see backup_cmd.h).
  if (auto r = copy_database(data / "store", dir / "store"); !r) return r.error();
  if (embedded)
    if (auto r = copy_database(data / "log", dir / "log"); !r) return r.error();
  if (fs::is_directory(data / "keys", ec))
    if (auto r = copy_database(data / "keys", dir / "keys"); !r) return r.error();
  if (auto r = copy_blobs(data / "blobs", dir / "blobs"); !r) return r.error();
  if (fs::exists(data / "master.key", ec)) {
    fs::copy_file(data / "master.key", dir / "master.key", ec);
    if (ec) return io_error("copy " + (data / "master.key").string(), ec);
  }

  backup_manifest m;
  m.log_kind = embedded ? "embedded" : "kafka";
  if (!embedded) m.topic = options.topic;
  m.partitions = options.partitions;
  if (embedded) {  // the embedded log's own count, whatever --partitions said
    auto copied = events::open_embedded_log({(dir / "log").string(), 0, 4096, true});
    if (!copied) return copied.error();
    m.partitions = copied.value()->partition_count();
  }
  m.created_at = to_rfc3339_shanghai(now);
  auto offsets = projections::stored_offsets((dir / "store").string());
  if (!offsets) return offsets.error();
  m.offsets = std::move(offsets).value();
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    auto h = hash_file(it->path());
    if (!h) return h.error();
    m.files.push_back({fs::relative(it->path(), dir).generic_string(), h.value().first,
                       std::move(h.value().second)});
  }
  if (ec) return io_error("list " + dir.string(), ec);
  std::sort(m.files.begin(), m.files.end(),
            [](const backup_file& a, const backup_file& b) { return a.path < b.path; });
  {
    std::ofstream f(dir / manifest_name, std::ios::binary | std::ios::trunc);
    f << manifest_json(m);
    if (!f.flush()) return make_error(events::errc::fatal, "cannot write the manifest");
  }
  if (auto r = staging.value().commit(target); !r) return r.error();
  return m;
}

result<backup_manifest> verify_backup(const std::string& backup) {
  const fs::path dir(backup);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return bad_argument("there is no backup at " + backup);
  auto m = parse_manifest(dir / manifest_name);
  if (!m) return m.error();
  for (const auto& f : m.value().files) {
    const fs::path p = dir / f.path;
    if (!fs::is_regular_file(p, ec)) return bad_backup(f.path, "missing");
    auto h = hash_file(p);
    if (!h) return bad_backup(f.path, h.error().message());
    if (h.value().first != f.size)
      return bad_backup(f.path, fmt::format("{} bytes, the manifest says {}", h.value().first, f.size));
    if (h.value().second != f.sha256) return bad_backup(f.path, "its SHA-256 differs from the manifest's");
  }
  std::vector<std::string> listed;
  for (const auto& f : m.value().files) listed.push_back(f.path);
  std::sort(listed.begin(), listed.end());
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_directory()) continue;
    const std::string rel = fs::relative(it->path(), dir).generic_string();
    if (rel != manifest_name && !std::binary_search(listed.begin(), listed.end(), rel))
      return bad_backup(rel, "not in the manifest");
  }
  if (ec) return io_error("list " + backup, ec);
  return m;
}

result<backup_manifest> restore_backup(const std::string& backup, const std::string& data_dir) {
  const fs::path target(data_dir);
  std::error_code ec;
  if (fs::exists(target, ec))
    return bad_argument(data_dir + " exists already: restore into a new folder");
  auto m = verify_backup(backup);
  if (!m) return m.error();
  auto staging = staging_dir::beside(target);
  if (!staging) return staging.error();
  for (const auto& f : m.value().files) {
    const fs::path to = staging.value().path() / f.path;
    fs::create_directories(to.parent_path(), ec);
    if (ec) return io_error("create " + to.parent_path().string(), ec);
    fs::copy_file(fs::path(backup) / f.path, to, ec);
    if (ec) return io_error("copy " + f.path, ec);
  }
  // The copies are checked again: a restore must not hand a damaged folder to the server.
  for (const auto& f : m.value().files) {
    auto h = hash_file(staging.value().path() / f.path);
    if (!h) return h.error();
    if (h.value().first != f.size || h.value().second != f.sha256)
      return bad_backup(f.path, "changed while it was restored");
  }
  if (auto r = staging.value().commit(target); !r) return r.error();
  return m;
}

namespace {
int exit_code(const error& e) { return e.code == core::errc::invalid_argument ? 2 : 1; }
}  // namespace

int run_backup(const store_options& options, const std::string& out, std::ostream& o,
               std::ostream& err) {
  auto m = create_backup(options, out, from_chrono(std::chrono::system_clock::now()));
  if (!m) {
    err << "caseline backup: " << m.error().message() << "\n";
    return exit_code(m.error());
  }
  std::uint64_t bytes = 0;
  for (const auto& f : m.value().files) bytes += f.size;
  o << fmt::format("backup of {} ({} log) written to {}: {} files, {} bytes\n", options.data_dir,
                   m.value().log_kind, out, m.value().files.size(), bytes);
  return 0;
}

int run_backup_verify(const std::string& backup, std::ostream& o, std::ostream& err) {
  auto m = verify_backup(backup);
  if (!m) {
    err << "caseline backup --verify: " << m.error().message() << "\n";
    return exit_code(m.error());
  }
  o << fmt::format("backup {} verified: {} files, format {}, {} log, taken {}\n", backup,
                   m.value().files.size(), m.value().format_version, m.value().log_kind,
                   m.value().created_at);
  return 0;
}

int run_restore(const std::string& backup, const std::string& data_dir, std::ostream& o,
                std::ostream& err) {
  auto m = restore_backup(backup, data_dir);
  if (!m) {
    err << "caseline restore: " << m.error().message() << "\n";
    return exit_code(m.error());
  }
  o << fmt::format("restored {} into {} ({} files)\n", backup, data_dir, m.value().files.size());
  if (m.value().log_kind == "kafka")
    o << fmt::format("serve it with --kafka BROKERS --topic {} --partitions {}: the projections "
                     "catch up from the stored offsets\n",
                     m.value().topic, m.value().partitions);
  return 0;
}

}  // namespace caseline::tools
