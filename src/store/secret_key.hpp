#pragma once
// The vault key: 32 bytes for AES-256-GCM, from a key file or an environment variable.
// Key bytes never leave this type as text: there is no operator<< and no accessor that
// formats them; key_id() is the only thing about a key that may be printed.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::store {

inline constexpr std::size_t secret_key_size = 32;

struct secret_key {
  // All-zero key; only useful as a target to fill (RAND_bytes, parsing).
  secret_key() = default;
  // Copies secret_key_size bytes from `bytes`.
  explicit secret_key(const unsigned char* bytes);
  // Copies are independent (each wipes its own bytes); a moved-from key is all zero.
  secret_key(const secret_key& other);
  secret_key& operator=(const secret_key& other);
  secret_key(secret_key&& other) noexcept;
  secret_key& operator=(secret_key&& other) noexcept;
  // Overwrites the bytes with zeros (OPENSSL_cleanse, not optimised away).
  ~secret_key();

  const unsigned char* data() const { return bytes_.data(); }
  unsigned char* data() { return bytes_.data(); }
  static constexpr std::size_t size() { return secret_key_size; }

  // First 16 lower-case hex characters of SHA-256("mailbroker key id\0" || key): names
  // the key in messages and in the store's metadata without revealing it.
  std::string key_id() const;

 private:
  std::array<unsigned char, secret_key_size> bytes_{};
};

// Parses a key given as 64 hex characters (either case) or as standard base64 (padded
// or not) of exactly 32 bytes; whitespace and newlines around the text are ignored.
// `origin` says where the text came from ("MAILBROKER_VAULT_KEY", a file path) and is
// named in errors. Errors: invalid_argument, naming `origin` and the accepted formats;
// the text itself is never echoed.
result<secret_key> parse_key_text(std::string_view text, std::string_view origin);

// Reads the key file at `path`, which must exist. Errors: failed_precondition when the
// file is missing, unreadable, not a regular file or accessible by group or others
// (the message says `chmod 600 PATH`); invalid_argument when its content is not a key
// (see parse_key_text).
result<secret_key> load_key_file(const std::string& path);

// As load_key_file, but when `path` does not exist it is created (mode 0600, the
// directory must exist) holding a fresh random key as 64 hex characters and "\n",
// fsync'ed before returning. Two processes racing to create it both end up with the
// winner's key (O_EXCL). Errors: as load_key_file; failed_precondition when the file
// cannot be created or written.
result<secret_key> load_or_create_key_file(const std::string& path);

}  // namespace mailbroker::store
