#include "auth/pkce.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>

#include "common/base64.hpp"

namespace mailbroker::auth {
namespace {

constexpr std::size_t random_bytes = 32;

std::string random_base64url(std::size_t n) {
  std::string buf(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(buf.size())) != 1) std::abort();
  return base64url_encode(buf);
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string text = base64_encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string standard(text);
  for (char& c : standard) {
    if (c == '+' || c == '/') return std::nullopt;
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return base64_decode(standard);
}

std::string pkce_challenge_s256(std::string_view verifier) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(verifier.data(), verifier.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) std::abort();
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), len));
}

bool is_valid_pkce_verifier(std::string_view verifier) {
  if (verifier.size() < 43 || verifier.size() > 128) return false;
  for (char c : verifier) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

pkce_pair make_pkce_pair() {
  pkce_pair pair;
  pair.verifier = random_base64url(random_bytes);
  pair.challenge = pkce_challenge_s256(pair.verifier);
  return pair;
}

std::string make_state() { return random_base64url(random_bytes); }

}  // namespace mailbroker::auth
