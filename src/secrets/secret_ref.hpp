#pragma once
// A reference to a secret (password, later client secrets and tokens). The value is
// fetched only when a connection needs it and is never logged: describe() is the only
// text about a secret that may reach a log or a Status reply.
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::secrets {

struct secret_ref {
  enum class source { none, inline_value, env, file, vault };
  source kind = source::none;
  // The secret itself (inline), a variable name (env), a path (file) or an entry name
  // (vault).
  std::string value;

  bool empty() const { return kind == source::none; }
};

// Read access to the daemon's encrypted vault (implemented over the store in daemon/).
class vault_reader {
 public:
  virtual ~vault_reader() = default;
  // The entry's value. Errors: failed_precondition (no such entry: the message says
  // how to add it), internal (store failure). Thread-safe.
  virtual result<std::string> read(const std::string& name) const = 0;
};

// The secret's value. `field` names the request field in error messages; `vault` is
// needed for vault references only (nullptr: "no vault" error).
// Errors: invalid_argument (no source / empty name), failed_precondition (variable not
// set or empty, file unreadable or empty, vault entry missing or no vault). A trailing
// "\n" or "\r\n" in a file is dropped.
result<std::string> resolve(const secret_ref& ref, std::string_view field, const vault_reader* vault = nullptr);

// "inline", "env:NAME", "file:/path" or "vault:NAME": safe to print.
std::string describe(const secret_ref& ref);

// Parses the config-file form "env:NAME", "file:/path" or "vault:NAME" (no inline
// secrets in files that get copied around). Errors: invalid_argument naming `field`.
result<secret_ref> parse_secret_ref_text(std::string_view text, std::string_view field);

// Stable identity for fingerprints: kind + name; inline values as a keyed hash with a
// per-process random key, so equal values match and the value cannot be recovered.
std::string identity(const secret_ref& ref);

}  // namespace mailbroker::secrets
