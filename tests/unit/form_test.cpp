#include "auth/form.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailbroker::auth {
namespace {

using fields = std::vector<std::pair<std::string, std::string>>;

TEST(form_urlencode, Table) {
  struct row {
    fields in;
    std::string want;
  };
  const std::vector<row> rows = {
      {{}, ""},
      {{{"a", "b"}}, "a=b"},
      {{{"grant_type", "refresh_token"}, {"refresh_token", "1//0g-x_y.z*"}},
       "grant_type=refresh_token&refresh_token=1%2F%2F0g-x_y.z*"},
      {{{"scope", "openid email https://mail.google.com/"}}, "scope=openid+email+https%3A%2F%2Fmail.google.com%2F"},
      {{{"q", "a+b&c=d"}}, "q=a%2Bb%26c%3Dd"},
      {{{"k e", "~!'()"}}, "k+e=%7E%21%27%28%29"},
      {{{"name", "J\xc3\xa9r\xc3\xb4me \xe2\x82\xac"}}, "name=J%C3%A9r%C3%B4me+%E2%82%AC"},
      {{{"", ""}}, "="},
      {{{"", ""}, {"", ""}}, "=&="},
      {{{"a", ""}, {"b", "1"}}, "a=&b=1"},
      {{{"nul", std::string("\0\x7f\xff", 3)}}, "nul=%00%7F%FF"},
      {{{"redirect_uri", "http://127.0.0.1:8765/cb?x=1"}}, "redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcb%3Fx%3D1"},
  };
  for (const auto& r : rows) EXPECT_EQ(form_urlencode(r.in), r.want);
}

TEST(percent_encode, Table) {
  struct row {
    std::string in, want;
  };
  const std::vector<row> rows = {
      {"", ""},
      {"AZaz09-._~", "AZaz09-._~"},
      {" ", "%20"},
      {"+", "%2B"},
      {"*", "%2A"},
      {"a&b=c", "a%26b%3Dc"},
      {"http://127.0.0.1:1/cb", "http%3A%2F%2F127.0.0.1%3A1%2Fcb"},
      {"\xc3\xa9", "%C3%A9"},
      {std::string("\0", 1), "%00"},
      {"%", "%25"},
  };
  for (const auto& r : rows) EXPECT_EQ(percent_encode(r.in), r.want) << r.in;
}

TEST(parse_query, AcceptsTable) {
  using map = std::map<std::string, std::string>;
  struct row {
    std::string in;
    map want;
  };
  const std::vector<row> rows = {
      {"", {}},
      {"?", {}},
      {"code=4%2F0AfJohXk&state=abc-_.~&scope=email%20openid+https://mail.google.com/",
       {{"code", "4/0AfJohXk"}, {"state", "abc-_.~"}, {"scope", "email openid https://mail.google.com/"}}},
      {"?code=x&state=y", {{"code", "x"}, {"state", "y"}}},
      {"a=1&&b=2&", {{"a", "1"}, {"b", "2"}}},
      {"&&", {}},
      {"flag", {{"flag", ""}}},
      {"a=&=v", {{"a", ""}, {"", "v"}}},
      {"a=b=c", {{"a", "b=c"}}},
      {"%61%62=%2b%2B+", {{"ab", "++ "}}},
      {"n=%C3%A9%00%ff", {{"n", std::string("\xc3\xa9\0\xff", 4)}}},
      {"error=access_denied&state=s", {{"error", "access_denied"}, {"state", "s"}}},
  };
  for (const auto& r : rows) {
    const auto got = parse_query(r.in);
    ASSERT_TRUE(got.has_value()) << r.in;
    EXPECT_EQ(*got, r.want) << r.in;
  }
}

TEST(parse_query, RejectsTable) {
  const std::vector<std::string> rows = {
      "%", "a=%", "a=%4", "a=%4g", "a=%g4", "%zz=1", "a=1%", "code=x&code=y", "a=1&%61=2", "state=&state=",
      "a&a", "a=%%41",
  };
  for (const auto& r : rows) EXPECT_FALSE(parse_query(r).has_value()) << r;
}

TEST(parse_query, RoundTripsEveryByteThroughFormUrlencode) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const fields in = {{"all", all},
                     {"code", "4/0Af+J/x=="},
                     {"state", "q-w_e.r~t"},
                     {"k\xc3\xa9y &=+", " lead and trail "},
                     {"empty", ""}};
  const auto got = parse_query(form_urlencode(in));
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), in.size());
  for (const auto& [name, value] : in) EXPECT_EQ(got->at(name), value) << name;
}

TEST(parse_query, PercentEncodedValuesDecode) {
  const std::string value = "a b+c/d?e&f=g~\xe2\x82\xac";
  const auto got = parse_query("v=" + percent_encode(value));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->at("v"), value);
}

}  // namespace
}  // namespace mailbroker::auth
