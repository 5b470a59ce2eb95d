#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace caseline::events {

// A 256-bit AES key: a case's data key or the master key that wraps data keys. The bytes are
// wiped when the key is destroyed.
class secret_key {
 public:
  static constexpr std::size_t size = 32;
  secret_key() = default;
  explicit secret_key(std::string_view bytes);  // exactly 32 bytes
  ~secret_key();
  secret_key(const secret_key&) = default;
  secret_key& operator=(const secret_key&) = default;

  // From OpenSSL's DRBG, through the thread's pool of its output (field_crypto.cpp).
  static secret_key random();
  // 64 hex digits -> key; errc::bad_config otherwise.
  static result<secret_key> from_hex(std::string_view hex);
  const unsigned char* data() const { return bytes_.data(); }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

 private:
  std::array<unsigned char, size> bytes_{};
};

// AES-256-GCM (OpenSSL EVP) with a fresh random 96-bit nonce per call. The associated data binds
// a ciphertext to its place, so that moving it elsewhere makes it fail to open.
// Output: nonce (12) || ciphertext || tag (16).
std::string aes_gcm_seal(const secret_key& key, std::string_view plaintext, std::string_view aad);
// errc::corrupt_record when the tag does not verify (wrong key, altered bytes, other place).
result<std::string> aes_gcm_open(const secret_key& key, std::string_view sealed,
                                 std::string_view aad);

// HKDF-SHA256 (RFC 5869, no salt): a key for `info` derived from `secret`. The same inputs give
// the same key on every server that holds `secret`, so nothing derived needs publishing.
secret_key derive_key(const secret_key& secret, std::string_view info);

// A personal field as stored in an event or a state: "\0" "\x01", the event id that sealed it
// (length-prefixed), then aes_gcm_seal(case key, plaintext, aad(case, event, field)). Empty text
// stays empty (it says nothing). Plain text never starts with NUL (input refuses control
// characters), so sealed and plain fields cannot be confused.
bool is_sealed_field(std::string_view value);
std::string seal_field(const secret_key& case_key, std::string_view case_id,
                       std::string_view event_id, std::string_view field,
                       std::string_view plaintext);
// The plaintext, or errc::corrupt_record when the field does not verify. `expected_event_id`
// (when not empty) must be the event id the field was sealed with.
result<std::string> open_field(const secret_key& case_key, std::string_view case_id,
                               std::string_view field, std::string_view sealed,
                               std::string_view expected_event_id = {});

}  // namespace caseline::events
