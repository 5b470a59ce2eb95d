#include "events/record.h"

#include <memory>

#include <openssl/evp.h>
#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "core/binary.h"
#include "events/errc.h"

namespace caseline::events {

// Wire form of the envelope. The version is written first (CEREAL_CLASS_VERSION), so a later
// layout can read every earlier one.
template <class Archive>
void serialize(Archive& ar, actor& a, std::uint32_t /*version*/) {
  ar(a.user, a.role, a.center, a.unit);
}

template <class Archive>
void serialize(Archive& ar, envelope& e, std::uint32_t /*version*/) {
  ar(e.event_id, e.case_id, e.sequence, e.type_id, e.version, e.occurred_at, e.recorded_at, e.by,
     e.correlation_id, e.prev_hash, e.body);
}

template <class Archive>
void serialize(Archive& ar, record& r, std::uint32_t /*version*/) {
  ar(r.events);
}

template <class Archive>
void serialize(Archive& ar, idempotency_mark& m, std::uint32_t /*version*/) {
  ar(m.key_hash, m.request_hash);
}

// The CL2 payload: a record with its idempotency mark. Its own type, so that the CL1 layout
// (record, version 1) never changes.
struct keyed_record {
  std::vector<std::string> events;
  idempotency_mark idempotency;
};

template <class Archive>
void serialize(Archive& ar, keyed_record& r, std::uint32_t /*version*/) {
  ar(r.events, r.idempotency);
}

template <class Archive>
void serialize(Archive& ar, checkpoint& c, std::uint32_t /*version*/) {
  ar(c.partition, c.last_offset, c.running_hash, c.written_at);
}

template <class Archive>
void serialize(Archive& ar, partition_claim& c, std::uint32_t /*version*/) {
  ar(c.partition, c.member, c.group, c.claimed_at);
}

}  // namespace caseline::events

CEREAL_CLASS_VERSION(caseline::events::actor, 1);
CEREAL_CLASS_VERSION(caseline::events::envelope, 1);
CEREAL_CLASS_VERSION(caseline::events::record, 1);
CEREAL_CLASS_VERSION(caseline::events::checkpoint, 1);
CEREAL_CLASS_VERSION(caseline::events::partition_claim, 1);
CEREAL_CLASS_VERSION(caseline::events::idempotency_mark, 1);
CEREAL_CLASS_VERSION(caseline::events::keyed_record, 1);

namespace caseline::events {

namespace {

// A record starts with this magic so that a foreign record in the topic is recognised as such.
constexpr std::string_view record_magic = "CL1";
// A record that also carries the Idempotency-Key of its command (keyed_record).
constexpr std::string_view keyed_record_magic = "CL2";
// A checkpoint record: never a prefix of, nor prefixed by, either record magic.
constexpr std::string_view checkpoint_magic = "CLC1";
// A partition claim (partition_claim): neither a prefix of, nor prefixed by, any magic above.
constexpr std::string_view claim_magic = "CLP1";

template <class T>
std::string to_bytes(const T& value) {
  return core::binary_encode(value);
}

template <class T>
result<T> from_bytes(std::string_view bytes, std::string_view what) {
  try {
    core::binary_input ar(bytes);
    T value;
    ar(value);
    if (ar.remaining() != 0)
      return make_error(errc::corrupt_record, std::string(what) + " has trailing bytes");
    return value;
  } catch (const std::exception& ex) {
    return make_error(errc::corrupt_record, std::string(what) + ": " + ex.what());
  }
}

}  // namespace

std::string event_id_of(const case_id& id, sequence_number seq) {
  return id() + "#" + std::to_string(seq());
}

std::string encode_envelope(const envelope& e) { return to_bytes(e); }

result<envelope> decode_envelope(std::string_view bytes) {
  return from_bytes<envelope>(bytes, "event envelope");
}

std::string encode_record(const record& r) {
  if (r.idempotency) {
    std::string out(keyed_record_magic);
    out += to_bytes(keyed_record{r.events, *r.idempotency});
    return out;
  }
  std::string out(record_magic);
  out += to_bytes(r);
  return out;
}

result<record> decode_record(std::string_view bytes) {
  if (is_checkpoint(bytes))
    return make_error(errc::corrupt_record, "a checkpoint record, not events");
  if (is_partition_claim(bytes))
    return make_error(errc::corrupt_record, "a partition claim, not events");
  if (is_gap(bytes)) return make_error(errc::corrupt_record, "a gap, not a record");
  result<record> r = make_error(errc::corrupt_record, "not a caseline record (bad magic)");
  if (bytes.substr(0, record_magic.size()) == record_magic) {
    r = from_bytes<record>(bytes.substr(record_magic.size()), "record");
  } else if (bytes.substr(0, keyed_record_magic.size()) == keyed_record_magic) {
    auto k = from_bytes<keyed_record>(bytes.substr(keyed_record_magic.size()), "record");
    if (!k) return k.error();
    r = record{std::move(k.value().events), std::move(k.value().idempotency)};
  }
  if (r && r.value().events.empty())
    return make_error(errc::corrupt_record, "record holds no event");
  return r;
}

std::string encode_checkpoint(const checkpoint& c) {
  std::string out(checkpoint_magic);
  out += to_bytes(c);
  return out;
}

result<checkpoint> decode_checkpoint(std::string_view bytes) {
  if (!is_checkpoint(bytes))
    return make_error(errc::corrupt_record, "not a caseline checkpoint (bad magic)");
  auto c = from_bytes<checkpoint>(bytes.substr(checkpoint_magic.size()), "checkpoint");
  if (c && c.value().running_hash.size() != 32)
    return make_error(errc::corrupt_record, "checkpoint hash is not 32 bytes");
  return c;
}

bool is_checkpoint(std::string_view value) {
  return value.substr(0, checkpoint_magic.size()) == checkpoint_magic;
}

std::string encode_partition_claim(const partition_claim& c) {
  std::string out(claim_magic);
  out += to_bytes(c);
  return out;
}

result<partition_claim> decode_partition_claim(std::string_view bytes) {
  if (!is_partition_claim(bytes))
    return make_error(errc::corrupt_record, "not a caseline partition claim (bad magic)");
  return from_bytes<partition_claim>(bytes.substr(claim_magic.size()), "partition claim");
}

bool is_partition_claim(std::string_view value) {
  return value.substr(0, claim_magic.size()) == claim_magic;
}

bool holds_events(std::string_view value) {
  return !is_gap(value) && !is_checkpoint(value) && !is_partition_claim(value);
}

std::string sha256(std::string_view bytes) {
  // Fetched once and one context per thread: EVP_Digest with EVP_sha256() looks the digest up
  // and allocates a context on every call (OpenSSL 3), and every event's chain link hashes.
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) throw std::runtime_error("EVP_MD_fetch(SHA256) failed");
    return m;
  }();
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                 &EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1)
    throw std::runtime_error("sha256 failed");
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string idempotency_key_hash(std::string_view token_id, std::string_view key) {
  std::string scoped(token_id);
  scoped += '\0';
  scoped += key;
  return to_hex(sha256(scoped));
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace caseline::events
