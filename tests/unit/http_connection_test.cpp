// net::http_connection against an in-process scripted HTTP(S) server: keep-alive reuse,
// framing, the 401 handshake loop, cookies, idle drops and re-opens, outcome-unknown
// drops, limits, timeouts, certificate failures and streaming bodies.
#include "net/http_connection.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "fakes/http_script_server.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::net {
namespace {

using mailbroker::testing::http_peer;
using mailbroker::testing::http_script_server;
using mailbroker::testing::https_test_server;
using mailbroker::testing::script_request;
using mailbroker::testing::test_pki;
using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs `body` as a coroutine on a fresh io_context until it finishes (or 10 s pass).
void run(const std::function<awaitable<void>(asio::io_context&)>& body) {
  asio::io_context io;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await body(io);
        done = true;
      },
      asio::detached);
  io.run_for(10s);
  EXPECT_TRUE(done) << "the test coroutine did not finish";
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  error_code ignored;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
}

std::shared_ptr<asio::ssl::context> context_trusting(const std::string& ca_file) {
  auto ctx = make_client_tls_context({ca_file, true});
  EXPECT_TRUE(ctx.ok()) << ctx.err().message;
  return ctx.ok() ? ctx.value() : nullptr;
}

http_connection_options fast_options() {
  http_connection_options o;
  o.tls = context_trusting(test_pki::get().ca_file);
  o.connect_timeout = 2000ms;
  o.request_timeout = 2000ms;
  o.dead_peer_timeout = 0s;
  return o;
}

http_endpoint local(std::uint16_t port, std::string host = "localhost") { return {true, std::move(host), port}; }

http_request post(std::string target, std::string body = "<soap/>") {
  http_request r;
  r.target = std::move(target);
  r.content_type = "text/xml; charset=utf-8";
  r.body = std::move(body);
  return r;
}

// Answers every request on the connection with "reply to <target>".
void echo_forever(http_peer& peer) {
  while (auto request = peer.read_request()) {
    if (!peer.write(http_script_server::response(200, "reply to " + request->target, "Content-Type: text/plain\r\n"))) {
      return;
    }
  }
}

// NTLM-like: negotiate up front, answer the server's challenge once, then send nothing
// (the connection is authenticated). Records what it was asked.
class two_leg_authenticator final : public http_authenticator {
 public:
  std::string scheme() const override { return "Fake"; }
  void reset() override {
    ++resets;
    authenticated = false;
  }
  result<std::string> authorization() override { return authenticated ? std::string() : std::string("Fake negotiate"); }
  result<std::string> respond(const std::vector<std::string>& challenges) override {
    seen = challenges;
    if (challenges.size() != 1 || challenges[0].rfind("Fake challenge-", 0) != 0) {
      return error{errc::unauthenticated, "Fake: the server refused the credentials"};
    }
    authenticated = true;
    return "Fake answer-" + challenges[0].substr(15);
  }
  int resets = 0;
  bool authenticated = false;
  std::vector<std::string> seen;
};

// ---- keep-alive and framing ----------------------------------------------------------

TEST(HttpConnection, ManyRequestsShareOneTcpConnection) {
  http_script_server server(echo_forever);
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto report = co_await conn.open();
    EXPECT_TRUE(report.ok()) << report.err().message;
    if (report.ok()) {
      EXPECT_EQ(report->peer_address, "127.0.0.1");
      EXPECT_FALSE(report->tls_version.empty());
      EXPECT_EQ(report->cert_subject, "CN=localhost");
      EXPECT_TRUE(report->cert_not_after.has_value());
      if (report->cert_not_after) { EXPECT_GT(*report->cert_not_after, std::chrono::system_clock::now()); }
    }
    for (int i = 0; i < 5; ++i) {
      auto response = co_await conn.send(post("/r" + std::to_string(i)));
      EXPECT_TRUE(response.ok()) << response.err().message;
      if (!response.ok()) co_return;
      EXPECT_EQ(response->status, 200);
      EXPECT_EQ(response->body, "reply to /r" + std::to_string(i));
      EXPECT_EQ(response->header("content-type"), "text/plain");
    }
    EXPECT_EQ(conn.requests_sent(), 5u);
    EXPECT_GT(conn.bytes_in(), 0u);
    EXPECT_GT(conn.bytes_out(), 0u);
    EXPECT_TRUE(conn.is_open());
  });
  EXPECT_EQ(server.connections(), 1);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].body, "<soap/>");
  EXPECT_EQ(requests[0].header("host"), "localhost:" + std::to_string(server.port()));
  EXPECT_EQ(requests[0].header("connection"), "keep-alive");
  EXPECT_EQ(requests[0].header("user-agent"), "mailbroker/0.1");
  EXPECT_EQ(requests[0].header("content-type"), "text/xml; charset=utf-8");
  EXPECT_EQ(requests[0].header("content-length"), "7");
  EXPECT_FALSE(requests[0].has("authorization"));
}

TEST(HttpConnection, SendOpensWhenNotOpenAndPlainHttpWorks) {
  http_script_server::options plain;
  plain.tls = false;
  http_script_server server(echo_forever, plain);
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), {false, "127.0.0.1", server.port()}, fast_options(), nullptr);
    http_request get;
    get.method = "GET";
    get.target = "/x?y=1";
    auto response = co_await conn.send(get);
    EXPECT_TRUE(response.ok()) << response.err().message;
    if (response.ok()) { EXPECT_EQ(response->body, "reply to /x?y=1"); }
  });
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_FALSE(server.requests()[0].has("content-length"));  // a GET without a body
}

TEST(HttpConnection, ChunkedResponseIsDechunkedAndTheConnectionStays) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write(http_script_server::chunked_response(200, {"<a>", std::string(5000, 'x'), "</a>"}));
    echo_forever(peer);
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto first = co_await conn.send(post("/chunked"));
    EXPECT_TRUE(first.ok()) << first.err().message;
    if (first.ok()) { EXPECT_EQ(first->body, "<a>" + std::string(5000, 'x') + "</a>"); }
    auto second = co_await conn.send(post("/after"));
    EXPECT_TRUE(second.ok()) << second.err().message;
    if (second.ok()) { EXPECT_EQ(second->body, "reply to /after"); }
  });
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpConnection, InterimResponseIsSkippedAndRepeatedHeadersAreKept) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write("HTTP/1.1 100 Continue\r\n\r\n" +
               http_script_server::response(500, "oops", "X-Multi: one\r\nx-multi: two\r\n"));
    peer.wait_for_client_close();
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_TRUE(response.ok()) << response.err().message;
    if (!response.ok()) co_return;
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->body, "oops");
    EXPECT_EQ(response->headers_named("X-MULTI"), (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(response->header("x-absent"), "");
  });
}

TEST(HttpConnection, ConnectionCloseResponseMakesTheNextSendOpenAgain) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write(http_script_server::response(200, "bye", "Connection: close\r\n"));
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    bool lost = false;
    conn.set_on_lost([&](error) { lost = true; });
    auto first = co_await conn.send(post("/1"));
    EXPECT_TRUE(first.ok()) << first.err().message;
    EXPECT_FALSE(conn.is_open());
    auto second = co_await conn.send(post("/2"));
    EXPECT_TRUE(second.ok()) << second.err().message;
    EXPECT_FALSE(lost) << "a Connection: close answer is not a lost connection";
  });
  EXPECT_EQ(server.connections(), 2);
}

// ---- authentication ----------------------------------------------------------------

TEST(HttpConnection, ChallengeIsAnsweredOnTheSameConnection) {
  http_script_server server([](http_peer& peer) {
    auto first = peer.read_request();
    if (!first) return;
    peer.write(http_script_server::response(401, "denied", "WWW-Authenticate: Fake challenge-42\r\n"));
    auto second = peer.read_request();
    if (!second) return;
    const bool answered = second->header("authorization") == "Fake answer-42";
    peer.write(http_script_server::response(answered ? 200 : 403, answered ? "in" : "no"));
    echo_forever(peer);
  });
  auto auth = std::make_shared<two_leg_authenticator>();
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), auth);
    auto response = co_await conn.send(post("/EWS/Exchange.asmx"));
    EXPECT_TRUE(response.ok()) << response.err().message;
    if (response.ok()) {
      EXPECT_EQ(response->status, 200);
      EXPECT_EQ(response->body, "in");
    }
    auto third = co_await conn.send(post("/EWS/Exchange.asmx"));
    EXPECT_TRUE(third.ok()) << third.err().message;
    if (third.ok()) { EXPECT_EQ(third->status, 200); }
    EXPECT_EQ(conn.requests_sent(), 3u);
  });
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(auth->resets, 1);
  EXPECT_EQ(auth->seen, std::vector<std::string>{"Fake challenge-42"});
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].header("authorization"), "Fake negotiate");
  EXPECT_EQ(requests[1].header("authorization"), "Fake answer-42");
  EXPECT_EQ(requests[1].body, "<soap/>");  // the same request, re-sent whole
  EXPECT_FALSE(requests[2].has("authorization"));
}

TEST(HttpConnection, RefusedChallengeIsUnauthenticatedWithoutSecrets) {
  http_script_server server([](http_peer& peer) {
    while (peer.read_request()) {
      peer.write(http_script_server::response(401, "", "WWW-Authenticate: Basic realm=\"x\"\r\n"));
    }
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(),
                         make_basic_authenticator("user", "hunter2"));
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (response.ok()) co_return;
    EXPECT_EQ(response.err().code, errc::unauthenticated);
    EXPECT_TRUE(contains(response.err().message, "Basic")) << response.err().message;
    EXPECT_FALSE(contains(response.err().message, "hunter2"));
  });
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpConnection, BasicHeaderIsUtf8UserColonPasswordInBase64) {
  http_script_server server(echo_forever);
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(),
                         make_basic_authenticator("CONTOSO\\user", "p\xc3\xa4ssword"));
    auto response = co_await conn.send(post("/"));
    EXPECT_TRUE(response.ok()) << response.err().message;
  });
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].header("authorization"), "Basic Q09OVE9TT1x1c2VyOnDDpHNzd29yZA==");
}

TEST(HttpConnection, BearerTokenIsAskedForEveryRequest) {
  http_script_server server(echo_forever);
  int calls = 0;
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(),
                         make_bearer_authenticator([&]() -> result<std::string> { return "tok" + std::to_string(++calls); }));
    co_await conn.send(post("/a"));
    co_await conn.send(post("/b"));
  });
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[0].header("authorization"), "Bearer tok1");
  EXPECT_EQ(server.requests()[1].header("authorization"), "Bearer tok2");
}

TEST(HttpConnection, BasicUserWithColonIsRefusedBeforeAnythingIsSent) {
  http_script_server server(echo_forever);
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), make_basic_authenticator("a:b", "pw"));
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (!response.ok()) { EXPECT_EQ(response.err().code, errc::invalid_argument); }
  });
  EXPECT_TRUE(server.requests().empty());
}

// ---- cookies -------------------------------------------------------------------------

TEST(HttpConnection, SetCookieIsKeptAndSentBack) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write(http_script_server::response(
        200, "1",
        "Set-Cookie: X-BackEndCookie=S-1-5-21=u:abc; path=/EWS; secure; HttpOnly\r\n"
        "Set-Cookie: exchangecookie=e1; expires=Fri, 01-Jan-2100 00:00:00 GMT; path=/\r\n"));
    if (!peer.read_request()) return;
    peer.write(http_script_server::response(200, "2", "Set-Cookie: exchangecookie=gone; Max-Age=0; path=/\r\n"));
    echo_forever(peer);
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    co_await conn.send(post("/EWS/Exchange.asmx"));
    co_await conn.send(post("/EWS/Exchange.asmx"));
    co_await conn.send(post("/EWS/Exchange.asmx"));
    co_await conn.send(post("/owa/"));  // outside /EWS
  });
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_FALSE(requests[0].has("cookie"));
  EXPECT_EQ(requests[1].header("cookie"), "X-BackEndCookie=S-1-5-21=u:abc; exchangecookie=e1");
  EXPECT_EQ(requests[2].header("cookie"), "X-BackEndCookie=S-1-5-21=u:abc");
  EXPECT_FALSE(requests[3].has("cookie"));
}

// ---- drops -------------------------------------------------------------------------

TEST(HttpConnection, IdleConnectionClosedByTheServerIsReportedAndReopened) {
  http_script_server server([](http_peer& peer) {
    if (peer.connection() == 1) {
      if (peer.read_request()) peer.write(http_script_server::response(200, "first"));
      return;  // closes the idle keep-alive connection
    }
    echo_forever(peer);
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    std::optional<error> lost;
    conn.set_on_lost([&](error e) { lost = std::move(e); });
    auto first = co_await conn.send(post("/1"));
    EXPECT_TRUE(first.ok()) << first.err().message;
    for (int i = 0; i < 200 && !lost; ++i) co_await sleep_for(5ms);
    EXPECT_TRUE(lost.has_value()) << "the idle drop was not noticed";
    if (lost) {
      EXPECT_EQ(lost->code, errc::unavailable);
      EXPECT_TRUE(contains(lost->message, "closed the idle connection")) << lost->message;
    }
    EXPECT_FALSE(conn.is_open());
    auto second = co_await conn.send(post("/2"));
    EXPECT_TRUE(second.ok()) << second.err().message;
    if (second.ok()) { EXPECT_EQ(second->body, "reply to /2"); }
  });
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpConnection, DropAfterTheRequestWasWrittenIsAborted) {
  http_script_server server([](http_peer& peer) { peer.read_request(); });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (response.ok()) co_return;
    EXPECT_EQ(response.err().code, errc::aborted) << response.err().message;
    EXPECT_TRUE(contains(response.err().message, "outcome is unknown")) << response.err().message;
    EXPECT_TRUE(contains(response.err().message, "https://localhost:")) << response.err().message;
    EXPECT_FALSE(conn.is_open());
  });
  EXPECT_EQ(server.connections(), 1) << "a written request is never re-sent";
}

TEST(HttpConnection, DropInTheMiddleOfTheBodyIsAborted) {
  http_script_server server([](http_peer& peer) {
    if (peer.read_request()) peer.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (!response.ok()) { EXPECT_EQ(response.err().code, errc::aborted) << response.err().message; }
  });
}

TEST(HttpConnection, BodyDelimitedByTheCloseIsComplete) {
  http_script_server server([](http_peer& peer) {
    if (peer.read_request()) peer.write("HTTP/1.1 200 OK\r\n\r\nuntil the end");
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_TRUE(response.ok()) << response.err().message;
    if (response.ok()) { EXPECT_EQ(response->body, "until the end"); }
    EXPECT_FALSE(conn.is_open());
  });
}

// ---- limits and timeouts -----------------------------------------------------------

TEST(HttpConnection, ContentLengthOverTheLimitIsRefusedBeforeTheBody) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write("HTTP/1.1 200 OK\r\nContent-Length: 16777216\r\n\r\n");
    peer.flood(std::string(1024, 'a'), 16 * 1024);
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    auto options = fast_options();
    options.max_body_bytes = 64 * 1024;
    http_connection conn(io.get_executor(), local(server.port()), options, nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (!response.ok()) {
      EXPECT_EQ(response.err().code, errc::unavailable);
      EXPECT_TRUE(contains(response.err().message, "max_body_bytes")) << response.err().message;
    }
    EXPECT_LT(conn.bytes_in(), 128u * 1024) << "the read went on past the limit";
    EXPECT_FALSE(conn.is_open());
  });
}

TEST(HttpConnection, ChunkedBodyOverTheLimitStopsTheRead) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    peer.flood("400\r\n" + std::string(1024, 'a') + "\r\n", 16 * 1024);  // 16 MiB
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    auto options = fast_options();
    options.max_body_bytes = 64 * 1024;
    http_connection conn(io.get_executor(), local(server.port()), options, nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (!response.ok()) { EXPECT_EQ(response.err().code, errc::unavailable) << response.err().message; }
    EXPECT_LT(conn.bytes_in(), 64u * 1024 + 32 * 1024) << "the read went on past the limit";
  });
}

TEST(HttpConnection, HeaderFloodIsUnavailable) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write("HTTP/1.1 200 OK\r\n");
    peer.flood("X-Flood: 0123456789\r\n", 1 << 20);
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (!response.ok()) {
      EXPECT_EQ(response.err().code, errc::unavailable);
      EXPECT_TRUE(contains(response.err().message, "header")) << response.err().message;
    }
    EXPECT_LT(conn.bytes_in(), 64u * 1024 + 32 * 1024);
  });
}

TEST(HttpConnection, TooManyTinyHeaderFieldsAreUnavailable) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    std::string fields;
    for (int i = 0; i < 300; ++i) fields += "a: b\r\n";
    peer.write(http_script_server::response(200, "x", fields));
    peer.wait_for_client_close();
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (!response.ok()) { EXPECT_EQ(response.err().code, errc::unavailable) << response.err().message; }
  });
}

TEST(HttpConnection, GarbageResponseIsUnavailable) {
  http_script_server server([](http_peer& peer) {
    if (peer.read_request()) peer.write("SMTP ready\r\n\r\n");
    peer.wait_for_client_close();
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (!response.ok()) {
      EXPECT_EQ(response.err().code, errc::unavailable);
      EXPECT_TRUE(contains(response.err().message, "malformed")) << response.err().message;
      EXPECT_FALSE(contains(response.err().message, "SMTP")) << "server bytes must not be echoed";
    }
  });
}

TEST(HttpConnection, StalledServerIsDeadlineExceededWithinTheTimeout) {
  http_script_server server([](http_peer& peer) {
    peer.read_request();
    peer.wait_for_client_close();
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    auto options = fast_options();
    options.request_timeout = 200ms;
    http_connection conn(io.get_executor(), local(server.port()), options, nullptr);
    auto opened = co_await conn.open();
    EXPECT_TRUE(opened.ok()) << opened.err().message;
    const auto started = std::chrono::steady_clock::now();
    auto response = co_await conn.send(post("/"));
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_FALSE(response.ok());
    if (!response.ok()) { EXPECT_EQ(response.err().code, errc::deadline_exceeded) << response.err().message; }
    EXPECT_GE(took, 190ms);
    EXPECT_LT(took, 700ms);
  });
}

// ---- certificates ------------------------------------------------------------------

TEST(HttpConnection, CertificateFromAnotherCaIsFailedPrecondition) {
  http_script_server server(echo_forever);
  run([&](asio::io_context& io) -> awaitable<void> {
    auto options = fast_options();
    options.tls = context_trusting(test_pki::get().other_ca_file);
    http_connection conn(io.get_executor(), local(server.port()), options, nullptr);
    auto response = co_await conn.send(post("/"));
    EXPECT_FALSE(response.ok());
    if (response.ok()) co_return;
    EXPECT_EQ(response.err().code, errc::failed_precondition) << response.err().message;
    EXPECT_TRUE(contains(response.err().message, "certificate")) << response.err().message;
  });
  EXPECT_TRUE(server.requests().empty());
}

TEST(HttpConnection, CertificateForAnotherHostIsFailedPrecondition) {
  http_script_server::options ip_only;
  ip_only.cert = https_test_server::certificate::ip_only;
  http_script_server server(echo_forever, ip_only);
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port(), "localhost"), fast_options(), nullptr);
    auto opened = co_await conn.open();
    EXPECT_FALSE(opened.ok());
    if (!opened.ok()) { EXPECT_EQ(opened.err().code, errc::failed_precondition) << opened.err().message; }
    // The same certificate is fine for its own name when the host check is asked for.
    http_connection by_ip(io.get_executor(), local(server.port(), "127.0.0.1"), fast_options(), nullptr);
    auto ok = co_await by_ip.open();
    EXPECT_TRUE(ok.ok()) << ok.err().message;
  });
}

// ---- requests refused before the network ---------------------------------------------

TEST(HttpConnection, HeaderInjectionIsRefusedBeforeConnecting) {
  http_script_server server(echo_forever);
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    auto request = post("/");
    request.headers.push_back({"X-Anchor", "a\r\nX-Evil: 1"});
    auto response = co_await conn.send(request);
    EXPECT_FALSE(response.ok());
    if (response.ok()) co_return;
    EXPECT_EQ(response.err().code, errc::invalid_argument);
    EXPECT_FALSE(contains(response.err().message, "Evil"));
  });
  EXPECT_EQ(server.connections(), 0);
}

// ---- streaming -----------------------------------------------------------------------

TEST(HttpConnection, StreamingDeliversPiecesAsTheyArrive) {
  std::promise<void> first_seen;
  auto first_seen_future = first_seen.get_future();
  std::atomic<bool> waited{false};
  http_script_server server([&](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n<doc1/>\r\n");
    // The second document only once the client has the first: it cannot have waited
    // for the end of the response.
    waited = first_seen_future.wait_for(3s) == std::future_status::ready;
    peer.write("7\r\n<doc2/>\r\n0\r\n\r\n");
    echo_forever(peer);
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    std::vector<std::string> pieces;
    auto response = co_await conn.send_streaming(post("/EWS/Exchange.asmx"), [&](std::string_view piece) {
      if (pieces.empty()) first_seen.set_value();
      pieces.emplace_back(piece);
      return true;
    });
    EXPECT_TRUE(response.ok()) << response.err().message;
    if (!response.ok()) co_return;
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(response->body.empty());
    EXPECT_EQ(pieces, (std::vector<std::string>{"<doc1/>", "<doc2/>"}));
    auto after = co_await conn.send(post("/after"));  // the connection stays usable
    EXPECT_TRUE(after.ok()) << after.err().message;
  });
  EXPECT_TRUE(waited.load());
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpConnection, StreamingStopsWhenTheSinkSaysSo) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n<doc1/>\r\n");
    peer.wait_for_client_close();
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    int calls = 0;
    auto response = co_await conn.send_streaming(post("/"), [&](std::string_view) {
      ++calls;
      return false;
    });
    EXPECT_TRUE(response.ok()) << response.err().message;
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(conn.is_open());
  });
}

TEST(HttpConnection, StreamingHandsAnErrorStatusBackWholeInsteadOfToTheSink) {
  http_script_server server([](http_peer& peer) {
    if (peer.read_request()) peer.write(http_script_server::response(500, "<fault/>"));
    echo_forever(peer);
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    http_connection conn(io.get_executor(), local(server.port()), fast_options(), nullptr);
    int calls = 0;
    auto response = co_await conn.send_streaming(post("/"), [&](std::string_view) {
      ++calls;
      return true;
    });
    EXPECT_TRUE(response.ok()) << response.err().message;
    if (response.ok()) {
      EXPECT_EQ(response->status, 500);
      EXPECT_EQ(response->body, "<fault/>");
    }
    EXPECT_EQ(calls, 0);
  });
}

TEST(HttpConnection, StreamingGapLongerThanTheTimeoutIsDeadlineExceeded) {
  http_script_server server([](http_peer& peer) {
    if (!peer.read_request()) return;
    peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n<doc1/>\r\n");
    peer.wait_for_client_close();
  });
  run([&](asio::io_context& io) -> awaitable<void> {
    auto options = fast_options();
    options.request_timeout = 150ms;
    http_connection conn(io.get_executor(), local(server.port()), options, nullptr);
    int calls = 0;
    auto response = co_await conn.send_streaming(post("/"), [&](std::string_view) {
      ++calls;
      return true;
    });
    EXPECT_FALSE(response.ok());
    if (!response.ok()) { EXPECT_EQ(response.err().code, errc::deadline_exceeded) << response.err().message; }
    EXPECT_EQ(calls, 1);
  });
}

TEST(HttpConnection, ParseHttpUrlGivesEndpointAndTarget) {
  auto url = parse_http_url("https://Mail.Example.com:8443/EWS/Exchange.asmx?x=1");
  ASSERT_TRUE(url.ok()) << url.err().message;
  EXPECT_TRUE(url->endpoint.tls);
  EXPECT_EQ(url->endpoint.host, "mail.example.com");
  EXPECT_EQ(url->endpoint.port, 8443);
  EXPECT_EQ(url->target, "/EWS/Exchange.asmx?x=1");
  EXPECT_EQ(url->endpoint.origin(), "https://mail.example.com:8443");
  auto with_password = parse_http_url("https://user:secret@host/");
  ASSERT_FALSE(with_password.ok());
  EXPECT_EQ(with_password.err().code, errc::invalid_argument);
  EXPECT_FALSE(contains(with_password.err().message, "secret"));
  EXPECT_FALSE(parse_http_url("http://host/").ok());
  EXPECT_TRUE(parse_http_url("http://host/", true).ok());
}

}  // namespace
}  // namespace mailbroker::net
