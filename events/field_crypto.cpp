#include "events/field_crypto.h"

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "events/errc.h"

namespace caseline::events {

namespace {

constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr char sealed_marker[2] = {'\0', '\x01'};

using ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// AES-256-GCM, fetched from the provider once: EVP_aes_256_gcm() makes every init look it up
// again (OpenSSL 3), a cost paid for each field sealed or opened on the write path.
const EVP_CIPHER* aes_256_gcm() {
  static EVP_CIPHER* const cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (!c) throw std::runtime_error("EVP_CIPHER_fetch(AES-256-GCM) failed");
    return c;
  }();
  return cipher;
}

// One AES-256-GCM context per thread, which keeps the last key it was given. A case's fields are
// sealed or opened one after the other with the case's key, and setting a key (its AES round
// keys and GHASH table) cost about as much as sealing a short field: with the same key, only the
// nonce is set. A field is sealed or opened start to end on one thread. After an error the key is
// set again. The key's copy and the context are wiped when the thread ends.
class gcm_context {
 public:
  gcm_context() : ctx_(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free) {
    if (!ctx_) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  }
  ~gcm_context() { OPENSSL_cleanse(key_.data(), key_.size()); }
  gcm_context(const gcm_context&) = delete;
  gcm_context& operator=(const gcm_context&) = delete;

  // The context, ready to encrypt (`encrypt`) or decrypt with `key` and the 12-byte `nonce`;
  // nullptr when OpenSSL refuses.
  EVP_CIPHER_CTX* begin(const secret_key& key, const unsigned char* nonce, bool encrypt) {
    const int enc = encrypt ? 1 : 0;
    EVP_CIPHER_CTX* ctx = ctx_.get();
    const bool same_key = keyed_ && CRYPTO_memcmp(key_.data(), key.data(), key_.size()) == 0;
    // The cipher is given only to a context without a key: giving it again would make OpenSSL
    // build its context anew.
    const int ok = EVP_CipherInit_ex(ctx, keyed_ ? nullptr : aes_256_gcm(), nullptr,
                                     same_key ? nullptr : key.data(), nonce, enc);
    if (ok != 1) {
      forget();
      return nullptr;
    }
    if (!same_key) {
      std::memcpy(key_.data(), key.data(), key_.size());
      keyed_ = true;
    }
    return ctx;
  }

  // After an operation that failed part way: the next begin() starts from a clean context.
  void forget() {
    EVP_CIPHER_CTX_reset(ctx_.get());
    OPENSSL_cleanse(key_.data(), key_.size());
    keyed_ = false;
  }

 private:
  ctx_ptr ctx_;
  std::array<unsigned char, secret_key::size> key_{};
  bool keyed_{false};  // the context has the cipher and key_ set
};

gcm_context& thread_gcm() {
  thread_local gcm_context ctx;
  return ctx;
}

// Random bytes for keys and nonces: OpenSSL's DRBG (RAND_bytes), drawn `pool_size` bytes at a
// time per thread instead of a call per key and per nonce — each call takes the DRBG's lock and
// its fork check (a getpid system call), which a new case, sealing several fields, paid several
// times. Bytes handed out are wiped from the pool at once, the rest when the thread ends. A child
// process never hands out its parent's bytes: fork bumps the generation (pthread_atfork) and a
// pool of another generation is drawn again, from the child's DRBG, which reseeds after a fork.
constexpr std::size_t pool_size = 1024;
std::atomic<std::uint64_t> fork_generation{0};

class random_pool {
 public:
  random_pool() {
    static const int registered = pthread_atfork(nullptr, nullptr, [] { ++fork_generation; });
    if (registered != 0) throw std::runtime_error("pthread_atfork failed");
  }
  ~random_pool() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
  random_pool(const random_pool&) = delete;
  random_pool& operator=(const random_pool&) = delete;

  void take(unsigned char* out, std::size_t n) {
    if (n > bytes_.size()) {
      if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
      return;
    }
    const std::uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (generation != generation_ || bytes_.size() - used_ < n) {
      if (RAND_bytes(bytes_.data(), static_cast<int>(bytes_.size())) != 1) {
        OPENSSL_cleanse(bytes_.data(), bytes_.size());
        used_ = bytes_.size();
        throw std::runtime_error("RAND_bytes failed");
      }
      used_ = 0;
      generation_ = generation;
    }
    std::memcpy(out, bytes_.data() + used_, n);
    OPENSSL_cleanse(bytes_.data() + used_, n);
    used_ += n;
  }

 private:
  std::array<unsigned char, pool_size> bytes_{};
  std::size_t used_{pool_size};  // empty: drawn at the first take
  std::uint64_t generation_{0};
};

void random_bytes(unsigned char* out, std::size_t n) {
  thread_local random_pool pool;
  pool.take(out, n);
}

std::string field_aad(std::string_view case_id, std::string_view event_id,
                      std::string_view field) {
  std::string aad = "caseline.field.v1";
  for (auto part : {case_id, event_id, field}) {
    aad += '\0';
    aad += part;
  }
  return aad;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

secret_key::secret_key(std::string_view bytes) {
  if (bytes.size() != size) throw std::invalid_argument("a key has 32 bytes");
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}

secret_key::~secret_key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

secret_key secret_key::random() {
  secret_key k;
  random_bytes(k.bytes_.data(), size);
  return k;
}

result<secret_key> secret_key::from_hex(std::string_view hex) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' '))
    hex.remove_suffix(1);
  if (hex.size() != 2 * size) return make_error(errc::bad_config, "a key is 64 hex digits");
  secret_key k;
  for (std::size_t i = 0; i < size; ++i) {
    const int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(errc::bad_config, "a key is 64 hex digits");
    k.bytes_[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return k;
}

secret_key derive_key(const secret_key& secret, std::string_view info) {
  const std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), &EVP_PKEY_CTX_free);
  std::array<unsigned char, secret_key::size> out{};
  std::size_t out_len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), secret.data(), static_cast<int>(secret_key::size)) !=
          1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()),
                                  static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &out_len) != 1 || out_len != out.size())
    throw std::runtime_error("HKDF-SHA256 failed");
  secret_key k(std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
  OPENSSL_cleanse(out.data(), out.size());
  return k;
}

std::string aes_gcm_seal(const secret_key& key, std::string_view plaintext,
                         std::string_view aad) {
  std::string out(nonce_size + plaintext.size() + tag_size, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  random_bytes(nonce, nonce_size);
  gcm_context& gcm = thread_gcm();
  EVP_CIPHER_CTX* ctx = gcm.begin(key, nonce, true);
  int len = 0;
  if (ctx == nullptr ||
      EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()) + nonce_size, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, nullptr, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                          out.data() + nonce_size + plaintext.size()) != 1) {
    gcm.forget();
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  return out;
}

result<std::string> aes_gcm_open(const secret_key& key, std::string_view sealed,
                                 std::string_view aad) {
  if (sealed.size() < nonce_size + tag_size)
    return make_error(errc::corrupt_record, "encrypted field too short");
  const std::size_t n = sealed.size() - nonce_size - tag_size;
  std::string out(n, '\0');
  gcm_context& gcm = thread_gcm();
  EVP_CIPHER_CTX* ctx =
      gcm.begin(key, reinterpret_cast<const unsigned char*>(sealed.data()), false);
  int len = 0;
  std::string tag(sealed.substr(nonce_size + n));
  const bool ok =
      ctx != nullptr &&
      EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                        reinterpret_cast<const unsigned char*>(sealed.data()) + nonce_size,
                        static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  if (!ok) {
    gcm.forget();
    OPENSSL_cleanse(out.data(), out.size());
    return make_error(errc::corrupt_record, "encrypted field does not verify (tag mismatch)");
  }
  return out;
}

bool is_sealed_field(std::string_view value) {
  return value.size() >= 2 && value[0] == sealed_marker[0] && value[1] == sealed_marker[1];
}

std::string seal_field(const secret_key& case_key, std::string_view case_id,
                       std::string_view event_id, std::string_view field,
                       std::string_view plaintext) {
  if (plaintext.empty()) return {};
  if (event_id.size() > 255) throw std::invalid_argument("event id longer than 255 bytes");
  std::string out(sealed_marker, 2);
  out += static_cast<char>(event_id.size());
  out += event_id;
  out += aes_gcm_seal(case_key, plaintext, field_aad(case_id, event_id, field));
  return out;
}

result<std::string> open_field(const secret_key& case_key, std::string_view case_id,
                               std::string_view field, std::string_view sealed,
                               std::string_view expected_event_id) {
  if (sealed.empty()) return std::string{};
  if (!is_sealed_field(sealed) || sealed.size() < 3)
    return make_error(errc::corrupt_record, "field " + std::string(field) + " is not encrypted");
  const auto id_len = static_cast<unsigned char>(sealed[2]);
  if (sealed.size() < 3u + id_len)
    return make_error(errc::corrupt_record, "encrypted field truncated");
  const std::string_view event_id = sealed.substr(3, id_len);
  if (!expected_event_id.empty() && event_id != expected_event_id)
    return make_error(errc::corrupt_record,
                      "field " + std::string(field) + " was sealed for another event");
  return aes_gcm_open(case_key, sealed.substr(3 + id_len), field_aad(case_id, event_id, field));
}

}  // namespace caseline::events
