#include "store/cipher.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

namespace mailbroker::store {
namespace {

// EVP takes int lengths; 1 GiB is far above any stored value and far below INT_MAX.
constexpr std::size_t max_input_size = std::size_t{1} << 30;

constexpr std::string_view decrypt_failure = "cannot decrypt: wrong key or corrupted data";

using ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

ctx_ptr new_ctx() { return ctx_ptr(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free); }

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

error openssl_failure(std::string_view what) {
  return error{errc::internal, std::string(what) + ": OpenSSL AES-256-GCM failed"};
}

}  // namespace

result<std::string> seal(const secret_key& key, std::string_view plaintext, std::string_view aad) {
  if (plaintext.size() > max_input_size || aad.size() > max_input_size) {
    return error{errc::invalid_argument, "cannot encrypt: the value is larger than 1 GiB"};
  }
  std::string out(plaintext.size() + sealed_overhead, '\0');
  out[0] = static_cast<char>(sealed_format_version);
  unsigned char* nonce = bytes(out) + 1;
  unsigned char* body = nonce + sealed_nonce_size;
  unsigned char* tag = body + plaintext.size();
  if (RAND_bytes(nonce, static_cast<int>(sealed_nonce_size)) != 1) {
    return error{errc::internal, "cannot encrypt: the OpenSSL random generator failed"};
  }
  auto ctx = new_ctx();
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(sealed_nonce_size), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() &&
       EVP_EncryptUpdate(ctx.get(), body, &len, bytes(plaintext), static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), body + plaintext.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(sealed_tag_size), tag) != 1) {
    return openssl_failure("cannot encrypt");
  }
  return out;
}

result<std::string> open_sealed(const secret_key& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < sealed_overhead) {
    return error{errc::failed_precondition, std::string(decrypt_failure) + " (too short to be sealed data)"};
  }
  if (static_cast<unsigned char>(sealed[0]) != sealed_format_version) {
    return error{errc::failed_precondition,
                 std::string(decrypt_failure) + " (unknown format version " +
                     std::to_string(static_cast<unsigned char>(sealed[0])) + ")"};
  }
  if (sealed.size() - sealed_overhead > max_input_size || aad.size() > max_input_size) {
    return error{errc::invalid_argument, "cannot decrypt: the value is larger than 1 GiB"};
  }
  const unsigned char* nonce = bytes(sealed) + 1;
  const unsigned char* body = nonce + sealed_nonce_size;
  const std::size_t body_size = sealed.size() - sealed_overhead;
  // EVP_CIPHER_CTX_ctrl takes a non-const pointer even to set the expected tag.
  unsigned char tag[sealed_tag_size];
  std::copy(body + body_size, body + body_size + sealed_tag_size, tag);

  std::string out(body_size, '\0');
  auto ctx = new_ctx();
  int len = 0;
  const bool setup_ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(sealed_nonce_size), nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) == 1 &&
      (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1) &&
      (body_size == 0 || EVP_DecryptUpdate(ctx.get(), bytes(out), &len, body, static_cast<int>(body_size)) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(sealed_tag_size), tag) == 1;
  if (!setup_ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return openssl_failure("cannot decrypt");
  }
  // Until the tag verifies, `out` is unauthenticated plaintext: it must not escape.
  if (EVP_DecryptFinal_ex(ctx.get(), bytes(out) + body_size, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return error{errc::failed_precondition, std::string(decrypt_failure)};
  }
  return out;
}

}  // namespace mailbroker::store
