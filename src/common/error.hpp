#pragma once
// Errors on the data path are values (no exceptions): every fallible core operation
// returns an `error` or a `result<T>`. The daemon maps `errc` to a gRPC status once,
// at its edge. Messages name the field or the cause and never contain a secret.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mailbroker {

// Mirrors the gRPC codes the API promises, without depending on gRPC.
enum class errc {
  ok = 0,
  invalid_argument,     // a field is missing or malformed
  failed_precondition,  // valid request, refused by the current state
  unauthenticated,      // the mail server rejected the credentials
  unavailable,          // the server could not be reached / the connection dropped
  deadline_exceeded,    // a timeout expired
  not_found,            // unknown session or lease
  resource_exhausted,   // a configured limit (e.g. max_sessions) is reached
  cancelled,            // the operation was abandoned (shutdown, replaced session)
  unimplemented,        // a reserved feature (e.g. POP3 before it lands)
  permission_denied,    // the caller's principal lacks the permission (trust policy)
  aborted,              // outcome unknown: the connection dropped after the request was sent
  internal,             // a bug or an unexpected library failure
};

// Upper-case gRPC-style name, e.g. "UNAUTHENTICATED".
std::string_view errc_name(errc code);

struct error {
  errc code = errc::internal;
  std::string message;

  bool ok() const { return code == errc::ok; }
  static error none() { return {errc::ok, {}}; }
};

// A value or an error; the small subset of std::expected (C++23) we need.
template <class T>
class result {
 public:
  result(T value) : value_(std::move(value)) {}        // NOLINT: implicit by design
  result(error err) : error_(std::move(err)) {}        // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const error& err() const { return error_; }

 private:
  std::optional<T> value_;
  error error_;
};

}  // namespace mailbroker
