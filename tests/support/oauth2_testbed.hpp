#pragma once
// A real OAuth2 authorization server (oidc-provider, scripts/testbed/oauth2.sh) and a
// Dovecot whose oauth2 passdb validates its tokens by introspection — the whole chain
// token endpoint → daemon → OAUTHBEARER/XOAUTH2 → Dovecot, on loopback.
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "support/dovecot_testbed.hpp"

namespace mailbroker::testing {

class oauth2_testbed {
 public:
  // Access tokens live `access_ttl_seconds`. Throws std::runtime_error on failure.
  explicit oauth2_testbed(int access_ttl_seconds);
  ~oauth2_testbed();

  const std::string& env(const std::string& key) const { return env_.at(key); }
  dovecot_testbed& dovecot() { return *dovecot_; }
  // Token-endpoint requests since the last reset (from the server's own counters).
  int token_requests();
  // One number from the server's /_stats, e.g. "authorization_requests" or
  // "revocation_requests"; nested grant counters as "token_requests.refresh_token".
  int stat(const std::string& name);
  // Plays the browser for an authorization URL (curl with a cookie jar, following every
  // redirect, the last one to the loopback listener). Returns at once; join the thread.
  std::thread play_browser(const std::string& authorization_url);
  // Revokes a refresh token of the public PKCE client at the revocation endpoint.
  void revoke_refresh_token(const std::string& refresh_token);
  void reset_stats();
  void stop_server();     // the token endpoint goes down (tokens are kept nowhere else)
  void restart_server();  // same ports and client secrets; earlier tokens are invalid

 private:
  std::string state_dir_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<dovecot_testbed> dovecot_;
  bool running_ = false;
};

// The one authorization server (+ its Dovecot) of the test binary; 3-second access
// tokens. Started on first use.
inline constexpr int shared_access_ttl_seconds = 3;
oauth2_testbed& shared_oauth2();

}  // namespace mailbroker::testing
