#pragma once
// The daemon's durable state in one SQLite file: the vault (named secrets), OAuth2
// refresh tokens, session records and watch cursors. Every value is sealed (store/cipher.hpp) with the
// vault key and an aad of "<table>:<row key>", so the file holds no plaintext value and a
// ciphertext copied to another row does not open. Names, keys and timestamps are stored
// in clear.
//
// Thread-safety: all members may be called from any thread; one SQLite connection is
// shared and every call holds an internal mutex for its whole duration (calls are
// serialised). Other processes opening the same file are tolerated (WAL, busy timeout),
// though the daemon is meant to be its only user.
//
// Durability: each put/delete is its own transaction (write_sessions: one for the whole
// batch), committed with synchronous=FULL: when it returns ok, the change survives a
// crash or power loss.
//
// Errors common to all calls: unavailable when SQLite cannot read or write the file
// (busy past the timeout, I/O error, disk full, read-only); internal for any other SQLite
// failure. Messages carry SQLite's text and the path, never a value or key bytes.
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "store/secret_key.hpp"

struct sqlite3;

namespace mailbroker::store {

inline constexpr std::size_t max_vault_name_length = 128;
// Refresh-token keys, session names and watch-cursor keys are opaque to the store; only
// their size is bounded.
inline constexpr std::size_t max_record_key_length = 1024;
// A watch cursor (e.g. a Graph @odata.deltaLink: a URL with an opaque token, a few
// hundred bytes to a few KiB) is at most this long.
inline constexpr std::size_t max_watch_cursor_length = 64 * 1024;

// What list_secrets() tells about an entry: never its value.
struct vault_entry_info {
  std::string name;
  std::chrono::system_clock::time_point created_at;
  std::chrono::system_clock::time_point updated_at;
  // Where the value may be sent ("HOST" or "HOST:PORT", globs allowed); empty for an
  // entry put before issue #10, which the daemon then refuses to send anywhere.
  std::vector<std::string> allowed_hosts;
};

// A vault value with the hosts it is bound to.
struct vault_entry {
  std::string value;
  std::vector<std::string> allowed_hosts;
};

class state_store {
 public:
  // Opens (creating when missing, mode 0600) the store at `path`, whose directory must
  // exist. A new store remembers `key` (as a sealed check value and its key_id); an
  // existing one must be opened with that same key.
  // Errors: invalid_argument when `path` is empty or `key` is all zeros (unset or
  // moved-from); failed_precondition when the directory is missing, the file is not a
  // mailbroker store (or from a newer version), or `key` is not the store's key (the
  // message names both key ids: "the vault key (id A) does not open PATH, which was
  // created with key id B: ..."); unavailable/internal as above.
  static result<std::unique_ptr<state_store>> open(const std::string& path, secret_key key);

  ~state_store();
  state_store(const state_store&) = delete;
  state_store& operator=(const state_store&) = delete;

  // The path given to open().
  const std::string& path() const { return path_; }
  // The key's printable id (secret_key::key_id()).
  std::string key_id() const { return key_id_; }

  // --- Vault: named secrets (passwords, client secrets).
  // Names are 1 to 128 characters from [A-Za-z0-9._-]; an invalid name gives
  // invalid_argument naming it.

  // Creates or replaces `name`. Replacing keeps created_at and sets updated_at. The
  // allowed hosts are sealed together with the value (one AEAD, the name as aad), so
  // someone who can write the file but lacks the key cannot re-point a secret.
  // Errors: invalid_argument (bad name, empty value, a host with ',' or a newline).
  error put_secret(std::string_view name, std::string_view value, const std::vector<std::string>& allowed_hosts = {});
  // The value of `name`. Errors: invalid_argument (bad name); not_found ("vault entry
  // 'x' does not exist: add it with `mailbroker vault put x`"); failed_precondition when
  // the stored value does not decrypt (corrupted or moved row).
  result<std::string> get_secret(std::string_view name);
  // The value and its allowed hosts; errors as get_secret.
  result<vault_entry> get_secret_entry(std::string_view name);
  // Every entry's name, timestamps and allowed hosts, ordered by name; never the values.
  result<std::vector<vault_entry_info>> list_secrets();
  // Removes `name`. Errors: invalid_argument (bad name); not_found when absent.
  error delete_secret(std::string_view name);

  // --- Refresh tokens, under opaque keys ("session:foo", "managed:contoso:alice").
  // Keys are 1 to 1024 bytes; otherwise invalid_argument.

  // Creates or replaces the token for `key`; durable when it returns ok (a rotated
  // refresh token must not be lost). Errors: invalid_argument (bad key, empty token).
  error put_refresh_token(std::string_view key, std::string_view token);
  // The token for `key`, or nullopt when there is none. Errors: invalid_argument (bad
  // key); failed_precondition when the stored value does not decrypt.
  result<std::optional<std::string>> get_refresh_token(std::string_view key);
  // Forgets the token for `key`; ok when there was none. Errors: invalid_argument.
  error delete_refresh_token(std::string_view key);

  // --- Session records: opaque bytes from the daemon (e.g. a serialized spec), which may
  // hold secrets. Names are 1 to 1024 bytes; otherwise invalid_argument.

  // Creates or replaces the record `name` (bytes may be empty). Errors: invalid_argument.
  error put_session(std::string_view name, std::string_view bytes);
  // Removes the record `name`; ok when there was none. Errors: invalid_argument.
  error delete_session(std::string_view name);
  // One write of a batch: put `bytes` under `name`, or delete `name` when nullopt.
  struct session_write {
    std::string name;
    std::optional<std::string> bytes;
  };
  // Applies `writes` in order in one transaction: one commit (one fsync) for all of them,
  // durable when it returns ok; on error none is applied. For group commit
  // (session_record_writer). Errors: invalid_argument naming the first bad name
  // (nothing written).
  error write_sessions(const std::vector<session_write>& writes);
  // Every record as (name, bytes), ordered by name. Errors: failed_precondition naming
  // the first record that does not decrypt (nothing is returned then).
  result<std::vector<std::pair<std::string, std::string>>> list_sessions();

  // --- Watch cursors: where a watch resumes after a restart (a Graph delta link), under
  // opaque keys chosen by the caller ("SESSION:FOLDER"; a common prefix per session lets
  // a session closed for good drop all of its cursors). Sealed like refresh tokens (aad
  // "watch_cursors:<key>"): a delta link is a bearer of mailbox state. Keys are 1 to
  // max_record_key_length bytes, values 1 to max_watch_cursor_length; otherwise
  // invalid_argument naming the bound. Existing stores get the table when opened.

  // Creates or replaces the cursor for `key`; durable when it returns ok.
  error put_watch_cursor(std::string_view key, std::string_view value);
  // The cursor for `key`, or nullopt when there is none. Errors: invalid_argument (bad
  // key); failed_precondition when the stored value does not decrypt.
  result<std::optional<std::string>> get_watch_cursor(std::string_view key);
  // Forgets the cursor for `key`; ok when there was none. Errors: invalid_argument.
  error delete_watch_cursor(std::string_view key);
  // Forgets every cursor whose key starts with `prefix` (bytes compared exactly, no
  // wildcards); ok when there was none. Errors: invalid_argument when `prefix` is empty
  // (that would be every cursor) or longer than max_record_key_length.
  error delete_watch_cursors_with_prefix(std::string_view prefix);

 private:
  state_store(std::string path, secret_key key, sqlite3* db);

  std::string path_;
  secret_key key_;
  std::string key_id_;
  std::mutex mutex_;
  sqlite3* db_;  // guarded by mutex_
};

}  // namespace mailbroker::store
