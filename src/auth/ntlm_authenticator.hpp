#pragma once
// NTLM over HTTP (the "NTLM" WWW-Authenticate scheme, as on-premises Exchange offers it
// for EWS): a three-leg handshake bound to the TCP connection.
//
//   reset()                  new connection
//   authorization()       -> "NTLM <base64 NEGOTIATE>"        first request
//   respond({"NTLM <b64>"}) -> "NTLM <base64 AUTHENTICATE>"   retry of the 401'd request
//   authorization()       -> ""                               the connection is authenticated
//   respond(...) again    -> unauthenticated: "NTLM: the server refused the credentials for
//                            DOMAIN\user"
//
// Also: a 401 on a request sent without Authorization that offers bare "NTLM" starts the
// handshake (respond returns the NEGOTIATE); authorization() before the challenge repeats
// the same NEGOTIATE (a server may restart the handshake).
//
// Errors (all name the step, never the password, a hash or a header's token):
//   invalid_argument  the credentials fail check_credentials (from the first
//                     authorization() or respond()); the server's challenge is not base64
//                     or not a valid CHALLENGE_MESSAGE ("NTLM challenge: ...")
//   unauthenticated   no NTLM among the 401's schemes ("NTLM: the server did not offer NTLM
//                     (it offered: Basic, Negotiate)"); a 401 after AUTHENTICATE (refused);
//                     the server answered NEGOTIATE without a challenge. Once refused, the
//                     object keeps answering that error until reset().
//
// Pure: no sockets, no logging. Threading: one connection's strand (not thread-safe).
#include <functional>
#include <string>
#include <vector>

#include "auth/ntlm.hpp"
#include "net/http_authenticator.hpp"

namespace mailbroker::auth {

// At most this many scheme names are listed in the "did not offer NTLM" message, each
// cut to max_listed_scheme_chars, so a hostile 401 cannot grow our error text.
inline constexpr std::size_t max_listed_schemes = 8;
inline constexpr std::size_t max_listed_scheme_chars = 32;

class ntlm_authenticator final : public net::http_authenticator {
 public:
  using randomness_source = std::function<ntlm_randomness()>;

  // `randomness` defaults to fresh_ntlm_randomness; tests pass a fixed one.
  explicit ntlm_authenticator(ntlm_credentials credentials, ntlm_options options = {},
                              randomness_source randomness = {});

  std::string scheme() const override { return "NTLM"; }
  void reset() override;
  result<std::string> authorization() override;
  result<std::string> respond(const std::vector<std::string>& www_authenticate) override;

 private:
  enum class state { start, negotiate_sent, authenticated, refused };

  error refused_error() const;
  result<std::string> start_handshake();

  ntlm_credentials credentials_;
  ntlm_options options_;
  randomness_source randomness_;
  state state_ = state::start;
  std::string negotiate_;  // the NEGOTIATE sent on this connection (the MIC covers it)
  error refusal_;          // why state_ is refused
};

}  // namespace mailbroker::auth
