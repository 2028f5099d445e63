#pragma once
// Authenticated encryption of stored values with AES-256-GCM.
//
// Sealed format (version 1): 0x01 || 12-byte random nonce || ciphertext || 16-byte tag.
// The `aad` (additional authenticated data) is not stored: it binds a ciphertext to its
// place (e.g. "vault:name"), so opening with any other aad fails. All functions are
// thread-safe (no shared state).
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "store/secret_key.hpp"

namespace mailbroker::store {

inline constexpr unsigned char sealed_format_version = 0x01;
inline constexpr std::size_t sealed_nonce_size = 12;
inline constexpr std::size_t sealed_tag_size = 16;
inline constexpr std::size_t sealed_overhead = 1 + sealed_nonce_size + sealed_tag_size;

// Encrypts `plaintext` (may be empty) under `key` with a fresh random nonce; the result
// is plaintext.size() + sealed_overhead bytes. Errors: invalid_argument when plaintext
// or aad exceed 1 GiB; internal when OpenSSL or its CSPRNG fails.
result<std::string> seal(const secret_key& key, std::string_view plaintext, std::string_view aad);

// Decrypts and verifies what seal() produced with the same key and aad. Errors:
// failed_precondition "cannot decrypt: wrong key or corrupted data" when the tag does
// not verify (wrong key, wrong aad, altered bytes), the input is too short or its
// format version is unknown; internal when OpenSSL fails. No partial plaintext is ever
// returned.
result<std::string> open_sealed(const secret_key& key, std::string_view sealed, std::string_view aad);

}  // namespace mailbroker::store
