#include "projections/recordings.h"

#include <spdlog/spdlog.h>

#include "core/errc.h"
#include "core/log_line.h"
#include "events/errc.h"
#include "events/field_crypto.h"
#include "events/record.h"

namespace caseline::projections {

namespace {

// A sealed recording file: magic, 's' (staged under a stored key), 'd' (staged under a derived
// key, in a group) or 'c' + length-prefixed case id (claimed), then aes_gcm_seal(key, audio, aad).
constexpr std::string_view magic = "CLREC1";

struct parsed_file {
  bool sealed{false};  // false: plain audio written before recordings were sealed
  bool claimed{false};
  bool derived{false};  // staged under the derived staging key
  std::string owner;
  std::string_view ciphertext;
};

result<parsed_file> parse(std::string_view bytes, std::string_view sha) {
  parsed_file f;
  if (!bytes.starts_with(magic)) {
    if (events::to_hex(events::sha256(bytes)) != sha)
      return make_error(events::errc::corrupt_record,
                        "recording " + std::string(sha) + " does not match its hash");
    f.ciphertext = bytes;  // the audio itself
    return f;
  }
  f.sealed = true;
  bytes.remove_prefix(magic.size());
  if (bytes.empty()) return make_error(events::errc::corrupt_record, "recording file truncated");
  const char state = bytes.front();
  bytes.remove_prefix(1);
  if (state == 'c') {
    if (bytes.empty()) return make_error(events::errc::corrupt_record, "recording file truncated");
    const auto n = static_cast<unsigned char>(bytes.front());
    if (bytes.size() < 1u + n)
      return make_error(events::errc::corrupt_record, "recording file truncated");
    f.claimed = true;
    f.owner = std::string(bytes.substr(1, n));
    bytes.remove_prefix(1u + n);
  } else if (state == 'd') {
    f.derived = true;
  } else if (state != 's') {
    return make_error(events::errc::corrupt_record, "recording file of an unknown kind");
  }
  f.ciphertext = bytes;
  return f;
}

// Binds the ciphertext to its audio's hash and its owner (none while staged).
std::string aad(std::string_view sha, std::string_view owner) {
  std::string out = "recording";
  out += '\0';
  out += sha;
  out += '\0';
  out += owner;
  return out;
}

case_id staging_key_id(std::string_view sha) {
  return case_id{std::string(staging_key_prefix) + std::string(sha)};
}

// A group's staging key: the same on every server that holds the master key.
events::secret_key derived_staging_key(const key_store& keys, std::string_view sha) {
  std::string info = "caseline.recording.staging.v1";
  info += '\0';
  info += sha;
  return keys.derive(info);
}

error not_found(std::string_view sha, std::string_view why) {
  return make_error(events::errc::not_found, "recording " + std::string(sha) + ": " + std::string(why));
}

}  // namespace

bool is_claimed_recording(std::string_view file) {
  if (!file.starts_with(magic)) return false;
  file.remove_prefix(magic.size());
  return !file.empty() && file.front() == 'c';
}

result<std::string> recording_store::read(std::string_view sha, const case_id& owner) {
  auto bytes = blobs_.read(sha);
  if (bytes || bytes.error().code != events::errc::not_found) return bytes;
  auto* group = blobs_.replication();
  if (!group) return bytes;
  if (auto w = group->await(sha, owner, std::chrono::steady_clock::now() + replica_wait); !w)
    return w.error();
  return blobs_.read(sha);
}

result<std::string> recording_store::stage(std::string_view audio) {
  const std::string sha = events::to_hex(events::sha256(audio));
  if (auto* group = blobs_.replication()) {
    // Sealed under the derived key and published before the upload is answered: any server
    // may then take the case that references it. A copy a case has claimed is not staged again.
    auto existing = read(sha, case_id{});
    if (existing && is_claimed_recording(existing.value())) return sha;
    if (!existing && existing.error().code != events::errc::not_found) return existing.error();
    std::string file(magic);
    file += 'd';
    file += events::aes_gcm_seal(derived_staging_key(keys_, sha), audio, aad(sha, ""));
    if (auto w = blobs_.write(sha, file); !w) return w.error();
    if (auto p = group->publish_staged(sha, file); !p) return p.error();
    return sha;
  }
  auto existing = blobs_.read(sha);
  if (existing) {
    auto f = parse(existing.value(), sha);
    if (f && f.value().claimed) return sha;  // a case owns it
    if (f && f.value().sealed) {
      auto k = keys_.get(staging_key_id(sha));
      if (!k) return k.error();
      if (k.value()) return sha;  // already staged
    }
  } else if (existing.error().code != events::errc::not_found) {
    return existing.error();
  }
  auto k = keys_.get(staging_key_id(sha));
  if (!k) return k.error();
  events::secret_key key;
  if (k.value()) {
    key = *k.value();
  } else {
    auto created = keys_.create(staging_key_id(sha));
    if (!created) return created.error();
    key = created.value();
  }
  std::string file(magic);
  file += 's';
  file += events::aes_gcm_seal(key, audio, aad(sha, ""));
  if (auto w = blobs_.write(sha, file); !w) return w.error();
  return sha;
}

result<void> recording_store::claimable(std::string_view sha, const case_id& by) {
  auto bytes = read(sha, by);
  if (!bytes) return bytes.error();
  auto f = parse(bytes.value(), sha);
  if (!f) return f.error();
  if (f.value().claimed && f.value().owner != by())
    return make_error(core::errc::invalid_argument,
                      "recording.sha256: the recording belongs to another case");
  if (f.value().sealed && !f.value().claimed && !f.value().derived) {
    auto k = keys_.get(staging_key_id(sha));
    if (!k) return k.error();
    if (!k.value()) return not_found(sha, "its staging key is gone");
  }
  return success();
}

result<void> recording_store::claim(std::string_view sha, const case_id& owner) {
  auto bytes = read(sha, owner);
  if (!bytes) return bytes.error();
  auto f = parse(bytes.value(), sha);
  if (!f) return f.error();
  if (f.value().claimed) {
    if (f.value().owner == owner()) return success();
    return make_error(core::errc::invalid_argument,
                      "recording.sha256: the recording belongs to another case");
  }
  std::string audio;
  if (f.value().derived) {
    auto opened =
        events::aes_gcm_open(derived_staging_key(keys_, sha), f.value().ciphertext, aad(sha, ""));
    if (!opened) return opened.error();
    audio = std::move(opened).value();
  } else if (f.value().sealed) {
    auto k = keys_.get(staging_key_id(sha));
    if (!k) return k.error();
    if (!k.value()) return not_found(sha, "its staging key is gone");
    auto opened = events::aes_gcm_open(*k.value(), f.value().ciphertext, aad(sha, ""));
    if (!opened) return opened.error();
    audio = std::move(opened).value();
  } else {
    audio = std::string(f.value().ciphertext);
  }
  auto case_key = keys_.get(owner);
  if (!case_key) return case_key.error();
  if (!case_key.value()) return not_found(sha, "its case's text was shredded");
  if (owner().size() > 255) return make_error(core::errc::invalid_argument, "case id too long");
  std::string file(magic);
  file += 'c';
  file += static_cast<char>(owner().size());
  file += owner();
  file += events::aes_gcm_seal(*case_key.value(), audio, aad(sha, owner()));
  if (auto w = blobs_.write(sha, file); !w) return w.error();
  if (auto* group = blobs_.replication()) {
    // The claimed copy goes to every server through the case's partition's owner (a fenced
    // server commits nothing); until it has, the staged copy stays in the topic and serves.
    group->commit_claimed(
        owner, sha, file, bytes.value().size(),
        [sha = std::string(sha), id = owner()](result<void> r) {
          if (r) return;
          spdlog::warn(
              "{}", log_line("recording_claim_not_replicated",
                             {{"sha256", sha}, {"case_id", id}, {"error", r.error().message()}}));
        });
  }
  // The staging key is no longer needed: deleting it leaves the case's key the only one.
  if (f.value().sealed && !f.value().derived) return keys_.shred({staging_key_id(sha)});
  return success();
}

result<std::string> recording_store::open(std::string_view sha, const case_id& owner) {
  auto bytes = read(sha, owner);
  if (!bytes) return bytes.error();
  auto f = parse(bytes.value(), sha);
  if (!f) return f.error();
  if (!f.value().claimed) {
    if (auto c = claim(sha, owner); !c) return c.error();
    return open(sha, owner);
  }
  if (f.value().owner != owner()) return not_found(sha, "not this case's");
  auto k = keys_.get(owner);
  if (!k) return k.error();
  if (!k.value()) return not_found(sha, "its case's text was shredded");
  auto audio = events::aes_gcm_open(*k.value(), f.value().ciphertext, aad(sha, owner()));
  if (!audio) return audio.error();
  if (events::to_hex(events::sha256(audio.value())) != sha)
    return make_error(events::errc::corrupt_record,
                      "recording " + std::string(sha) + " does not match its hash");
  return audio;
}

result<void> recording_store::purge(std::string_view sha, const case_id& owner) {
  std::size_t size = 0;
  if (auto bytes = blobs_.read(sha); bytes)
    size = bytes.value().size();
  else if (bytes.error().code != events::errc::not_found)
    return bytes.error();
  if (auto* group = blobs_.replication()) {
    if (auto p = group->purge(owner, sha, size); !p) return p;
  }
  return blobs_.remove(sha);
}

}  // namespace caseline::projections
