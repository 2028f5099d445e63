#pragma once
// A reference to a secret (password, later client secrets and tokens). The value is
// fetched only when a connection needs it and is never logged: describe() is the only
// text about a secret that may reach a log or a Status reply.
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::secrets {

struct secret_ref {
  enum class source { none, inline_value, env, file };
  source kind = source::none;
  std::string value;  // the secret itself (inline), a variable name (env) or a path (file)

  bool empty() const { return kind == source::none; }
};

// The secret's value. `field` names the request field in error messages.
// Errors: invalid_argument (no source / empty name), failed_precondition (variable not
// set or empty, file unreadable or empty). A trailing "\n" or "\r\n" in a file is dropped.
result<std::string> resolve(const secret_ref& ref, std::string_view field);

// "inline", "env:NAME" or "file:/path": safe to print.
std::string describe(const secret_ref& ref);

// Stable identity for fingerprints: kind + name; inline values as a keyed hash with a
// per-process random key, so equal values match and the value cannot be recovered.
std::string identity(const secret_ref& ref);

}  // namespace mailbroker::secrets
