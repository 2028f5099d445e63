// auth::http_post_form / http_get against an in-process HTTPS server (fakes/https_test_server)
// with certificates made at test time.
#include "auth/http_client.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>

#include "fakes/https_test_server.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::auth {
namespace {

using mailbroker::testing::canned_exchange;
using mailbroker::testing::https_test_server;
using mailbroker::testing::test_pki;
using namespace std::chrono_literals;

// Secrets a request carries: no error message may contain them.
const std::string basic_auth = "Basic dXNlcjpzM2NyZXQ=";
const std::string form_body = "grant_type=refresh_token&refresh_token=1%2F%2Fsecret-refresh";

result<http_response> run(std::function<awaitable<result<http_response>>()> call) {
  asio::io_context io;
  std::optional<result<http_response>> out;
  asio::co_spawn(io, [&]() -> awaitable<void> { out.emplace(co_await call()); }, asio::detached);
  io.run_for(20s);
  if (!out) return error{errc::internal, "test: the call did not complete"};
  return std::move(*out);
}

http_request_options trusting(const std::string& ca_file, bool verify = true) {
  auto ctx = net::make_client_tls_context({ca_file, verify});
  EXPECT_TRUE(ctx.ok()) << ctx.err().message;
  http_request_options o;
  o.tls = ctx.ok() ? *ctx : nullptr;
  return o;
}

http_request_options trusting_test_ca() { return trusting(test_pki::get().ca_file); }

std::string url(std::string host, std::uint16_t port, std::string path, std::string scheme = "https") {
  return scheme + "://" + host + ":" + std::to_string(port) + path;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void expect_no_secrets(const error& e) {
  EXPECT_FALSE(contains(e.message, "dXNlcjpzM2NyZXQ")) << e.message;
  EXPECT_FALSE(contains(e.message, "secret-refresh")) << e.message;
  EXPECT_FALSE(contains(e.message, "/oauth2/token")) << e.message;
}

// A port nothing listens on: bound, then released.
std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

// ---- the request on the wire -------------------------------------------------------

TEST(http_client, PostFormSendsMethodTargetHeadersAndBody) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")});
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/oauth2/token?tenant=a%20b"), form_body, basic_auth,
                          trusting_test_ca());
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& q = requests[0];
  EXPECT_EQ(q.method, "POST");
  EXPECT_EQ(q.target, "/oauth2/token?tenant=a%20b");
  EXPECT_EQ(q.header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(q.header("content-length"), std::to_string(form_body.size()));
  EXPECT_EQ(q.body, form_body);
  EXPECT_EQ(q.header("authorization"), basic_auth);
  EXPECT_EQ(q.header("accept"), "application/json");
  EXPECT_EQ(q.header("user-agent"), "mailbroker/0.1");
  EXPECT_EQ(q.header("connection"), "close");
  EXPECT_EQ(q.header("host"), "localhost:" + std::to_string(server.port()));
  EXPECT_EQ(q.sni, "localhost");
}

TEST(http_client, PostWithoutAuthorizationSendsNoAuthorizationHeader) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")});
  auto r = run([&] { return http_post_form(url("localhost", server.port(), "/t"), "a=1", "", trusting_test_ca()); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers.count("authorization"), 0u);
}

TEST(http_client, GetSendsNoBodyAndNoContentType) {
  https_test_server server({canned_exchange::respond(200, "application/json", R"({"issuer":"x"})")});
  auto r = run([&] {
    return http_get(url("localhost", server.port(), "/.well-known/openid-configuration"), trusting_test_ca());
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->body, R"({"issuer":"x"})");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/.well-known/openid-configuration");
  EXPECT_EQ(requests[0].body, "");
  EXPECT_EQ(requests[0].headers.count("content-type"), 0u);
  EXPECT_EQ(requests[0].headers.count("authorization"), 0u);
  EXPECT_EQ(requests[0].header("accept"), "application/json");
}

// ---- responses ---------------------------------------------------------------------

TEST(http_client, Returns200JsonBodyAndContentType) {
  const std::string json = R"({"access_token":"ya29.x","token_type":"Bearer","expires_in":3599})";
  https_test_server server({canned_exchange::respond(200, "application/json; charset=utf-8", json)});
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/token"), form_body, basic_auth, trusting_test_ca());
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "application/json; charset=utf-8");
  EXPECT_EQ(r->body, json);
}

TEST(http_client, Status400IsAResponseNotAnError) {
  const std::string json = R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})";
  https_test_server server({canned_exchange::respond(400, "application/json", json)});
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/token"), form_body, basic_auth, trusting_test_ca());
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, json);
}

TEST(http_client, MissingContentTypeGivesEmptyString) {
  https_test_server server({canned_exchange::respond(503, "", "")});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->content_type, "");
  EXPECT_EQ(r->body, "");
}

TEST(http_client, ChunkedBodyIsDechunked) {
  https_test_server server({canned_exchange::raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                                 "Transfer-Encoding: chunked\r\n\r\n"
                                                 "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n")});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->body, R"({"a":1})");
}

TEST(http_client, InterimResponseIsSkipped) {
  https_test_server server({canned_exchange::raw("HTTP/1.1 100 Continue\r\n\r\n"
                                                 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")});
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/token"), form_body, "", trusting_test_ca());
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
}

TEST(http_client, BodyAtTheLimitIsAccepted) {
  https_test_server server({canned_exchange::respond(200, "text/plain", std::string(100, 'x'))});
  auto opts = trusting_test_ca();
  opts.max_body_bytes = 100;
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), opts); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->body.size(), 100u);
}

TEST(http_client, BodyOverTheLimitIsUnavailable) {
  https_test_server server({canned_exchange::respond(200, "application/json", std::string(1000, 'x'))});
  auto opts = trusting_test_ca();
  opts.max_body_bytes = 100;
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/oauth2/token"), form_body, basic_auth, opts);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "larger than 100 bytes")) << r.err().message;
  EXPECT_TRUE(contains(r.err().message, "localhost:" + std::to_string(server.port()))) << r.err().message;
  expect_no_secrets(r.err());
}

TEST(http_client, ChunkedBodyOverTheLimitIsUnavailable) {
  const std::string chunk = "50\r\n" + std::string(0x50, 'x') + "\r\n";
  https_test_server server({canned_exchange::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
                                                 chunk + "0\r\n\r\n")});
  auto opts = trusting_test_ca();
  opts.max_body_bytes = 100;
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), opts); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "larger than 100 bytes")) << r.err().message;
}

// ---- broken servers ----------------------------------------------------------------

TEST(http_client, ServerThatNeverAnswersTimesOut) {
  https_test_server server({canned_exchange::silent()});
  auto opts = trusting_test_ca();
  opts.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/oauth2/token"), form_body, basic_auth, opts);
  });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "timed out while reading the response")) << r.err().message;
  EXPECT_TRUE(contains(r.err().message, "300 ms")) << r.err().message;
  EXPECT_TRUE(contains(r.err().message, "localhost:" + std::to_string(server.port()))) << r.err().message;
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(server.requests().size(), 1u);  // it did get the request
  expect_no_secrets(r.err());
}

TEST(http_client, StalledTlsHandshakeTimesOut) {
  // Listening but never accepting: the kernel completes the TCP handshake, nobody
  // answers the ClientHello.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  auto opts = trusting_test_ca();
  opts.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto r = run([&] { return http_get(url("127.0.0.1", port, "/"), opts); });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "timed out during the TLS handshake")) << r.err().message;
  EXPECT_LT(elapsed, 3s);
}

TEST(http_client, ServerClosingMidBodyIsUnavailable) {
  https_test_server server({canned_exchange::raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                                 "Content-Length: 100\r\n\r\n{\"access_tok")});
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/oauth2/token"), form_body, basic_auth,
                          trusting_test_ca());
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "in the middle of the response")) << r.err().message;
  EXPECT_TRUE(contains(r.err().message, "localhost:" + std::to_string(server.port()))) << r.err().message;
  expect_no_secrets(r.err());
}

TEST(http_client, ServerClosingMidChunkedBodyIsUnavailable) {
  https_test_server server({canned_exchange::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                 "10\r\n0123456789abcdef\r\n8\r\n0123")});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "in the middle of the response")) << r.err().message;
}

TEST(http_client, ServerClosingWithoutAnsweringIsUnavailable) {
  https_test_server server({canned_exchange::raw("")});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "closed the connection without answering")) << r.err().message;
}

TEST(http_client, TlsBodyEndedByCloseWithoutCloseNotifyIsRefused) {
  // No length and no chunking: only a TLS close_notify could prove the body complete.
  https_test_server server({canned_exchange::raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "in the middle of the response")) << r.err().message;
}

TEST(http_client, GarbageResponseIsUnavailable) {
  https_test_server server({canned_exchange::raw("SSH-2.0-OpenSSH_9.2\r\n\r\n")});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "malformed HTTP response")) << r.err().message;
}

TEST(http_client, HugeResponseHeaderIsUnavailable) {
  const std::string big = "X-Filler: " + std::string(max_response_header_bytes, 'f') + "\r\n";
  https_test_server server({canned_exchange::respond(200, "text/plain", "x", big)});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "response header is larger than")) << r.err().message;
}

TEST(http_client, ConnectionRefusedNamesHostAndPort) {
  const auto port = closed_port();
  auto r = run([&] {
    return http_post_form(url("127.0.0.1", port, "/oauth2/token"), form_body, basic_auth, trusting_test_ca());
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "127.0.0.1:" + std::to_string(port))) << r.err().message;
  EXPECT_TRUE(contains(r.err().message, "cannot connect")) << r.err().message;
  expect_no_secrets(r.err());
}

TEST(http_client, HttpsToAPlainHttpServerIsUnavailable) {
  https_test_server server({canned_exchange::respond(200, "text/plain", "hi")}, {.tls = false});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "TLS handshake failed")) << r.err().message;
}

// ---- certificates ------------------------------------------------------------------

TEST(http_client, IpLiteralUrlVerifiesAgainstTheIpSanWithoutSni) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")});
  auto r = run([&] { return http_get(url("127.0.0.1", server.port(), "/"), trusting_test_ca()); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].sni, "");
  EXPECT_EQ(server.requests()[0].header("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(http_client, CertificateForAnotherNameIsFailedPrecondition) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")},
                           {.cert = https_test_server::certificate::ip_only});
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/oauth2/token"), form_body, basic_auth,
                          trusting_test_ca());
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(r.err().message, "does not verify: hostname mismatch")) << r.err().message;
  EXPECT_TRUE(contains(r.err().message, "localhost:" + std::to_string(server.port()))) << r.err().message;
  EXPECT_TRUE(server.requests().empty());  // nothing was sent
  expect_no_secrets(r.err());
}

TEST(http_client, CertificateFromAnUntrustedCaIsFailedPrecondition) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")});
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), trusting(test_pki::get().other_ca_file)); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(r.err().message, "does not verify: unable to get local issuer certificate")) << r.err().message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(http_client, VerifyHostOffAcceptsACertificateForAnotherName) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")},
                           {.cert = https_test_server::certificate::ip_only});
  auto opts = trusting_test_ca();
  opts.verify_host = false;
  auto r = run([&] { return http_get(url("localhost", server.port(), "/"), opts); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].sni, "localhost");  // SNI is sent all the same
}

TEST(http_client, ContextWithoutVerificationAcceptsAnyCertificate) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")},
                           {.cert = https_test_server::certificate::ip_only});
  auto r = run([&] {
    return http_get(url("localhost", server.port(), "/"), trusting(test_pki::get().other_ca_file, false));
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
}

// ---- plain http --------------------------------------------------------------------

TEST(http_client, HttpWithoutAllowHttpIsInvalidArgument) {
  https_test_server server({canned_exchange::respond(200, "text/plain", "hi")}, {.tls = false});
  auto r = run([&] {
    return http_post_form(url("127.0.0.1", server.port(), "/token", "http"), form_body, basic_auth,
                          trusting_test_ca());
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_TRUE(contains(r.err().message, "must use https")) << r.err().message;
  EXPECT_EQ(server.connections(), 0);
}

TEST(http_client, HttpWithAllowHttpWorksWithoutTlsContext) {
  https_test_server server({canned_exchange::respond(200, "application/json", "{}")}, {.tls = false});
  http_request_options opts;
  opts.allow_http = true;
  auto r = run([&] { return http_post_form(url("127.0.0.1", server.port(), "/token", "http"), "a=1", "", opts); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->body, "{}");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].body, "a=1");
  EXPECT_EQ(server.requests()[0].header("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(http_client, PlainHttpBodyEndedByCloseIsAccepted) {
  https_test_server server({canned_exchange::raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")},
                           {.tls = false});
  http_request_options opts;
  opts.allow_http = true;
  auto r = run([&] { return http_get(url("127.0.0.1", server.port(), "/", "http"), opts); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->body, "all of it");
}

TEST(http_client, PlainServerClosingMidBodyIsUnavailable) {
  https_test_server server({canned_exchange::raw("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"access")},
                           {.tls = false});
  http_request_options opts;
  opts.allow_http = true;
  auto r = run([&] { return http_get(url("127.0.0.1", server.port(), "/", "http"), opts); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_TRUE(contains(r.err().message, "in the middle of the response")) << r.err().message;
}

// ---- refused before any I/O --------------------------------------------------------

TEST(http_client, BadUrlIsInvalidArgument) {
  auto r = run([&] { return http_get("https://exa mple.com/", trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
}

TEST(http_client, UserinfoInTheUrlIsRefused) {
  auto r = run([&] { return http_get("https://user:hunter2@localhost:1/", trusting_test_ca()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_FALSE(contains(r.err().message, "hunter2")) << r.err().message;
}

TEST(http_client, HttpsWithoutTlsContextIsInvalidArgument) {
  auto r = run([&] { return http_get("https://localhost:1/", http_request_options{}); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_TRUE(contains(r.err().message, "TLS context")) << r.err().message;
}

TEST(http_client, NonPositiveTimeoutIsInvalidArgument) {
  auto opts = trusting_test_ca();
  opts.timeout = 0ms;
  auto r = run([&] { return http_get("https://localhost:1/", opts); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
}

TEST(http_client, AuthorizationWithALineBreakIsRefused) {
  https_test_server server({canned_exchange::respond(200, "text/plain", "hi")});
  auto r = run([&] {
    return http_post_form(url("localhost", server.port(), "/token"), form_body, "Basic abc\r\nX-Injected: 1",
                          trusting_test_ca());
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_FALSE(contains(r.err().message, "Injected")) << r.err().message;
  EXPECT_EQ(server.connections(), 0);
}

}  // namespace
}  // namespace mailbroker::auth
