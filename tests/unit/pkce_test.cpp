#include "auth/pkce.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace mailbroker::auth {
namespace {

bool url_safe(const std::string& text) {
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// RFC 7636 Appendix B. The values were checked against each other: the octets encode to
// the verifier, and `openssl dgst -sha256 -binary | base64url` of the verifier gives the
// challenge (whose SHA-256 octets the RFC also lists).
TEST(pkce, Rfc7636AppendixB) {
  const unsigned char octets[] = {116, 24,  223, 180, 151, 153, 224, 37, 79, 250, 96,  125, 216, 173, 187, 186,
                                  22,  212, 37,  77,  105, 214, 191, 240, 91, 88,  5,   88,  83,  132, 141, 121};
  const std::string verifier = base64url_encode(std::string(reinterpret_cast<const char*>(octets), sizeof octets));
  EXPECT_EQ(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  EXPECT_TRUE(is_valid_pkce_verifier(verifier));
  EXPECT_EQ(pkce_challenge_s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  EXPECT_EQ(pkce_method, "S256");
}

TEST(pkce, ChallengeTable) {
  struct row {
    std::string verifier, challenge;
  };
  // Each computed with: printf %s VERIFIER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d =
  const std::vector<row> rows = {
      {"", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
      {"abc", "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"},
  };
  for (const auto& r : rows) EXPECT_EQ(pkce_challenge_s256(r.verifier), r.challenge) << r.verifier;
}

TEST(pkce, PairsAreFreshAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const pkce_pair pair = make_pkce_pair();
    EXPECT_EQ(pair.verifier.size(), 43u);
    EXPECT_TRUE(is_valid_pkce_verifier(pair.verifier)) << pair.verifier;
    EXPECT_TRUE(url_safe(pair.verifier));
    EXPECT_EQ(pair.challenge, pkce_challenge_s256(pair.verifier));
    EXPECT_EQ(pair.challenge.size(), 43u);
    EXPECT_TRUE(seen.insert(pair.verifier).second);
  }
}

TEST(pkce, StatesAreFreshAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string state = make_state();
    EXPECT_EQ(state.size(), 43u);  // 256 bits
    EXPECT_TRUE(url_safe(state)) << state;
    EXPECT_EQ(base64url_decode(state).value_or("").size(), 32u);
    EXPECT_TRUE(seen.insert(state).second);
  }
}

TEST(pkce, VerifierValidationTable) {
  struct row {
    std::string verifier;
    bool valid;
  };
  const std::vector<row> rows = {
      {std::string(43, 'a'), true},
      {std::string(128, '~'), true},
      {std::string(42, 'a'), false},
      {std::string(129, 'a'), false},
      {std::string(40, 'a') + "-._", true},
      {std::string(42, 'a') + "+", false},
      {std::string(42, 'a') + "/", false},
      {std::string(42, 'a') + "=", false},
      {std::string(42, 'a') + " ", false},
      {std::string(41, 'a') + "\xc3\xa9", false},
  };
  for (const auto& r : rows) EXPECT_EQ(is_valid_pkce_verifier(r.verifier), r.valid) << r.verifier;
}

TEST(base64url, EncodeTable) {
  struct row {
    std::string in, want;
  };
  const std::vector<row> rows = {
      // RFC 4648 section 10 vectors, padding removed.
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      // Bytes that use the two url-specific characters.
      {"\xfb\xff", "-_8"},
      {"\xff\xff\xff", "____"},
      {"\xfb\xef\xbe", "----"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(base64url_encode(r.in), r.want);
    EXPECT_EQ(base64url_decode(r.want), r.in) << r.want;
  }
}

TEST(base64url, DecodeTable) {
  struct row {
    std::string in;
    std::optional<std::string> want;
  };
  const std::vector<row> rows = {
      {"Zg==", "f"},       // padded form accepted
      {"Zm8=", "fo"},
      {"-_8", "\xfb\xff"},
      {"+_8", std::nullopt},  // standard-alphabet characters are refused
      {"-/8", std::nullopt},
      {"Zm9 v", std::nullopt},
      {"Z", std::nullopt},
      {"Zh", std::nullopt},  // non-canonical trailing bits
      {"Zg=", std::nullopt},
  };
  for (const auto& r : rows) EXPECT_EQ(base64url_decode(r.in), r.want) << r.in;
}

}  // namespace
}  // namespace mailbroker::auth
