#include "store/sqlite_statement.hpp"

#include <sqlite3.h>

#include <utility>

namespace mailbroker::store {
namespace {

// sqlite3_bind_* treat a null pointer as SQL NULL; an empty string_view may have one.
const char* non_null(std::string_view s) { return s.data() != nullptr ? s.data() : ""; }

// The SQL is fixed text from this library (never user data), so it may be quoted in errors.
std::string describe_sql(std::string_view sql) {
  constexpr std::size_t max = 60;
  return "SQL \"" + std::string(sql.substr(0, max)) + (sql.size() > max ? "...\"" : "\"");
}

}  // namespace

error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::string& path) {
  const int primary = rc & 0xff;
  errc code = errc::internal;
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = errc::unavailable;
      break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      code = errc::failed_precondition;
      break;
    default:
      break;
  }
  // sqlite3_errmsg describes the connection's last error, which is `rc` only if nothing ran since.
  const bool db_matches = db != nullptr && sqlite3_extended_errcode(db) == rc;
  const char* detail = db_matches ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = std::string(what) + " (state store " + path + "): " + detail;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    message += ": the file is not a mailbroker state store or is damaged; restore it from a backup or move it away";
  }
  return error{code, std::move(message)};
}

error exec_sql(sqlite3* db, const char* sql, const std::string& path) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, describe_sql(sql), path);
  return error::none();
}

result<statement> statement::prepare(sqlite3* db, std::string_view sql, const std::string& path) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqlite_error(db, rc, describe_sql(sql), path);
  }
  return statement(db, stmt, path, sql);
}

statement::statement(sqlite3* db, sqlite3_stmt* stmt, const std::string& path, std::string_view sql)
    : db_(db), stmt_(stmt), path_(path), what_(describe_sql(sql)) {}

statement::statement(statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      path_(std::move(other.path_)),
      what_(std::move(other.what_)),
      bind_rc_(other.bind_rc_) {}

statement::~statement() { sqlite3_finalize(stmt_); }

void statement::bind_text(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(stmt_, index, non_null(text), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == 0) bind_rc_ = rc;
}

void statement::bind_blob(int index, std::string_view bytes) {
  const int rc = sqlite3_bind_blob64(stmt_, index, non_null(bytes), bytes.size(), SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_rc_ == 0) bind_rc_ = rc;
}

void statement::bind_int64(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_rc_ == 0) bind_rc_ = rc;
}

result<bool> statement::step() {
  if (bind_rc_ != 0) return sqlite_error(db_, bind_rc_, what_, path_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, rc, what_, path_);
}

error statement::run() {
  for (;;) {
    auto row = step();
    if (!row.ok()) return row.err();
    if (!*row) return error::none();
  }
}

std::string_view statement::column_blob(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) return {};
  return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

std::int64_t statement::column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }

bool statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

}  // namespace mailbroker::store
