#pragma once
// The loopback end of an OAuth2 redirect (RFC 8252 7.3): a one-shot HTTP listener on
// the redirect URI's host and port that waits for the browser to come back with
// ?code=...&state=... (or ?error=...), answers it with a short page and returns the
// query. Requests for other paths (favicon, probes) get 404 and the wait goes on; so
// does a request whose state is not the expected one (a forged or stale redirect).
//
// Blocking; for the CLI and tests. "localhost" listens on 127.0.0.1 and ::1 both,
// since browsers may resolve it either way.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::client {

struct redirect_result {
  std::string code;
  std::string state;
  std::string error;  // e.g. access_denied
  std::string error_description;
};

class loopback_redirect {
 public:
  // Binds now, so the browser can be sent off right after. Errors: invalid_argument
  // (not an http://loopback:port URI), failed_precondition (port in use).
  static result<std::unique_ptr<loopback_redirect>> listen(const std::string& redirect_uri);
  ~loopback_redirect();
  loopback_redirect(const loopback_redirect&) = delete;
  loopback_redirect& operator=(const loopback_redirect&) = delete;

  // Waits up to `timeout` for the redirect carrying `expected_state`.
  // Errors: deadline_exceeded.
  result<redirect_result> wait(const std::string& expected_state, std::chrono::milliseconds timeout);

 private:
  loopback_redirect(std::vector<int> fds, std::string path) : fds_(std::move(fds)), path_(std::move(path)) {}
  std::vector<int> fds_;
  std::string path_;
};

}  // namespace mailbroker::client
