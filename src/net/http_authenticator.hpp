#pragma once
// How an HTTP connection proves who it is: the Authorization header of each request and
// the answers to a server's 401 challenges. One object per connection (a handshake such
// as NTLM is bound to the TCP connection it ran on).
//
// Implementations: Basic and Bearer (net/http_connection), NTLM (auth/ntlm_authenticator).
// No-secrets rule: an authenticator never logs, and its error messages name the scheme
// and the step, never a credential or a header value.
//
// Threading: used by one connection, on that connection's strand.
#include <string>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::net {

class http_authenticator {
 public:
  virtual ~http_authenticator() = default;

  // "Basic", "Bearer", "NTLM": for Status, TestConnection and error messages.
  virtual std::string scheme() const = 0;

  // A new TCP connection was opened: forget any handshake state.
  virtual void reset() = 0;

  // The Authorization header value for the next request on this connection, or "" to
  // send none (NTLM once the connection is authenticated: it is bound to the connection).
  virtual result<std::string> authorization() = 0;

  // The server answered 401 with these WWW-Authenticate header values (each value as
  // received, e.g. "NTLM TlRMTVNTUAACAAAA..." or `Basic realm="x"`). Returns the
  // Authorization value to retry the same request with on the same connection, or an
  // error: unauthenticated when the credentials were refused or the handshake has no
  // further step (the message names the scheme, e.g. "NTLM: the server refused the
  // credentials"), invalid_argument/internal when the challenge cannot be read.
  virtual result<std::string> respond(const std::vector<std::string>& www_authenticate) = 0;
};

}  // namespace mailbroker::net
