#include "auth/ntlm_authenticator.hpp"

#include <optional>
#include <string_view>

#include "common/base64.hpp"

namespace mailbroker::auth {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The scheme token of a WWW-Authenticate value (up to the first space or comma).
std::string_view scheme_of(std::string_view value) {
  value = trim(value);
  return value.substr(0, value.find_first_of(" \t,"));
}

// An NTLM offer: nullopt when `value` is another scheme; "" for a bare "NTLM"; else the
// token after it.
std::optional<std::string_view> ntlm_token(std::string_view value) {
  value = trim(value);
  if (!iequals(scheme_of(value), "NTLM")) return std::nullopt;
  return trim(value.substr(4));
}

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "Basic, Negotiate": distinct scheme names, bounded, only RFC 7230 token characters (a
// header value's credentials or parameters never reach the message).
std::string offered_schemes(const std::vector<std::string>& values) {
  std::vector<std::string> names;
  for (const auto& v : values) {
    std::string name;  // the leading token characters only: nothing is spliced together
    for (char c : scheme_of(v).substr(0, max_listed_scheme_chars)) {
      if (!is_token_char(c)) break;
      name.push_back(c);
    }
    if (name.empty()) continue;
    bool seen = false;
    for (const auto& n : names) seen = seen || iequals(n, name);
    if (!seen && names.size() < max_listed_schemes) names.push_back(std::move(name));
  }
  if (names.empty()) return "nothing";
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

ntlm_authenticator::ntlm_authenticator(ntlm_credentials credentials, ntlm_options options,
                                       randomness_source randomness)
    : credentials_(std::move(credentials)),
      options_(options),
      randomness_(randomness ? std::move(randomness) : randomness_source(fresh_ntlm_randomness)) {}

void ntlm_authenticator::reset() {
  state_ = state::start;
  negotiate_.clear();
  refusal_ = error::none();
}

error ntlm_authenticator::refused_error() const {
  std::string who = credentials_.domain.empty() ? credentials_.user : credentials_.domain + "\\" + credentials_.user;
  return {errc::unauthenticated, "NTLM: the server refused the credentials for " + who};
}

result<std::string> ntlm_authenticator::start_handshake() {
  if (error e = check_credentials(credentials_); !e.ok()) return e;
  negotiate_ = negotiate_message(options_);
  state_ = state::negotiate_sent;
  return "NTLM " + base64_encode(negotiate_);
}

result<std::string> ntlm_authenticator::authorization() {
  switch (state_) {
    case state::start: return start_handshake();
    case state::negotiate_sent: return "NTLM " + base64_encode(negotiate_);
    case state::authenticated: return std::string();
    case state::refused: break;
  }
  return refusal_;
}

result<std::string> ntlm_authenticator::respond(const std::vector<std::string>& www_authenticate) {
  if (state_ == state::refused) return refusal_;
  if (state_ == state::authenticated) {
    refusal_ = refused_error();
    state_ = state::refused;
    return refusal_;
  }
  std::optional<std::string_view> offer;
  for (const auto& v : www_authenticate) {
    auto token = ntlm_token(v);
    if (!token) continue;
    if (!offer || (offer->empty() && !token->empty())) offer = token;  // prefer one with a challenge
  }
  if (!offer) {
    return error{errc::unauthenticated,
                 "NTLM: the server did not offer NTLM (it offered: " + offered_schemes(www_authenticate) + ")"};
  }
  if (state_ == state::start) {
    if (offer->empty()) return start_handshake();
    return error{errc::invalid_argument, "NTLM: the server sent a challenge before our NEGOTIATE message"};
  }
  // state_ == negotiate_sent
  if (offer->empty()) {
    refusal_ = {errc::unauthenticated, "NTLM: the server answered the NEGOTIATE message without a challenge"};
    state_ = state::refused;
    return refusal_;
  }
  const auto raw = base64_decode(*offer);
  if (!raw) return error{errc::invalid_argument, "NTLM challenge: the WWW-Authenticate token is not valid base64"};
  auto challenge = parse_challenge(*raw);
  if (!challenge) return challenge.err();
  const std::string message = authenticate_message(*challenge, credentials_, negotiate_, randomness_());
  state_ = state::authenticated;
  return "NTLM " + base64_encode(message);
}

}  // namespace mailbroker::auth
