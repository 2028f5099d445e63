#pragma once
// Where a session spec would send each daemon-side secret (issue #10: secrets are bound
// to where they may go). Pure: computed from a normalised spec; the daemon's
// access_gate compares each use with the secret's allowed hosts.
//
// Daemon-side secrets are the ones the caller names but does not hold: `vault:`, `env:`
// and `file:` references, and managed OAuth2 connections. Inline secrets belong to the
// caller and are not listed. A secret "goes" to a host when it, or a token obtained with
// it, is sent there:
//   - a basic password: to the mail server, and to the SMTP leg's server when the leg
//     reuses the session's credentials;
//   - an SMTP leg's own password: to the SMTP server;
//   - an OAuth2 client secret or starting refresh token, or the user's password of the
//     password grant (oauth2_password): to the token endpoint, and the access token
//     obtained with it to the mail server(s);
//   - a managed OAuth2 connection's token: to the mail server(s) (its token endpoint is
//     the operator's own configuration).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "session/session_spec.hpp"

namespace mailbroker::trust {

struct secret_use {
  enum class kind { vault, env, file, managed_connection };
  kind k = kind::vault;
  std::string name;   // entry, variable, path or connection name
  std::string field;  // the request field naming it, e.g. "spec.auth.basic.password"
  std::string host;   // lower case; IPv6 without brackets
  std::uint16_t port = 0;
  bool plaintext = false;    // sent without TLS
  bool skip_verify = false;  // sent over TLS whose certificate is not verified

  // "vault:NAME", "env:NAME", "file:PATH" or "oauth2-connection:NAME" (never a value).
  std::string ref() const;
  // "host:port" ("[::1]:993" for IPv6).
  std::string destination() const;
};

// Every use of a daemon-side secret by `spec` (normalised: ports and OAuth2 endpoints
// filled in). A token URL that does not parse is reported as a use with an empty host
// (never allowed anywhere).
std::vector<secret_use> secret_uses(const session::session_spec& spec);

// True when `host`:`port` matches one of `allowed`: "HOST" (any port) or "HOST:PORT",
// HOST a glob on the lower-case name ("*.corp.example"), IPv6 literals in brackets
// ("[::1]:993"). Case-insensitive.
bool destination_allowed(const std::vector<std::string>& allowed, std::string_view host, std::uint16_t port);

// Checks one allowed-host entry's syntax. Errors: invalid_argument naming `field`.
error check_allowed_host(std::string_view entry, std::string_view field);

}  // namespace mailbroker::trust
