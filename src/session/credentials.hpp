#pragma once
// The secret a connection logs in with, resolved from a spec only when a login needs
// it: a password from its secret reference, or an OAuth2 access token from the token
// cache. Shared by sessions (every login, and their SMTP leg's) and by connection
// tests, so both read credentials the same way. Values are never logged; whoever holds
// a login_credentials wipes the secret after use (log_in() does).
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "session/session_spec.hpp"
#include "session/upstream.hpp"

namespace mailbroker::auth {
class token_cache;
}
namespace mailbroker::secrets {
class vault_reader;
}

namespace mailbroker::session {

struct login_credentials {
  std::string user;
  std::string secret;  // the password, or the OAuth2 access token
  bool oauth = false;  // `secret` is an access token (SASL OAUTHBEARER / XOAUTH2)
};

// Where secrets come from. Both may be null: a spec that needs the missing one fails
// (vault: failed_precondition from secrets::resolve; tokens: internal).
struct credential_sources {
  auth::token_cache* tokens = nullptr;
  const secrets::vault_reader* vault = nullptr;
};

// The main connection's credentials for a normalised `spec`: basic → spec.username and
// the password from its reference; OAuth2 → spec.username and an access token from
// `sources.tokens` for make_token_request(spec, session_name) (cached, refreshed or
// fetched; a rotated refresh token is stored by the cache).
// Errors: those of secrets::resolve (naming spec.auth.basic.password) and of
// token_cache::get; internal when OAuth2 is asked for without a token cache.
awaitable<result<login_credentials>> resolve_login_credentials(session_spec spec, std::string session_name,
                                                               credential_sources sources);

// The SMTP leg's credentials: its own basic ones (spec.smtp.basic) when it has them,
// else the main connection's (same user, password or token). Errors as above, naming
// spec.smtp.basic.password for the leg's own password.
awaitable<result<login_credentials>> resolve_smtp_credentials(session_spec spec, std::string session_name,
                                                              credential_sources sources);

// Logs `conn` in with `creds` (upstream::login, or authenticate_oauth for a token) and
// wipes the secret. Returns the SASL mechanism of an OAuth2 login, "" for a password
// login. Errors: those of upstream::login / authenticate_oauth.
awaitable<result<std::string>> log_in(upstream& conn, login_credentials creds);

}  // namespace mailbroker::session
