#pragma once
// A real OAuth2 authorization server (oidc-provider, scripts/testbed/oauth2.sh) and a
// Dovecot whose oauth2 passdb validates its tokens by introspection — the whole chain
// token endpoint → daemon → OAUTHBEARER/XOAUTH2 → Dovecot, on loopback.
#include <map>
#include <memory>
#include <string>

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
  void reset_stats();
  void stop_server();     // the token endpoint goes down (tokens are kept nowhere else)
  void restart_server();  // same ports and client secrets; earlier tokens are invalid

 private:
  std::string state_dir_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<dovecot_testbed> dovecot_;
  bool running_ = false;
};

}  // namespace mailbroker::testing
