#pragma once
// PKCE (RFC 7636) for the authorization-code flow, the CSRF `state` value, and base64url
// (RFC 4648 section 5). Random values come from the OpenSSL CSPRNG; if it fails the
// process aborts (like random_hex): nothing secure can continue without it.
#include <optional>
#include <string>
#include <string_view>

namespace mailbroker::auth {

// The only code_challenge_method this module produces.
inline constexpr std::string_view pkce_method = "S256";

struct pkce_pair {
  std::string verifier;   // 43 chars, base64url of 32 random bytes; send to the token endpoint
  std::string challenge;  // pkce_challenge_s256(verifier); send in the authorization URL
};

// A fresh verifier (256 bits of entropy) and its S256 challenge.
pkce_pair make_pkce_pair();

// base64url(SHA-256(verifier)) without padding: always 43 characters. `verifier` is
// hashed as given; check it with is_valid_pkce_verifier when it comes from outside.
std::string pkce_challenge_s256(std::string_view verifier);

// True when `verifier` has 43..128 characters, all in A-Z a-z 0-9 - . _ ~ (RFC 7636
// section 4.1).
bool is_valid_pkce_verifier(std::string_view verifier);

// A fresh `state` value: base64url of 32 random bytes (256 bits), 43 characters, safe in
// a URL without escaping. The redirect's state must equal it exactly; use it once.
std::string make_state();

// base64url (alphabet A-Z a-z 0-9 - _) without '=' padding; "" gives "".
std::string base64url_encode(std::string_view bytes);

// Decodes base64url text, padded or not (e.g. JWT segments). nullopt for any character
// outside the alphabet (including '+', '/' and whitespace), misplaced padding, an
// impossible length or non-canonical trailing bits (same rules as base64_decode).
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace mailbroker::auth
