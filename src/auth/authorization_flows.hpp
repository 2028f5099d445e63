#pragma once
// Pending authorization-code + PKCE flows (RFC 6749 4.1, RFC 7636 S256): begin() makes
// the state, verifier and authorization URL; take() hands them back once, when the
// browser's redirect arrives. The verifier never leaves the daemon; only the S256
// challenge goes into the URL.
//
// Bounded: at most max_pending flows, each valid for `ttl`; the oldest is dropped for
// a new one. Threading: thread-safe.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "auth/token_cache.hpp"
#include "common/error.hpp"

namespace mailbroker::auth {

struct authorization_start {
  std::string authorize_url;  // the provider's authorization endpoint
  std::string redirect_uri;
  std::string login_hint;     // optional
  // Provider-specific parameters, e.g. Google's access_type=offline + prompt=consent.
  std::vector<std::pair<std::string, std::string>> extra_params;
};

struct begun_authorization {
  std::string url;  // authorize_url?response_type=code&client_id=...&code_challenge=...
  std::string state;
  std::chrono::system_clock::time_point expires_at;
};

struct pending_authorization {
  token_request request;  // grant refresh_token, with the key the token will live under
  std::string code_verifier;
  std::string redirect_uri;
};

class authorization_flows {
 public:
  static constexpr std::size_t max_pending = 64;
  explicit authorization_flows(std::chrono::seconds ttl = std::chrono::minutes(10)) : ttl_(ttl) {}

  begun_authorization begin(token_request request, const authorization_start& start);

  // The flow for `state`, removed from the table. Errors: invalid_argument when the
  // state is unknown, already used or expired (the message says to start again).
  result<pending_authorization> take(const std::string& state);

  std::size_t pending() const;

 private:
  struct flow {
    pending_authorization data;
    std::chrono::steady_clock::time_point expires;
  };
  void expire_locked(std::chrono::steady_clock::time_point now);

  const std::chrono::seconds ttl_;
  mutable std::mutex mutex_;
  std::map<std::string, flow> flows_;
};

}  // namespace mailbroker::auth
