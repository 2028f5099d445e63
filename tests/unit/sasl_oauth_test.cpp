#include "sasl/oauth.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/base64.hpp"

namespace mailbroker::sasl {
namespace {

std::string decoded(const std::string& base64) {
  auto text = base64_decode(base64);
  EXPECT_TRUE(text.has_value()) << base64;
  return text.value_or("");
}

TEST(xoauth2, KnownEncoding) {
  // Google's documented example (user, token) -> base64, checked with coreutils base64.
  EXPECT_EQ(xoauth2_initial_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZ"
            "Mjl0Q2cBAQ==");
}

TEST(xoauth2, LayoutTable) {
  struct row {
    std::string user, token, plain;
  };
  const row rows[] = {
      {"a@b.c", "tok", "user=a@b.c\x01" "auth=Bearer tok\x01\x01"},
      {"", "", "user=\x01" "auth=Bearer \x01\x01"},
      // XOAUTH2 has no escaping: ',' and '=' pass through.
      {"x,y=z@h", "t=1", "user=x,y=z@h\x01" "auth=Bearer t=1\x01\x01"},
  };
  for (const auto& r : rows) EXPECT_EQ(decoded(xoauth2_initial_response(r.user, r.token)), r.plain) << r.user;
}

TEST(oauthbearer, Rfc7628Example) {
  // RFC 7628 section 4.1 message; the base64 was computed with coreutils base64.
  const std::string b64 = oauthbearer_initial_response("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                                                       "server.example.com", 143);
  EXPECT_EQ(b64,
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRj"
            "Mk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
}

TEST(oauthbearer, LayoutTable) {
  struct row {
    std::string user, token, host;
    std::uint16_t port;
    std::string plain;
  };
  const row rows[] = {
      {"u@h", "T", "", 0, "n,a=u@h,\x01" "auth=Bearer T\x01\x01"},
      {"u@h", "T", "imap.h", 0, "n,a=u@h,\x01host=imap.h\x01" "auth=Bearer T\x01\x01"},
      {"u@h", "T", "", 993, "n,a=u@h,\x01port=993\x01" "auth=Bearer T\x01\x01"},
      {"u@h", "T", "imap.h", 65535, "n,a=u@h,\x01host=imap.h\x01port=65535\x01" "auth=Bearer T\x01\x01"},
      {"", "T", "", 0, "n,,\x01" "auth=Bearer T\x01\x01"},
      // RFC 5801 saslname escaping, in the authzid only.
      {"a,b=c@h", "t,=", "h,=", 1, "n,a=a=2Cb=3Dc@h,\x01host=h,=\x01port=1\x01" "auth=Bearer t,=\x01\x01"},
      {"==,,", "T", "", 0, "n,a==3D=3D=2C=2C,\x01" "auth=Bearer T\x01\x01"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(decoded(oauthbearer_initial_response(r.user, r.token, r.host, r.port)), r.plain) << r.user;
  }
}

TEST(oauth_error_challenge_parser, AcceptsTable) {
  struct row {
    std::string json;
    oauth_error_challenge want;
  };
  const row rows[] = {
      {R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})",
       {"401", "https://mail.google.com/", "bearer", ""}},
      {R"({"status":401,"schemes":"bearer","scope":"https://mail.google.com/"})",
       {"401", "https://mail.google.com/", "bearer", ""}},
      {R"({"status":"invalid_token","scope":"example_scope",)"
       R"("openid-configuration":"https://example.com/.well-known/openid-configuration"})",
       {"invalid_token", "example_scope", "", "https://example.com/.well-known/openid-configuration"}},
      {R"({"status":-1})", {"-1", "", "", ""}},
      // Unknown fields of any shape are ignored; known fields of the wrong type are left empty.
      {R"({"junk":[1,{"a":null}],"status":true,"scope":5,"schemes":null,"x":"y"})", {"", "", "", ""}},
      {R"({"status":400.5,"scope":["a"]})", {"", "", "", ""}},
      {R"({})", {"", "", "", ""}},
      // Duplicate keys: last wins.
      {R"({"status":"400","status":"401"})", {"401", "", "", ""}},
      {" \t{\"status\" : \"401\"}\r\n", {"401", "", "", ""}},
  };
  for (const auto& r : rows) {
    const auto got = parse_oauth_error_challenge(base64_encode(r.json));
    ASSERT_TRUE(got.ok()) << r.json << ": " << got.err().message;
    EXPECT_EQ(got->status, r.want.status) << r.json;
    EXPECT_EQ(got->scope, r.want.scope) << r.json;
    EXPECT_EQ(got->schemes, r.want.schemes) << r.json;
    EXPECT_EQ(got->openid_configuration, r.want.openid_configuration) << r.json;
  }
}

TEST(oauth_error_challenge_parser, ToleratesSurroundingBlanksOnTheBase64) {
  const auto got = parse_oauth_error_challenge(
      "  eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n");
  ASSERT_TRUE(got.ok()) << got.err().message;
  EXPECT_EQ(got->status, "401");
  EXPECT_EQ(got->schemes, "bearer");
}

TEST(oauth_error_challenge_parser, RejectsTable) {
  struct row {
    std::string text;  // already base64 (or not)
    std::string why;
  };
  const row rows[] = {
      {"not base64!", "invalid base64"},
      {"eyJz dGF0dXMiOjF9", "invalid base64"},  // inner space
      {"", "not JSON"},
      {base64_encode("hello"), "not JSON"},
      {base64_encode("{\"status\":"), "not JSON"},
      {base64_encode("{\"status\":\"\xff\"}"), "not JSON"},  // invalid UTF-8
      {base64_encode("[1,2]"), "not a JSON object"},
      {base64_encode("\"401\""), "not a JSON object"},
      {base64_encode("401"), "not a JSON object"},
      {base64_encode("null"), "not a JSON object"},
      {std::string(max_oauth_challenge_bytes + 4, 'A'), "longer than 64 KiB"},
  };
  for (const auto& r : rows) {
    const auto got = parse_oauth_error_challenge(r.text);
    ASSERT_FALSE(got.ok()) << r.text.substr(0, 40);
    EXPECT_EQ(got.err().code, errc::invalid_argument);
    EXPECT_NE(got.err().message.find(r.why), std::string::npos) << got.err().message;
  }
}

TEST(oauth_error_challenge_parser, DeepNestingDoesNotCrash) {
  const std::string deep = "{\"a\":" + std::string(20000, '[') + std::string(20000, ']') + "}";
  const auto got = parse_oauth_error_challenge(base64_encode(deep));
  ASSERT_TRUE(got.ok()) << got.err().message;
  EXPECT_EQ(got->status, "");
}

TEST(oauth_error_challenge_describe, Table) {
  struct row {
    oauth_error_challenge in;
    std::string want;
  };
  const row rows[] = {
      {{"401", "https://mail.google.com/", "", ""}, "status 401 (scope: https://mail.google.com/)"},
      {{"401", "https://mail.google.com/", "bearer", ""},
       "status 401 (scope: https://mail.google.com/; schemes: bearer)"},
      {{"invalid_token", "", "", "https://x/.well-known"}, "status invalid_token (openid-configuration: https://x/.well-known)"},
      {{"", "", "", ""}, "status unknown"},
      {{"\r\n", "a\r\nb", "", ""}, "status unknown (scope: a b)"},
  };
  for (const auto& r : rows) EXPECT_EQ(describe(r.in), r.want);
}

TEST(oauth_error_challenge_describe, LongFieldsAreCutAtUtf8Boundary) {
  std::string scope;
  for (int i = 0; i < 150; ++i) scope += "\xc3\xa9";  // 300 bytes of 'é'
  const std::string text = describe({"401", scope, "", ""});
  const std::string want_scope = scope.substr(0, 200);
  EXPECT_EQ(text, "status 401 (scope: " + want_scope + ")");
  const std::string odd = "x" + scope;  // cut would fall inside a character
  const std::string cut = describe({"401", odd, "", ""});
  EXPECT_EQ(cut, "status 401 (scope: " + odd.substr(0, 199) + ")");
}

}  // namespace
}  // namespace mailbroker::sasl
