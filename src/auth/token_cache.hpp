#pragma once
// OAuth2 access tokens, cached per token_request::cache_key() (grant, token endpoint,
// client, client secret reference, scopes, CA, and the refresh-token key or user) and
// shared by every session that asks with an equal request.
//
// Grants: client credentials (RFC 6749 4.4), refresh token (6), resource-owner password
// (4.3, for EWS), plus the one-off authorization-code exchange (4.1.3 with the RFC 7636
// verifier) that starts a refresh-token chain.
//
// - A cached token is handed out until 80 % of its lifetime has passed (and at least
//   60 s before expiry when it lives long enough); the next get() after that fetches a
//   new one, so every new connection authenticates with a fresh-enough token (servers
//   check tokens only at AUTHENTICATE).
// - One request in flight per key: concurrent get()s for the same key wait for it.
// - Transient failures (network, 5xx, 429) are retried with backoff inside one get();
//   if they persist, a still-valid older token is used until it expires.
// - Refresh tokens live in a refresh_token_store (the daemon's encrypted store, or
//   memory). A refresh token the server rotates is saved before the new access token is
//   handed out; nothing but a successful save ever replaces a stored one, so a transient
//   error never loses it. invalid_grant (revoked, expired, reused) is UNAUTHENTICATED
//   with the request's reauthorize_hint.
//
// Threading: every method is thread-safe; get() may be awaited from any executor.
// Tokens and client secrets are never logged or put in errors.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/refresh_token_store.hpp"
#include "auth/token_response.hpp"
#include "common/error.hpp"
#include "net/asio.hpp"
#include "secrets/secret_ref.hpp"

namespace mailbroker::auth {

enum class grant_type { client_credentials, refresh_token, password };

struct token_request {
  grant_type grant = grant_type::client_credentials;
  std::string token_url;
  std::string client_id;
  // Empty: a public client (native app), identified by client_id in the form.
  // Otherwise sent as client_secret_basic (RFC 6749 2.3.1).
  secrets::secret_ref client_secret;
  std::vector<std::string> scopes;
  std::string ca_file;  // CA bundle for the token endpoint; empty = system store

  // refresh_token grant: the store key of the refresh token ("session:NAME", ...), a
  // starting token used while the store has none, and what to tell the operator when
  // the server rejects it (e.g. "re-authorize with `mailbroker authorize NAME`").
  std::string refresh_token_key;
  secrets::secret_ref initial_refresh_token;
  std::string reauthorize_hint;

  // password grant (ROPC): the resource owner.
  std::string username;
  secrets::secret_ref password;

  // Identity of the cached token: requests with equal keys share one token.
  std::string cache_key() const;
  // Field prefix for error messages, e.g. "spec.auth.oauth2_authorization_code".
  std::string field = "spec.auth.oauth2";
};

using system_time = std::chrono::system_clock::time_point;

struct token_state {
  std::optional<system_time> valid_until;
  std::optional<system_time> last_refresh;
  std::uint64_t refresh_count = 0;
  std::optional<error> last_error;
  std::optional<system_time> last_error_at;
};

struct token_cache_settings {
  double refresh_at_fraction = 0.8;
  std::chrono::seconds min_refresh_margin{60};  // refresh at least this long before expiry...
  int attempts = 3;  // per get(), for transient failures
  std::chrono::milliseconds retry_initial{250};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::seconds default_lifetime{300};  // when the server sends no expires_in
};

// The authorization code exchange (RFC 6749 4.1.3 + RFC 7636 4.5).
struct authorization_code {
  std::string code;
  std::string code_verifier;
  std::string redirect_uri;
};

class token_cache {
 public:
  // `store` keeps refresh tokens (nullptr: an in-memory one); `vault` resolves vault
  // secret references (may be nullptr).
  explicit token_cache(token_cache_settings settings = {}, std::shared_ptr<refresh_token_store> store = nullptr,
                       std::shared_ptr<const secrets::vault_reader> vault = nullptr);

  // A valid access token for `request`. Errors: unauthenticated (invalid_client,
  // invalid_grant, ...: the message says what to fix), unavailable (endpoint unreachable
  // or failing after retries), failed_precondition (certificate, unreadable secret, no
  // refresh token yet), invalid_argument (bad token_url), internal (store failure).
  // Parameters are taken by value: a coroutine that holds a reference to a caller's
  // temporary would read freed memory once the caller's full-expression ends.
  awaitable<result<std::string>> get(token_request request);

  // Redeems an authorization code for `request` (grant refresh_token): the refresh
  // token in the answer is saved under request.refresh_token_key and the access token
  // seeds the cache. Errors as get(); failed_precondition when the server issues no
  // refresh token (ask for offline_access).
  awaitable<result<token_state>> redeem(token_request request, authorization_code code);

  // The server refused `access_token` before its announced expiry (revoked, or its clock
  // rounds the lifetime down): the next get() for `request` fetches a new one. Does
  // nothing when the cache holds another token for it by now (someone renewed it already).
  void forget(const token_request& request, std::string_view access_token);

  token_state state(const token_request& request) const;
  // Token requests sent so far, all keys (for tests and metrics).
  std::uint64_t requests_sent() const;

  // Per cached token, for /metrics: whom it is for (never a secret) and what it cost.
  // Only keys that sent at least one request.
  struct key_stats {
    std::string grant;      // client_credentials, refresh_token, password
    std::string token_url;
    std::string client_id;
    std::string subject;          // refresh_token: the store key; password: the user; else ""
    std::uint64_t requests = 0;   // HTTP requests to the token endpoint, retries included
    std::uint64_t refreshes = 0;  // tokens obtained (the first one included)
    std::uint64_t failures = 0;   // fetches that ended in an error after their retries
  };
  std::vector<key_stats> stats() const;
  bool durable_refresh_tokens() const { return store_->durable(); }

 private:
  struct entry;
  struct fetched_token {
    std::string access_token;
    std::chrono::seconds lifetime{0};
  };
  std::shared_ptr<entry> entry_for(const std::string& key);
  awaitable<result<std::shared_ptr<asio::ssl::context>>> tls_for(const token_request& request);
  // One token endpoint call with retries; `form` is the grant's own fields.
  awaitable<result<token_response>> post(const token_request& request,
                                                std::vector<std::pair<std::string, std::string>> form);
  awaitable<result<fetched_token>> fetch(const token_request& request);
  void store_token(entry& e, fetched_token token);

  const token_cache_settings settings_;
  const std::shared_ptr<refresh_token_store> store_;
  const std::shared_ptr<const secrets::vault_reader> vault_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<entry>> entries_;
  std::uint64_t requests_sent_ = 0;
};

}  // namespace mailbroker::auth
