#include "auth/url.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailbroker::auth {
namespace {

TEST(parse_url, Accepted) {
  struct row {
    std::string in;
    bool allow_http;
    std::string scheme, host;
    std::uint16_t port;
    std::string target, userinfo;
  };
  const std::vector<row> rows = {
      {"https://oauth2.googleapis.com/token", false, "https", "oauth2.googleapis.com", 443, "/token", ""},
      {"https://login.microsoftonline.com/common/oauth2/v2.0/token", false, "https", "login.microsoftonline.com", 443,
       "/common/oauth2/v2.0/token", ""},
      {"https://example.com", false, "https", "example.com", 443, "/", ""},
      {"https://example.com/", false, "https", "example.com", 443, "/", ""},
      {"https://example.com?a=1", false, "https", "example.com", 443, "/?a=1", ""},
      {"https://example.com:8443/p?q=a%20b&r=%2F", false, "https", "example.com", 8443, "/p?q=a%20b&r=%2F", ""},
      {"HTTPS://Example.COM/Path", false, "https", "example.com", 443, "/Path", ""},
      {"https://127.0.0.1:1/", false, "https", "127.0.0.1", 1, "/", ""},
      {"https://h:65535/", false, "https", "h", 65535, "/", ""},
      {"https://h:00443/", false, "https", "h", 443, "/", ""},
      {"https://[::1]/", false, "https", "::1", 443, "/", ""},
      {"https://[2001:DB8::1]:8443/x", false, "https", "2001:db8::1", 8443, "/x", ""},
      {"https://[::ffff:127.0.0.1]/", false, "https", "::ffff:127.0.0.1", 443, "/", ""},
      {"https://my_host.internal./a", false, "https", "my_host.internal.", 443, "/a", ""},
      {"https://user:p%40ss@host/", false, "https", "host", 443, "/", "user:p%40ss"},
      {"https://user:p@ss@host/", false, "https", "host", 443, "/", "user:p@ss"},
      {"https://h/a:b@c/~x-y_z.!$&'()*+,;=?/?:@", false, "https", "h", 443, "/a:b@c/~x-y_z.!$&'()*+,;=?/?:@", ""},
      {"http://127.0.0.1:8080/token", true, "http", "127.0.0.1", 8080, "/token", ""},
      {"http://localhost", true, "http", "localhost", 80, "/", ""},
      {"HtTp://localhost/", true, "http", "localhost", 80, "/", ""},
      {"https://h/", true, "https", "h", 443, "/", ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.in);
    auto u = parse_url(r.in, r.allow_http);
    ASSERT_TRUE(u.ok()) << u.err().message;
    EXPECT_EQ(u->scheme, r.scheme);
    EXPECT_EQ(u->host, r.host);
    EXPECT_EQ(u->port, r.port);
    EXPECT_EQ(u->target, r.target);
    EXPECT_EQ(u->userinfo, r.userinfo);
  }
}

TEST(parse_url, Rejected) {
  struct row {
    std::string in;
    bool allow_http;
    std::string want;  // a substring of the message
  };
  const std::vector<row> rows = {
      {"", false, "must use https"},
      {"http://example.com/token", false, "must use https"},
      {"HTTP://example.com/token", false, "must use https"},
      {"ftp://example.com/", false, "must use https"},
      {"ftp://example.com/", true, "https:// or http://"},
      {"example.com/token", false, "must use https"},
      {"https:/example.com", false, "must use https"},
      {"//example.com/", false, "must use https"},
      {"https://", false, "no host"},
      {"https:///token", false, "no host"},
      {"https://:443/", false, "no host"},
      {"https://user@/", false, "no host"},
      {"https://[]/", false, "no host"},
      {"https://example.com/a#frag", false, "fragment"},
      {"https://example.com#", false, "fragment"},
      {"https://example.com/a b", false, "space"},
      {"https://example.com/a\tb", false, "control character"},
      {" https://example.com/", false, "space"},
      {"https://example.com/\r\nX: y", false, "control character"},
      {std::string("https://example.com/\0", 21), false, "control character"},
      {"https://example.com/\x7f", false, "control character"},
      {"https://ex\xc3\xa4mple.com/", false, "non-ASCII"},
      {"https://example.com:/", false, "empty port"},
      {"https://example.com:0/", false, "1 to 65535"},
      {"https://example.com:65536/", false, "1 to 65535"},
      {"https://example.com:99999999999999999999/", false, "1 to 65535"},
      {"https://example.com:-1/", false, "1 to 65535"},
      {"https://example.com:44a/", false, "1 to 65535"},
      {"https://example.com:443:443/", false, "1 to 65535"},
      {"https://exa%6Dple.com/", false, "host may only contain"},
      {"https://exa!mple.com/", false, "host may only contain"},
      {"https://::1/", false, "no host"},
      {"https://[::1/", false, "unterminated IPv6"},
      {"https://[not:an:address]/", false, "not a valid IPv6"},
      {"https://[127.0.0.1]/", false, "not a valid IPv6"},
      {"https://[fe80::1%25eth0]/", false, "not a valid IPv6"},
      {"https://[::1]x/", false, "after the IPv6 literal"},
      {"https://[::1]:/", false, "empty port"},
      {"https://[::1]:70000/", false, "1 to 65535"},
      {"https://h/a%2", false, "two hex digits"},
      {"https://h/a%", false, "two hex digits"},
      {"https://h/?q=%zz", false, "two hex digits"},
      {"https://h/a\"b", false, "percent-encoded"},
      {"https://h/a<b>", false, "percent-encoded"},
      {"https://h/a\\b", false, "percent-encoded"},
      {"https://h/a{b}", false, "percent-encoded"},
      {"https://h/?a[]=1", false, "percent-encoded"},
      {"https://h/a|b^c`", false, "percent-encoded"},
      {"https://h/" + std::string(max_url_bytes, 'a'), false, "longer than"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.in);
    auto u = parse_url(r.in, r.allow_http);
    ASSERT_FALSE(u.ok()) << "parsed as host '" << u->host << "' target '" << u->target << "'";
    EXPECT_EQ(u.err().code, errc::invalid_argument);
    EXPECT_EQ(u.err().message.rfind("URL ", 0), 0u) << u.err().message;
    EXPECT_NE(u.err().message.find(r.want), std::string::npos) << u.err().message;
  }
}

TEST(parse_url, ErrorsNeverEchoTheUrl) {
  // Each puts a would-be secret where a parser might quote it back.
  const std::vector<std::string> inputs = {
      "https://user:hunter2@/token",          // no host after the userinfo
      "https://user:hunter2/token",           // password taken for a port
      "https://user:hunter2@h:hunter2/",      // and again in the port
      "https://user:hunter2@h/#hunter2",      // fragment
      "https://user:hunter2@h/ hunter2",      // space
      "http://user:hunter2@h/",               // http not allowed
      "https://user:hunter2@h/%hunter2",      // bad escape
      "https://user:hunter2@[hunter2]/",      // bad IPv6
      "https://user:hunter2@hunter2!/",       // bad host
      "hunter2://user:hunter2@h/",            // bad scheme
  };
  for (const auto& in : inputs) {
    SCOPED_TRACE(in);
    auto u = parse_url(in);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.err().message.find("hunter2"), std::string::npos) << u.err().message;
  }
}

TEST(url_authority, BracketsIpv6AndNeverShowsUserinfo) {
  auto u = parse_url("https://user:secret@[::1]:8443/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(url_authority(*u), "[::1]:8443");
  auto v = parse_url("https://user:secret@Example.com/x");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(url_authority(*v), "example.com:443");
}

}  // namespace
}  // namespace mailbroker::auth
