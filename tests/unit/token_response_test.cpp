#include "auth/token_response.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailbroker::auth {
namespace {

using std::chrono::seconds;

// Secret values used in bodies: no error message may ever contain them.
constexpr std::string_view access = "at-SECRET-1234567890";
constexpr std::string_view refresh = "rt-SECRET-0987654321";
constexpr std::string_view id_tok = "eyJ.SECRET.sig";

std::string fill(std::string text) {
  for (auto [key, value] : {std::pair{std::string_view("$AT"), access}, std::pair{std::string_view("$RT"), refresh},
                            std::pair{std::string_view("$ID"), id_tok}}) {
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key)) text.replace(pos, key.size(), value);
  }
  return text;
}

void expect_no_secret(const error& e, const std::string& context) {
  EXPECT_EQ(e.message.find("SECRET"), std::string::npos) << context << " -> " << e.message;
}

TEST(token_response, MicrosoftStyle) {
  const auto got = parse_token_response(200, "application/json; charset=utf-8", fill(R"({
    "token_type": "Bearer",
    "scope": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    "expires_in": "3599", "ext_expires_in": "3599",
    "access_token": "$AT", "refresh_token": "$RT"})"));
  ASSERT_TRUE(got.ok()) << got.err().message;
  EXPECT_EQ(got->access_token, access);
  EXPECT_EQ(got->token_type, "Bearer");
  EXPECT_EQ(got->expires_in, seconds(3599));
  EXPECT_EQ(got->refresh_token, refresh);
  EXPECT_EQ(got->scope, "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
  EXPECT_EQ(got->id_token, "");
}

TEST(token_response, GoogleStyle) {
  const auto got = parse_token_response(200, "application/json", fill(R"({
    "access_token": "$AT", "expires_in": 3599, "refresh_token": "$RT",
    "scope": "https://mail.google.com/ openid", "token_type": "Bearer", "id_token": "$ID"})"));
  ASSERT_TRUE(got.ok()) << got.err().message;
  EXPECT_EQ(got->access_token, access);
  EXPECT_EQ(got->expires_in, seconds(3599));
  EXPECT_EQ(got->refresh_token, refresh);
  EXPECT_EQ(got->id_token, id_tok);
  EXPECT_EQ(got->scope, "https://mail.google.com/ openid");
}

TEST(token_response, AcceptedVariantsTable) {
  struct row {
    int status;
    std::string content_type;
    std::string body;
    std::optional<seconds> expires_in;
  };
  const std::string max = std::to_string(max_expires_in.count());
  const std::vector<row> rows = {
      {200, "application/json", R"({"access_token":"a","token_type":"bearer"})", std::nullopt},
      {200, "APPLICATION/JSON;charset=UTF-8", R"({"access_token":"a","token_type":"BEARER","expires_in":1})", seconds(1)},
      {200, "", R"({"access_token":"a","token_type":"Bearer","expires_in":null,"refresh_token":null})", std::nullopt},
      {200, "text/plain", R"({"access_token":"a","token_type":"Bearer","expires_in":3600.0})", seconds(3600)},
      {201, "application/json", R"({"access_token":"a","token_type":"Bearer","expires_in":"0003600"})", seconds(3600)},
      {200, "application/json", R"({"access_token":"a","token_type":"Bearer","expires_in":)" + max + "}",
       max_expires_in},
      {200, "application/json", R"({"access_token":"a","token_type":"Bearer","expires_in":")" + max + "\"}",
       max_expires_in},
      {200, "application/json",
       R"({"x":{"deep":[1,2,{"y":null}]},"access_token":"a","token_type":"Bearer","error":"ignored"})", std::nullopt},
      {200, "application/json", "\xEF\xBB\xBF  {\"access_token\":\"a\",\"token_type\":\"Bearer\"}\r\n", std::nullopt},
  };
  for (const auto& r : rows) {
    const auto got = parse_token_response(r.status, r.content_type, r.body);
    ASSERT_TRUE(got.ok()) << r.body << ": " << got.err().message;
    EXPECT_EQ(got->access_token, "a");
    EXPECT_EQ(got->expires_in, r.expires_in) << r.body;
  }
}

struct failure {
  int status;
  std::string content_type;
  std::string body;
  errc code;
  std::string message;  // expected substring
};

std::vector<failure> failures() {
  const std::string over = std::to_string(max_expires_in.count() + 1);
  const std::string ok_fields = R"("access_token":"$AT","token_type":"Bearer","refresh_token":"$RT")";
  return {
      // 2xx field problems -> failed_precondition naming the field.
      {200, "application/json", R"({"token_type":"Bearer","refresh_token":"$RT"})", errc::failed_precondition,
       "access_token is missing"},
      {200, "application/json", R"({"access_token":null,"token_type":"Bearer"})", errc::failed_precondition,
       "access_token is missing"},
      {200, "application/json", R"({"access_token":12345,"token_type":"Bearer"})", errc::failed_precondition,
       "access_token is not a string"},
      {200, "application/json", R"({"access_token":["$AT"],"token_type":"Bearer"})", errc::failed_precondition,
       "access_token is not a string"},
      {200, "application/json", R"({"access_token":"","token_type":"Bearer"})", errc::failed_precondition,
       "access_token is empty"},
      {200, "application/json", R"({"access_token":"$AT","token_type":"mac"})", errc::failed_precondition,
       "token_type is not Bearer"},
      {200, "application/json", R"({"access_token":"$AT","token_type":"Bearer "})", errc::failed_precondition,
       "token_type is not Bearer"},
      {200, "application/json", R"({"access_token":"$AT"})", errc::failed_precondition, "token_type is missing"},
      {200, "application/json", R"({"access_token":"$AT","token_type":1})", errc::failed_precondition,
       "token_type is not a string"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":0})", errc::failed_precondition,
       "expires_in is out of range"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":-5})", errc::failed_precondition,
       "expires_in is out of range"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":)" + over + "}", errc::failed_precondition,
       "expires_in is out of range"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":"99999999999999999999999"})",
       errc::failed_precondition, "expires_in is out of range"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":1e300})", errc::failed_precondition,
       "expires_in is out of range"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":3599.5})", errc::failed_precondition,
       "expires_in is not an integer"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":"-1"})", errc::failed_precondition,
       "expires_in is not a number"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":" 3600"})", errc::failed_precondition,
       "expires_in is not a number"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":""})", errc::failed_precondition,
       "expires_in is not a number"},
      {200, "application/json", "{" + ok_fields + R"(,"expires_in":true})", errc::failed_precondition,
       "expires_in is not a number"},
      {200, "application/json", R"({"access_token":"$AT","token_type":"Bearer","refresh_token":7})",
       errc::failed_precondition, "refresh_token is not a string"},
      {200, "application/json", "{" + ok_fields + R"(,"scope":["a","b"]})", errc::failed_precondition,
       "scope is not a string"},
      {200, "application/json", "{" + ok_fields + R"(,"id_token":{}})", errc::failed_precondition,
       "id_token is not a string"},
      // 2xx that is not a JSON object -> unavailable.
      {200, "application/json", "[\"$AT\"]", errc::unavailable, "HTTP 200 with a body that is not a JSON object"},
      {200, "application/json", "\"$AT\"", errc::unavailable, "not a JSON object"},
      {200, "application/json", "", errc::unavailable, "not a JSON object"},
      {200, "application/json", "{\"access_token\":\"$AT\",", errc::unavailable, "not a JSON object"},
      {200, "text/html; charset=utf-8", "<html>$AT</html>", errc::unavailable, "(Content-Type text/html)"},
      {200, "application/x-www-form-urlencoded", "access_token=$AT&token_type=bearer", errc::unavailable,
       "not a JSON object"},
      // RFC 6749 5.2 errors.
      {400, "application/json",
       R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})",
       errc::unauthenticated, "token endpoint: invalid_grant: Token has been expired or revoked."},
      {401, "application/json", R"({"error":"invalid_client","error_description":"Unauthorized","access_token":"$AT"})",
       errc::unauthenticated, "token endpoint: invalid_client: Unauthorized"},
      {400, "application/json", R"({"error":"unauthorized_client"})", errc::unauthenticated,
       "token endpoint: unauthorized_client"},
      {400, "application/json", R"({"error":"invalid_request","error_description":"refresh_token missing"})",
       errc::invalid_argument, "token endpoint: invalid_request: refresh_token missing"},
      {400, "application/json", R"({"error":"invalid_scope"})", errc::invalid_argument, "token endpoint: invalid_scope"},
      {400, "application/json", R"({"error":"unsupported_grant_type"})", errc::invalid_argument,
       "token endpoint: unsupported_grant_type"},
      {400, "application/json", R"({"error":"access_denied"})", errc::unauthenticated, "token endpoint: access_denied"},
      {400, "application/json", R"({"error":"temporarily_unavailable"})", errc::unavailable,
       "token endpoint: temporarily_unavailable"},
      {400, "application/json", R"({"error":"authorization_pending"})", errc::failed_precondition,
       "token endpoint: authorization_pending"},
      {401, "application/json", R"({"error":"invalid_token"})", errc::unauthenticated, "token endpoint: invalid_token"},
      {403, "", R"({"error":"something_new"})", errc::unauthenticated, "token endpoint: something_new"},
      // A 2xx carrying an error object (seen from some providers) is an error.
      {200, "application/json", R"({"error":"invalid_grant","error_description":"bad code"})", errc::unauthenticated,
       "token endpoint: invalid_grant: bad code"},
      // Error bodies that are not RFC 6749 -> unavailable with the status.
      {400, "text/html", "<html>Bad Request $AT</html>", errc::unavailable, "token endpoint answered HTTP 400"},
      {400, "application/json", R"({"error":42,"refresh_token":"$RT"})", errc::unavailable,
       "token endpoint answered HTTP 400"},
      {400, "application/json", R"({"error":""})", errc::unavailable, "token endpoint answered HTTP 400"},
      {404, "application/json", R"(["invalid_grant"])", errc::unavailable, "token endpoint answered HTTP 404"},
      {503, "text/html", "<html><body>Service Unavailable $AT</body></html>", errc::unavailable,
       "token endpoint answered HTTP 503"},
      {500, "application/json", R"({"error":"invalid_grant"})", errc::unavailable, "token endpoint answered HTTP 500"},
      {429, "application/json", R"({"error":"invalid_request","error_description":"slow down"})", errc::unavailable,
       "token endpoint answered HTTP 429"},
      {302, "", "", errc::unavailable, "token endpoint answered HTTP 302"},
      {100, "", "", errc::unavailable, "token endpoint answered HTTP 100"},
      {0, "", "", errc::unavailable, "token endpoint answered HTTP 0"},
      {-1, "", "{\"access_token\":\"$AT\"}", errc::unavailable, "token endpoint answered HTTP -1"},
      {999, "", "", errc::unavailable, "token endpoint answered HTTP 999"},
  };
}

TEST(token_response, FailureTable) {
  for (const auto& f : failures()) {
    const std::string body = fill(f.body);
    const auto got = parse_token_response(f.status, f.content_type, body);
    ASSERT_FALSE(got.ok()) << f.status << " " << body;
    EXPECT_EQ(got.err().code, f.code) << f.status << " " << body << " -> " << got.err().message;
    EXPECT_NE(got.err().message.find(f.message), std::string::npos) << body << " -> " << got.err().message;
    expect_no_secret(got.err(), body);
  }
}

TEST(token_response, ServerErrorMessagesAreExact) {
  EXPECT_EQ(parse_token_response(503, "text/html", "<html>down</html>").err().message,
            "token endpoint answered HTTP 503");
  EXPECT_EQ(parse_token_response(400, "application/json", R"({"error":"invalid_grant","error_description":"Bad"})")
                .err()
                .message,
            "token endpoint: invalid_grant: Bad");
}

TEST(token_response, BodySizeLimit) {
  const std::string prefix = fill(R"({"access_token":"$AT","token_type":"Bearer"})");
  std::string exact = prefix + std::string(max_token_response_bytes - prefix.size(), ' ');
  ASSERT_EQ(exact.size(), max_token_response_bytes);
  EXPECT_TRUE(parse_token_response(200, "application/json", exact).ok());
  EXPECT_TRUE(parse_token_error(R"({"error":"x"})" + std::string(max_token_response_bytes - 13, ' ')).has_value());

  const std::string over = exact + " ";
  for (int status : {200, 400, 503}) {
    const auto got = parse_token_response(status, "application/json", over);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::unavailable);
    EXPECT_NE(got.err().message.find("over 1 MiB"), std::string::npos) << got.err().message;
    expect_no_secret(got.err(), "oversized");
  }
  EXPECT_FALSE(parse_token_error(R"({"error":"x"})" + std::string(max_token_response_bytes, ' ')).has_value());
}

TEST(token_response, DeepNestingIsRejectedWithoutCrashing) {
  const std::string deep(200000, '[');
  EXPECT_EQ(parse_token_response(200, "application/json", deep).err().code, errc::unavailable);
  const std::string nested_field =
      R"({"token_type":"Bearer","access_token":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(parse_token_response(200, "application/json", nested_field).err().message,
            "token endpoint response: access_token is not a string");
}

TEST(token_response, DescriptionIsCleanedAndTruncated) {
  const auto got = parse_token_response(
      400, "application/json",
      R"({"error":"invalid_grant","error_description":"AADSTS70000: The grant is expired.\r\nTrace ID: 1\u0000\u001b[31m\r\n"})");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.err().message, "token endpoint: invalid_grant: AADSTS70000: The grant is expired. Trace ID: 1 [31m");

  std::string description;
  for (int i = 0; i < 200; ++i) description += "\xc3\xa9";  // 400 bytes
  const auto long_one = parse_token_response(
      400, "application/json", R"({"error":"invalid_grant","error_description":")" + description + "\"}");
  const std::string prefix = "token endpoint: invalid_grant: ";
  EXPECT_EQ(long_one.err().message, prefix + description.substr(0, max_error_description_bytes));

  const auto odd = parse_token_response(
      400, "application/json", R"({"error":"invalid_grant","error_description":"x)" + description + "\"}");
  EXPECT_EQ(odd.err().message, prefix + "x" + description.substr(0, max_error_description_bytes - 2));

  const auto long_code =
      parse_token_response(400, "application/json", R"({"error":")" + std::string(500, 'e') + "\"}");
  EXPECT_EQ(long_code.err().message, "token endpoint: " + std::string(100, 'e'));
  EXPECT_EQ(long_code.err().code, errc::failed_precondition);

  const auto control_code = parse_token_response(401, "application/json", R"({"error":"\r\n"})");
  EXPECT_EQ(control_code.err().message, "token endpoint: unknown error");
}

TEST(token_error_parser, Table) {
  struct row {
    std::string body;
    std::optional<token_error> want;
  };
  const std::vector<row> rows = {
      {R"({"error":"invalid_grant"})", token_error{"invalid_grant", "", ""}},
      {R"({"error":"invalid_grant","error_description":"a\r\nb","error_uri":"https://e/x","n":1})",
       token_error{"invalid_grant", "a\r\nb", "https://e/x"}},
      {R"({"error":"invalid_grant","error_description":5,"error_uri":null})", token_error{"invalid_grant", "", ""}},
      {R"({"error":""})", std::nullopt},
      {R"({"error":null})", std::nullopt},
      {R"({"error":["invalid_grant"]})", std::nullopt},
      {R"({"error_description":"x"})", std::nullopt},
      {R"(["error"])", std::nullopt},
      {"invalid_grant", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& r : rows) {
    const auto got = parse_token_error(r.body);
    ASSERT_EQ(got.has_value(), r.want.has_value()) << r.body;
    if (!got) continue;
    EXPECT_EQ(got->error, r.want->error);
    EXPECT_EQ(got->error_description, r.want->error_description);
    EXPECT_EQ(got->error_uri, r.want->error_uri);
  }
}

}  // namespace
}  // namespace mailbroker::auth
