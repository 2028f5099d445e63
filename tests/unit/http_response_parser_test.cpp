// The pure parts under net::http_connection: the response parser (fed at every split
// point), the cookie jar and the request head builder. Suites are named
// HttpConnection* so one filter runs everything about the connection.
#include <gtest/gtest.h>

#include <chrono>

#include "net/http_cookie_jar.hpp"
#include "net/http_message.hpp"
#include "net/http_response_parser.hpp"

namespace mailbroker::net {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

struct parsed {
  boost::system::error_code ec;
  int status = 0;
  std::vector<http_header> headers;
  std::string body;
  bool keep_alive = false;
};

// Feeds `first` then `second` the way the connection does: keep unconsumed bytes, append
// the next read, put again until done or an error.
parsed feed(const std::vector<std::string>& reads, http_response_limits limits = {}) {
  http_response_parser p(limits);
  std::string pending;
  parsed out;
  for (const auto& read : reads) {
    pending += read;
    while (!pending.empty() && !p.done()) {
      boost::system::error_code ec;
      const std::size_t used = p.put(pending, ec);
      pending.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) {
        out.ec = ec;
        return out;
      }
    }
  }
  if (!p.done()) {
    out.ec = http::error::need_more;
    return out;
  }
  out.status = p.status();
  out.headers = p.headers();
  out.body = p.body();
  out.keep_alive = p.keep_alive();
  return out;
}

TEST(HttpConnectionParser, ChunkedResponseParsesAtEverySplitPoint) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    auto r = feed({wire.substr(0, split), wire.substr(split)});
    ASSERT_FALSE(r.ec) << "split " << split << ": " << r.ec.message();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello world") << "split " << split;
    EXPECT_TRUE(r.keep_alive);
  }
}

TEST(HttpConnectionParser, ContentLengthResponseParsesByteByByte) {
  const std::string wire = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";
  std::vector<std::string> bytes;
  for (char c : wire) bytes.emplace_back(1, c);
  auto r = feed(bytes);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "nope");
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].name, "Content-Length");
}

TEST(HttpConnectionParser, ErrorsAndLimits) {
  struct error_case {
    std::string wire;
    http_response_limits limits;
    http::error expected;
  };
  const std::vector<error_case> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", {1024, 10}, http::error::body_limit},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n",
       {1024, 10},
       http::error::body_limit},
      {"HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", {1024, 10}, http::error::header_limit},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", {1024, 10}, http::error::bad_chunk},
      {"HTTP/1.1 abc OK\r\n\r\n", {1024, 10}, http::error::bad_status},
  };
  for (const auto& c : cases) {
    http_response_parser p(c.limits);
    std::string pending = c.wire;
    boost::system::error_code ec;
    while (!pending.empty() && !p.done()) {
      const auto used = p.put(pending, ec);
      pending.erase(0, used);
      if (ec) break;
    }
    EXPECT_EQ(ec, c.expected) << c.wire.substr(0, 60);
  }
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (std::size_t i = 0; i <= max_response_header_fields; ++i) many += "a: b\r\n";
  auto r = feed({many + "Content-Length: 0\r\n\r\n"});
  EXPECT_EQ(r.ec, http::error::header_limit);
}

TEST(HttpConnectionParser, SinkGetsTheBodyAndCanStopIt) {
  const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
  http_response_parser p({1024, 4});  // the total may exceed max_body_bytes when streamed
  std::string pending = wire;
  boost::system::error_code ec;
  std::size_t used = p.put(pending, ec);
  pending.erase(0, used);
  ASSERT_TRUE(p.header_done());
  std::string got;
  p.stream_body_to([&](std::string_view piece) {
    got += piece;
    return got.size() < 6;
  });
  used = p.put(pending, ec);
  EXPECT_TRUE(p.sink_stopped());
  EXPECT_EQ(got, "abcdef");
  EXPECT_TRUE(p.body().empty());
}

TEST(HttpConnectionParser, BodyDelimitedByEofNeedsPutEof) {
  http_response_parser p({1024, 100});
  std::string wire = "HTTP/1.1 200 OK\r\n\r\nabc";
  boost::system::error_code ec;
  std::size_t used = p.put(wire, ec);
  wire.erase(0, used);
  used = p.put(wire, ec);
  EXPECT_FALSE(p.done());
  EXPECT_TRUE(p.need_eof());
  p.put_eof(ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.body(), "abc");
}

// ---- cookie jar ----------------------------------------------------------------------

TEST(HttpConnectionCookies, PathSecureExpiryAndReplacement) {
  const auto now = std::chrono::system_clock::now();
  http_cookie_jar jar("mail.example.com");
  jar.store("a=1", "/EWS/Exchange.asmx?x", now);          // default path /EWS
  jar.store("b=2; Path=/; Secure", "/EWS/Exchange.asmx", now);
  jar.store("c=3; Max-Age=60", "/", now);
  jar.store("d=4; Domain=other.example.org", "/", now);   // not for this host: ignored
  jar.store("e=5; Domain=.example.com", "/", now);        // a parent domain: kept
  EXPECT_EQ(jar.cookie_header("/EWS/x", true, now), "a=1; b=2; c=3; e=5");
  EXPECT_EQ(jar.cookie_header("/EWSX", true, now), "b=2; c=3; e=5");  // /EWS does not path-match /EWSX
  EXPECT_EQ(jar.cookie_header("/", false, now), "c=3; e=5");           // secure only over TLS
  jar.store("b=new; Path=/", "/", now);  // replaced in place: keeps its creation order
  EXPECT_EQ(jar.cookie_header("/", true, now), "b=new; c=3; e=5");
  jar.store("b=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "/", now);
  EXPECT_EQ(jar.cookie_header("/", true, now), "c=3; e=5");
  EXPECT_EQ(jar.cookie_header("/", true, now + 61s), "e=5");  // c expired
}

TEST(HttpConnectionCookies, BoundedInCountAndSize) {
  const auto now = std::chrono::system_clock::now();
  http_cookie_jar jar("h");
  for (std::size_t i = 0; i < http_cookie_jar::max_cookies + 10; ++i) jar.store("n" + std::to_string(i) + "=v", "/", now);
  EXPECT_EQ(jar.size(), http_cookie_jar::max_cookies);
  EXPECT_EQ(jar.cookie_header("/", true, now).find("n0="), std::string::npos) << "the oldest is evicted";
  jar.clear();
  jar.store("big=" + std::string(http_cookie_jar::max_cookie_bytes, 'x'), "/", now);
  jar.store("bad\x01=v", "/", now);
  jar.store("novalue", "/", now);
  EXPECT_EQ(jar.size(), 0u);
}

TEST(HttpConnectionCookies, CookieDates) {
  const auto t = parse_cookie_date("Sat, 11-Feb-2023 06:05:04 GMT");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*t), 1676095504);
  EXPECT_TRUE(parse_cookie_date("Wed, 09 Jun 2021 10:18:14 GMT").has_value());
  EXPECT_TRUE(parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT").has_value());
  EXPECT_FALSE(parse_cookie_date("tomorrow").has_value());
  EXPECT_FALSE(parse_cookie_date("Wed, 32 Jun 2021 10:18:14 GMT").has_value());
}

// ---- request head --------------------------------------------------------------------

TEST(HttpConnectionRequestHead, LayoutAndRefusals) {
  http_request r;
  r.target = "/EWS/Exchange.asmx";
  r.content_type = "text/xml";
  r.body = "abc";
  r.headers.push_back({"SOAPAction", "\"x\""});
  auto head = build_request_head(r, {true, "::1", 8443}, {"ua/1", "Basic eA==", "a=1"});
  ASSERT_TRUE(head.ok()) << head.err().message;
  EXPECT_EQ(*head,
            "POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: [::1]:8443\r\nUser-Agent: ua/1\r\nConnection: keep-alive\r\n"
            "Authorization: Basic eA==\r\nCookie: a=1\r\nContent-Type: text/xml\r\nSOAPAction: \"x\"\r\n"
            "Content-Length: 3\r\n\r\n");
  auto host_default = build_request_head(r, {true, "h", 443}, {});
  ASSERT_TRUE(host_default.ok());
  EXPECT_NE(host_default->find("Host: h\r\n"), std::string::npos);

  const std::vector<std::pair<std::string, http_header>> refused = {
      {"GET", {"Host", "evil"}},          {"GET", {"Content-Length", "1"}}, {"GET", {"X", "a\nb"}},
      {"GET", {"Bad Name", "v"}},         {"GET", {"Cookie", "c=1"}},       {"G ET", {"X", "v"}},
      {"GET", {"Transfer-Encoding", "x"}}};
  for (const auto& [method, header] : refused) {
    http_request bad = r;
    bad.method = method;
    bad.headers = {header};
    auto out = build_request_head(bad, {true, "h", 443}, {});
    ASSERT_FALSE(out.ok()) << method << " " << header.name;
    EXPECT_EQ(out.err().code, errc::invalid_argument);
  }
  http_request bad_target = r;
  bad_target.target = "http://absolute/";
  EXPECT_FALSE(build_request_head(bad_target, {true, "h", 443}, {}).ok());
}

}  // namespace
}  // namespace mailbroker::net
