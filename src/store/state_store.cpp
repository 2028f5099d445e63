#include "store/state_store.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/text.hpp"
#include "store/cipher.hpp"
#include "store/sqlite_statement.hpp"

namespace mailbroker::store {
namespace {

constexpr std::int64_t schema_version = 1;
constexpr int busy_timeout_ms = 5000;
constexpr std::string_view key_check_text = "mailbroker state store key check v1";
constexpr std::string_view key_check_aad = "meta:key_check";

constexpr const char* schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE IF NOT EXISTS vault(name TEXT PRIMARY KEY, sealed BLOB NOT NULL, created_at INTEGER,"
    " updated_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS refresh_tokens(key TEXT PRIMARY KEY, sealed BLOB NOT NULL, updated_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS sessions(name TEXT PRIMARY KEY, sealed BLOB NOT NULL, updated_at INTEGER);"
    // Added after schema version 1 without changing it: a new table, created in stores of
    // any age at open (older daemons ignore it, so the store still opens after a downgrade).
    "CREATE TABLE IF NOT EXISTS watch_cursors(key TEXT PRIMARY KEY, sealed BLOB NOT NULL, updated_at INTEGER);";

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// Timestamps are stored as milliseconds since the Unix epoch.
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

// Vault values since issue #10 are sealed as "HOST,HOST...\n" + value under the table
// name "vault2"; earlier ones as the bare value under "vault" (no hosts).
constexpr std::string_view vault_table_v1 = "vault";
constexpr std::string_view vault_table_v2 = "vault2";

std::string join_hosts(const std::vector<std::string>& hosts) {
  std::string out;
  for (const auto& h : hosts) {
    if (!out.empty()) out += ',';
    out += h;
  }
  return out;
}

std::vector<std::string> split_hosts(std::string_view line) {
  std::vector<std::string> out;
  while (!line.empty()) {
    const auto comma = line.find(',');
    if (comma != 0) out.emplace_back(line.substr(0, comma));
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  return out;
}

std::string aad(std::string_view table, std::string_view row_key) {
  std::string out(table);
  out += ':';
  out += row_key;
  return out;
}

bool valid_vault_name(std::string_view name) {
  if (name.empty() || name.size() > max_vault_name_length) return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

error check_vault_name(std::string_view name) {
  if (valid_vault_name(name)) return error::none();
  return error{errc::invalid_argument, "vault entry name '" + clean_text(name, max_vault_name_length) +
                                           "' is invalid: use 1 to 128 characters from A-Z a-z 0-9 . _ -"};
}

// `what` is "refresh token key", "session name" or "watch cursor key".
error check_record_key(std::string_view key, std::string_view what) {
  if (key.empty()) return error{errc::invalid_argument, std::string(what) + " is empty"};
  if (key.size() > max_record_key_length) {
    return error{errc::invalid_argument, std::string(what) + " is " + std::to_string(key.size()) +
                                             " bytes long; at most " + std::to_string(max_record_key_length)};
  }
  return error::none();
}

// Opaque keys may hold anything; quoted in messages only after cleaning and cutting.
std::string quote_key(std::string_view key) { return "'" + clean_text(key, 128) + "'"; }

error create_file_0600(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return error{errc::failed_precondition, "cannot open state store " + path + ": directory " + dir +
                                                " does not exist: create it (mkdir -p " + dir + ") or fix the path"};
  }
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return error::none();
    return error{errc::failed_precondition, "cannot create state store " + path + ": " + std::strerror(errno) +
                                                ": check the directory's permissions"};
  }
  // The umask can only remove bits; fchmod states the intended mode regardless.
  const int rc = ::fchmod(fd, 0600);
  const int e = errno;
  ::close(fd);
  if (rc != 0) {
    return error{errc::failed_precondition, "cannot set mode 0600 on state store " + path + ": " + std::strerror(e)};
  }
  return error::none();
}

// Fixed-SQL pragma whose single result row is checked against `expected`.
error pragma_expect(sqlite3* db, const char* sql, std::string_view expected, const std::string& path,
                    std::string_view fix) {
  auto stmt = statement::prepare(db, sql, path);
  if (!stmt.ok()) return stmt.err();
  auto row = stmt->step();
  if (!row.ok()) return row.err();
  const std::string_view got = *row ? stmt->column_blob(0) : std::string_view{};
  if (got != expected) {
    return error{errc::failed_precondition, std::string(sql) + " returned '" + std::string(got) + "' for state store " +
                                                path + ": " + std::string(fix)};
  }
  return error::none();
}

result<std::optional<std::string>> read_meta(sqlite3* db, std::string_view key, const std::string& path) {
  auto stmt = statement::prepare(db, "SELECT value FROM meta WHERE key = ?1", path);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.err();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(stmt->column_blob(0)));
}

error write_meta(sqlite3* db, std::string_view key, std::string_view value, const std::string& path) {
  auto stmt = statement::prepare(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", path);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  stmt->bind_blob(2, value);
  return stmt->run();
}

error check_schema_version(sqlite3* db, const std::string& path) {
  if (auto e = exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", path); !e.ok()) {
    return e;
  }
  auto select = statement::prepare(db, "SELECT MAX(version) FROM schema_version", path);
  if (!select.ok()) return select.err();
  auto row = select->step();
  if (!row.ok()) return row.err();
  if (*row && !select->column_is_null(0)) {
    const std::int64_t found = select->column_int64(0);
    if (found > schema_version) {
      return error{errc::failed_precondition, "state store " + path + " has schema version " + std::to_string(found) +
                                                  ", newer than this mailbroker supports (" +
                                                  std::to_string(schema_version) + "): upgrade mailbroker"};
    }
    return error::none();
  }
  auto insert = statement::prepare(db, "INSERT INTO schema_version(version) VALUES(?1)", path);
  if (!insert.ok()) return insert.err();
  insert->bind_int64(1, schema_version);
  return insert->run();
}

// A new store records a sealed check value and the key's id; later opens must decrypt it.
error check_key(sqlite3* db, const secret_key& key, const std::string& path) {
  auto sealed = read_meta(db, "key_check", path);
  if (!sealed.ok()) return sealed.err();
  if (!sealed->has_value()) {
    auto check = seal(key, key_check_text, key_check_aad);
    if (!check.ok()) return check.err();
    if (auto e = write_meta(db, "key_check", *check, path); !e.ok()) return e;
    return write_meta(db, "key_id", key.key_id(), path);
  }
  auto opened = open_sealed(key, **sealed, key_check_aad);
  if (opened.ok() && *opened == key_check_text) return error::none();
  if (!opened.ok() && opened.err().code != errc::failed_precondition) return opened.err();
  auto stored_id = read_meta(db, "key_id", path);
  if (!stored_id.ok()) return stored_id.err();
  const std::string created_with = stored_id->has_value() ? clean_text(**stored_id, 64) : "unknown";
  return error{errc::failed_precondition,
               "the vault key (id " + key.key_id() + ") does not open " + path + ", which was created with key id " +
                   created_with + ": start the daemon with the key it was created with "
                   "(vault-key-file or MAILBROKER_VAULT_KEY)"};
}

error init_schema(sqlite3* db, const secret_key& key, const std::string& path) {
  // IMMEDIATE: two daemons opening a new file at once must not both write a key check.
  if (auto e = exec_sql(db, "BEGIN IMMEDIATE", path); !e.ok()) return e;
  error e = check_schema_version(db, path);
  if (e.ok()) e = exec_sql(db, schema_sql, path);
  if (e.ok()) e = check_key(db, key, path);
  if (e.ok()) e = exec_sql(db, "COMMIT", path);
  if (!e.ok()) exec_sql(db, "ROLLBACK", path);
  return e;
}

error configure(sqlite3* db, const std::string& path) {
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  if (auto e = pragma_expect(db, "PRAGMA journal_mode=WAL", "wal", path,
                             "WAL needs a local file system: move the state store off network storage");
      !e.ok()) {
    return e;
  }
  // FULL: with WAL, NORMAL could lose the last commits on power loss; a rotated refresh token must not be.
  if (auto e = exec_sql(db, "PRAGMA synchronous=FULL", path); !e.ok()) return e;
  // Freed pages are zeroed, so replaced ciphertexts do not linger in the main file.
  return exec_sql(db, "PRAGMA secure_delete=ON", path);
}

error decrypt_error(const error& e, std::string_view row, const std::string& path, std::string_view fix) {
  return error{e.code, std::string(row) + " in state store " + path + ": " + e.message + ": " + std::string(fix)};
}

}  // namespace

result<std::unique_ptr<state_store>> state_store::open(const std::string& path, secret_key key) {
  if (path.empty()) return error{errc::invalid_argument, "state store path is empty"};
  // An all-zero key is a default-constructed or moved-from secret_key, never a real one.
  unsigned char any = 0;
  for (std::size_t i = 0; i < key.size(); ++i) any |= key.data()[i];
  if (any == 0) {
    return error{errc::invalid_argument, "cannot open state store " + path +
                                             ": the vault key is all zeros (unset): load it with load_key_file or "
                                             "parse_key_text"};
  }
  if (auto e = create_file_0600(path); !e.ok()) return e;
  sqlite3* db = nullptr;
  // No SQLITE_OPEN_CREATE: the file exists now, with our mode; no SQLite mutex: ours serialises.
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    error e = sqlite_error(db, rc, "cannot open", path);
    sqlite3_close_v2(db);
    return e;
  }
  error e = configure(db, path);
  if (e.ok()) e = init_schema(db, key, path);
  if (!e.ok()) {
    sqlite3_close_v2(db);
    return e;
  }
  return std::unique_ptr<state_store>(new state_store(path, std::move(key), db));
}

state_store::state_store(std::string path, secret_key key, sqlite3* db)
    : path_(std::move(path)), key_(std::move(key)), key_id_(key_.key_id()), db_(db) {}

state_store::~state_store() { sqlite3_close_v2(db_); }

// --- Vault

error state_store::put_secret(std::string_view name, std::string_view value,
                               const std::vector<std::string>& allowed_hosts) {
  if (auto e = check_vault_name(name); !e.ok()) return e;
  if (value.empty()) {
    return error{errc::invalid_argument,
                 "vault entry '" + std::string(name) + "': the value is empty: give a non-empty secret"};
  }
  for (const auto& h : allowed_hosts) {
    if (h.empty() || h.find_first_of(",\r\n") != std::string::npos) {
      return error{errc::invalid_argument, "vault entry '" + std::string(name) +
                                               "': an allowed host is empty or holds ',' or a line break"};
    }
  }
  std::string plain = join_hosts(allowed_hosts);
  plain += '\n';
  plain.append(value);
  auto sealed = seal(key_, plain, aad(vault_table_v2, name));
  wipe(plain);
  if (!sealed.ok()) return sealed.err();
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_,
                                 "INSERT INTO vault(name, sealed, created_at, updated_at) VALUES(?1, ?2, ?3, ?3) "
                                 "ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed, "
                                 "updated_at = excluded.updated_at",
                                 path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, name);
  stmt->bind_blob(2, *sealed);
  stmt->bind_int64(3, now_ms());
  return stmt->run();
}

result<std::string> state_store::get_secret(std::string_view name) {
  auto entry = get_secret_entry(name);
  if (!entry) return entry.err();
  return std::move(entry->value);
}

result<vault_entry> state_store::get_secret_entry(std::string_view name) {
  if (auto e = check_vault_name(name); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "SELECT sealed FROM vault WHERE name = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, name);
  auto row = stmt->step();
  if (!row.ok()) return row.err();
  const std::string n(name);
  if (!*row) {
    return error{errc::not_found, "vault entry '" + n + "' does not exist: add it with `mailbroker vault put " + n + "`"};
  }
  const auto sealed = stmt->column_blob(0);
  if (auto v2 = open_sealed(key_, sealed, aad(vault_table_v2, name)); v2.ok()) {
    const auto nl = v2->find('\n');
    vault_entry out{v2->substr(nl + 1), split_hosts(std::string_view(*v2).substr(0, nl))};
    wipe(*v2);
    return out;
  }
  auto value = open_sealed(key_, sealed, aad(vault_table_v1, name));
  if (!value.ok()) {
    return decrypt_error(value.err(), "vault entry '" + n + "'", path_,
                         "add it again with `mailbroker vault put " + n + "`");
  }
  return vault_entry{std::move(*value), {}};
}

result<std::vector<vault_entry_info>> state_store::list_secrets() {
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "SELECT name, created_at, updated_at, sealed FROM vault ORDER BY name", path_);
  if (!stmt.ok()) return stmt.err();
  std::vector<vault_entry_info> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.err();
    if (!*row) break;
    std::string name(stmt->column_blob(0));
    std::vector<std::string> hosts;
    if (auto v2 = open_sealed(key_, stmt->column_blob(3), aad(vault_table_v2, name)); v2.ok()) {
      hosts = split_hosts(std::string_view(*v2).substr(0, v2->find('\n')));
      wipe(*v2);
    }
    out.push_back({std::move(name), from_ms(stmt->column_int64(1)), from_ms(stmt->column_int64(2)), std::move(hosts)});
  }
  return out;
}

error state_store::delete_secret(std::string_view name) {
  if (auto e = check_vault_name(name); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "DELETE FROM vault WHERE name = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, name);
  if (auto e = stmt->run(); !e.ok()) return e;
  if (sqlite3_changes(db_) == 0) {
    return error{errc::not_found, "vault entry '" + std::string(name) + "' does not exist: nothing to delete "
                                  "(`mailbroker vault list` shows the entries)"};
  }
  return error::none();
}

// --- Refresh tokens

error state_store::put_refresh_token(std::string_view key, std::string_view token) {
  if (auto e = check_record_key(key, "refresh token key"); !e.ok()) return e;
  if (token.empty()) return error{errc::invalid_argument, "refresh token for " + quote_key(key) + " is empty"};
  auto sealed = seal(key_, token, aad("refresh_tokens", key));
  if (!sealed.ok()) return sealed.err();
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "INSERT OR REPLACE INTO refresh_tokens(key, sealed, updated_at) VALUES(?1, ?2, ?3)",
                                 path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  stmt->bind_blob(2, *sealed);
  stmt->bind_int64(3, now_ms());
  return stmt->run();
}

result<std::optional<std::string>> state_store::get_refresh_token(std::string_view key) {
  if (auto e = check_record_key(key, "refresh token key"); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "SELECT sealed FROM refresh_tokens WHERE key = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.err();
  if (!*row) return std::optional<std::string>();
  auto token = open_sealed(key_, stmt->column_blob(0), aad("refresh_tokens", key));
  if (!token.ok()) {
    return decrypt_error(token.err(), "refresh token " + quote_key(key), path_, "sign in again to get a new one");
  }
  return std::optional<std::string>(std::move(*token));
}

error state_store::delete_refresh_token(std::string_view key) {
  if (auto e = check_record_key(key, "refresh token key"); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "DELETE FROM refresh_tokens WHERE key = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  return stmt->run();
}

// --- Session records

error state_store::put_session(std::string_view name, std::string_view bytes) {
  if (auto e = check_record_key(name, "session name"); !e.ok()) return e;
  auto sealed = seal(key_, bytes, aad("sessions", name));
  if (!sealed.ok()) return sealed.err();
  std::lock_guard lock(mutex_);
  auto stmt =
      statement::prepare(db_, "INSERT OR REPLACE INTO sessions(name, sealed, updated_at) VALUES(?1, ?2, ?3)", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, name);
  stmt->bind_blob(2, *sealed);
  stmt->bind_int64(3, now_ms());
  return stmt->run();
}

error state_store::delete_session(std::string_view name) {
  if (auto e = check_record_key(name, "session name"); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "DELETE FROM sessions WHERE name = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, name);
  return stmt->run();
}

error state_store::write_sessions(const std::vector<session_write>& writes) {
  if (writes.empty()) return error::none();
  // Seal before taking the lock: the cipher work of a big batch should not hold it.
  std::vector<std::string> sealed(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const auto& w = writes[i];
    if (auto e = check_record_key(w.name, "session name"); !e.ok()) return e;
    if (!w.bytes) continue;
    auto s = seal(key_, *w.bytes, aad("sessions", w.name));
    if (!s.ok()) return s.err();
    sealed[i] = std::move(*s);
  }
  std::lock_guard lock(mutex_);
  if (auto e = exec_sql(db_, "BEGIN IMMEDIATE", path_); !e.ok()) return e;
  error e = error::none();
  const auto now = now_ms();
  for (std::size_t i = 0; e.ok() && i < writes.size(); ++i) {
    const auto& w = writes[i];
    auto stmt = statement::prepare(db_,
                                   w.bytes ? "INSERT OR REPLACE INTO sessions(name, sealed, updated_at) VALUES(?1, ?2, ?3)"
                                           : "DELETE FROM sessions WHERE name = ?1",
                                   path_);
    if (!stmt.ok()) {
      e = stmt.err();
      break;
    }
    stmt->bind_text(1, w.name);
    if (w.bytes) {
      stmt->bind_blob(2, sealed[i]);
      stmt->bind_int64(3, now);
    }
    e = stmt->run();
  }
  if (e.ok()) e = exec_sql(db_, "COMMIT", path_);
  if (!e.ok()) exec_sql(db_, "ROLLBACK", path_);
  return e;
}

result<std::vector<std::pair<std::string, std::string>>> state_store::list_sessions() {
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "SELECT name, sealed FROM sessions ORDER BY name", path_);
  if (!stmt.ok()) return stmt.err();
  std::vector<std::pair<std::string, std::string>> out;
  // Records may hold secrets: on failure, wipe what was already decrypted before dropping it.
  auto fail = [&out](error e) {
    for (auto& record : out) wipe(record.second);
    return e;
  };
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return fail(row.err());
    if (!*row) break;
    std::string name(stmt->column_blob(0));
    auto bytes = open_sealed(key_, stmt->column_blob(1), aad("sessions", name));
    if (!bytes.ok()) {
      return fail(decrypt_error(bytes.err(), "session record " + quote_key(name), path_,
                                "delete it (the session must then be created again)"));
    }
    out.emplace_back(std::move(name), std::move(*bytes));
  }
  return out;
}

}  // namespace mailbroker::store

namespace mailbroker::store {

// --- Watch cursors

error state_store::put_watch_cursor(std::string_view key, std::string_view value) {
  if (auto e = check_record_key(key, "watch cursor key"); !e.ok()) return e;
  if (value.empty()) return error{errc::invalid_argument, "watch cursor for " + quote_key(key) + " is empty"};
  if (value.size() > max_watch_cursor_length) {
    return error{errc::invalid_argument, "watch cursor for " + quote_key(key) + " is " + std::to_string(value.size()) +
                                             " bytes long; at most " + std::to_string(max_watch_cursor_length) +
                                             " (max_watch_cursor_length)"};
  }
  auto sealed = seal(key_, value, aad("watch_cursors", key));
  if (!sealed.ok()) return sealed.err();
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "INSERT OR REPLACE INTO watch_cursors(key, sealed, updated_at) VALUES(?1, ?2, ?3)",
                                 path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  stmt->bind_blob(2, *sealed);
  stmt->bind_int64(3, now_ms());
  return stmt->run();
}

result<std::optional<std::string>> state_store::get_watch_cursor(std::string_view key) {
  if (auto e = check_record_key(key, "watch cursor key"); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "SELECT sealed FROM watch_cursors WHERE key = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  auto row = stmt->step();
  if (!row.ok()) return row.err();
  if (!*row) return std::optional<std::string>();
  auto value = open_sealed(key_, stmt->column_blob(0), aad("watch_cursors", key));
  if (!value.ok()) {
    return decrypt_error(value.err(), "watch cursor " + quote_key(key), path_,
                         "delete it (the watch then starts from now)");
  }
  return std::optional<std::string>(std::move(*value));
}

error state_store::delete_watch_cursor(std::string_view key) {
  if (auto e = check_record_key(key, "watch cursor key"); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  auto stmt = statement::prepare(db_, "DELETE FROM watch_cursors WHERE key = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_text(1, key);
  return stmt->run();
}

error state_store::delete_watch_cursors_with_prefix(std::string_view prefix) {
  if (prefix.empty()) {
    return error{errc::invalid_argument, "watch cursor key prefix is empty: it would delete every cursor"};
  }
  if (auto e = check_record_key(prefix, "watch cursor key prefix"); !e.ok()) return e;
  std::lock_guard lock(mutex_);
  // Bytes, not characters, and no LIKE wildcards: both sides compared as blobs.
  auto stmt = statement::prepare(
      db_, "DELETE FROM watch_cursors WHERE substr(CAST(key AS BLOB), 1, length(?1)) = ?1", path_);
  if (!stmt.ok()) return stmt.err();
  stmt->bind_blob(1, prefix);
  return stmt->run();
}

}  // namespace mailbroker::store
