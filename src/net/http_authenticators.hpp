#pragma once
// The two stateless http_authenticator implementations: Basic (RFC 7617) and Bearer
// (RFC 6750). Both send their header preemptively on every request, so a 401 always
// means "refused": respond() then fails with unauthenticated. NTLM lives in
// auth/ntlm_authenticator.
//
// No-secrets rule: messages name the scheme and the problem, never the user name,
// password, token or header value.
#include <functional>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "net/http_authenticator.hpp"

namespace mailbroker::net {

// Basic: "DOMAIN\user" or "user" with `password`, sent as UTF-8 (RFC 7617 charset=UTF-8).
// authorization() errors: invalid_argument when the user is empty or contains ':' or a
// control character, or the password contains a control character (RFC 7617 §2).
std::shared_ptr<http_authenticator> make_basic_authenticator(std::string user, std::string password);

// Bearer: `token` is called for every request (the token cache refreshes it); its
// errors are passed on unchanged. A token with a control character or a space is
// internal (it would forge headers).
std::shared_ptr<http_authenticator> make_bearer_authenticator(std::function<result<std::string>()> token);

}  // namespace mailbroker::net
