#pragma once
// OAuth2 access tokens obtained with the client credentials grant, cached per
// (token endpoint, client, client secret, scopes) and shared by every session that
// uses them.
//
// - A cached token is handed out until 80 % of its lifetime has passed; the next get()
//   after that fetches a new one, so every new connection authenticates with a
//   fresh-enough token (servers check tokens only at AUTHENTICATE).
// - One request in flight per key: concurrent get()s for the same key wait for it.
// - Transient failures (network, 5xx, 429) are retried with backoff inside one get();
//   if they persist, a still-valid older token is used until it expires.
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
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "secrets/secret_ref.hpp"

namespace mailbroker::auth {

struct client_credentials {
  std::string token_url;
  std::string client_id;
  secrets::secret_ref client_secret;
  std::vector<std::string> scopes;
  std::string ca_file;  // CA bundle for the token endpoint; empty = system store
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
  int attempts = 3;  // per get(), for transient failures
  std::chrono::milliseconds retry_initial{250};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::seconds default_lifetime{300};  // when the server sends no expires_in
};

class token_cache {
 public:
  explicit token_cache(token_cache_settings settings = {});

  // A valid access token for `cc`. Errors: unauthenticated (invalid_client,
  // invalid_grant, ...: the message says what to fix), unavailable (endpoint unreachable
  // or failing after retries), failed_precondition (certificate, unreadable secret),
  // invalid_argument (bad token_url).
  awaitable<result<std::string>> get(const client_credentials& cc);

  token_state state(const client_credentials& cc) const;
  // Token requests sent so far, all keys (for tests and metrics).
  std::uint64_t requests_sent() const;

 private:
  struct entry;
  static std::string key_of(const client_credentials& cc);
  awaitable<result<std::pair<std::string, std::chrono::seconds>>> fetch(const client_credentials& cc);

  const token_cache_settings settings_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<entry>> entries_;
  std::uint64_t requests_sent_ = 0;
};

}  // namespace mailbroker::auth
