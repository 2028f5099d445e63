#pragma once
// Internal to mb_store: a prepared SQLite statement with bound parameters, and the
// mapping of SQLite result codes to `error`. Not thread-safe: the caller serialises use
// of the connection (state_store holds its mutex).
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace mailbroker::store {

// `rc` (a failed SQLite result code) as an error: unavailable for busy/locked/I/O/full/
// read-only/cannot-open, failed_precondition for "not a database"/corrupt, else internal.
// The message is "<what> (state store <path>): <SQLite's message>"; SQLite's messages
// name tables and columns, never bound values.
error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::string& path);

// Runs fixed SQL with no parameters (pragmas, schema, BEGIN/COMMIT). Never pass user data.
error exec_sql(sqlite3* db, const char* sql, const std::string& path);

class statement {
 public:
  // Prepares `sql`, whose values must all be ?N parameters. Errors: see sqlite_error.
  static result<statement> prepare(sqlite3* db, std::string_view sql, const std::string& path);

  statement(statement&& other) noexcept;
  statement& operator=(statement&&) = delete;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement();

  // Bind parameter `index` (1-based). The bytes are not copied: they must stay valid
  // until the last step(). A bind failure is reported by the next step().
  void bind_text(int index, std::string_view text);
  void bind_blob(int index, std::string_view bytes);
  void bind_int64(int index, std::int64_t value);

  // Runs one step: true when a row is available, false when done.
  result<bool> step();
  // Steps to completion, for statements that return no rows.
  error run();

  // Column `index` (0-based) of the current row. Views are valid until the next step().
  std::string_view column_blob(int index) const;
  std::int64_t column_int64(int index) const;
  bool column_is_null(int index) const;

 private:
  statement(sqlite3* db, sqlite3_stmt* stmt, const std::string& path, std::string_view sql);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string path_;
  std::string what_;
  int bind_rc_ = 0;  // first failed bind, 0 when all succeeded
};

}  // namespace mailbroker::store
