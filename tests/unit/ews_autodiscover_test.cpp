// POX Autodiscover: the pure rules (autodiscover_policy.hpp: the address's domain, the
// candidates in Microsoft's order, redirect targets, which EWS hosts may get the
// credentials) and discover_ews_url() against an in-process HTTPS server whose
// certificate names example.test, autodiscover.example.test, mail.example.test and the
// same under other.test; the connect_to hook sends those names to 127.0.0.1 while SNI,
// the certificate check and Host keep them.
#include "protocol/ews/autodiscover_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/http_script_server.hpp"
#include "net/http_authenticators.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::ews {
namespace {

using mailbroker::testing::http_peer;
using mailbroker::testing::http_script_server;
using mailbroker::testing::https_test_server;
using mailbroker::testing::script_request;
using mailbroker::testing::test_pki;
using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- pure rules ------------------------------------------------------------------------

TEST(EwsAutodiscoverPolicy, MailDomainOfAnAddress) {
  EXPECT_EQ(mail_domain_of("alice@Example.Test").value(), "example.test");
  EXPECT_EQ(mail_domain_of("\"a@b\"@example.test.").value(), "example.test");  // the last '@'; trailing dot
  EXPECT_EQ(mail_domain_of("x@xn--bcher-kva.test").value(), "xn--bcher-kva.test");
  struct bad_case {
    const char* email;
    const char* says;
  };
  for (const bad_case& c : std::vector<bad_case>{{"alice", "no '@'"},
                                                 {"alice@", "no domain"},
                                                 {"alice@.", "no domain"},
                                                 {"alice@[192.0.2.1]", "address literal"},
                                                 {"alice@host:8443", "letters, digits"},
                                                 {"alice@exa mple.test", "letters, digits"},
                                                 {"alice@a..b", "empty label"},
                                                 {"alice@.a", "empty label"},
                                                 {"alice@b\xc3\xbc" "cher.test", "letters, digits"}}) {
    auto d = mail_domain_of(c.email);
    ASSERT_FALSE(d.ok()) << c.email;
    EXPECT_EQ(d.err().code, errc::invalid_argument) << c.email;
    EXPECT_TRUE(contains(d.err().message, "email")) << d.err().message;
    EXPECT_TRUE(contains(d.err().message, c.says)) << d.err().message;
  }
  auto long_domain = mail_domain_of("a@" + std::string(250, 'a') + ".test");
  ASSERT_FALSE(long_domain.ok());
  EXPECT_TRUE(contains(long_domain.err().message, "253")) << long_domain.err().message;
}

TEST(EwsAutodiscoverPolicy, CandidatesInMicrosoftsOrder) {
  EXPECT_EQ(autodiscover_candidates("contoso.com"),
            (std::vector<std::string>{"https://contoso.com/autodiscover/autodiscover.xml",
                                      "https://autodiscover.contoso.com/autodiscover/autodiscover.xml"}));
}

TEST(EwsAutodiscoverPolicy, HostWithinADomain) {
  EXPECT_TRUE(host_within("example.com", "example.com"));
  EXPECT_TRUE(host_within("mail.example.com", "example.com"));
  EXPECT_TRUE(host_within("a.b.Example.COM.", "example.com"));
  EXPECT_TRUE(host_within("mail.example.com", "example.com."));
  EXPECT_FALSE(host_within("badexample.com", "example.com"));
  EXPECT_FALSE(host_within("example.com.evil.net", "example.com"));
  EXPECT_FALSE(host_within("com", "example.com"));
  EXPECT_FALSE(host_within("example.com", ""));
  EXPECT_FALSE(host_within(".example.com", "example.com.x"));
}

TEST(EwsAutodiscoverPolicy, EwsUrlMustBeHttpsInTheMailDomainOrUnderTheAnsweringHost) {
  ews_url_trust trust;
  trust.mail_domains = {"example.test", "other.test"};
  trust.autodiscover_host = "ad.hoster.test";
  for (const char* good : {"https://mail.example.test/EWS/Exchange.asmx", "https://example.test/EWS/Exchange.asmx",
                           "https://EXCH01.Example.Test:8443/EWS/Exchange.asmx", "https://mail.other.test/ews",
                           "https://ad.hoster.test/EWS/Exchange.asmx", "https://ews.ad.hoster.test/EWS/Exchange.asmx"}) {
    auto v = vet_ews_url(good, trust);
    ASSERT_TRUE(v.ok()) << good << ": " << v.err().message;
    EXPECT_EQ(v.value(), good);
  }
  struct bad_case {
    const char* url;
    const char* says;
  };
  for (const bad_case& c : std::vector<bad_case>{
           {"https://evil.test/EWS/Exchange.asmx", "EWS host evil.test"},
           {"https://badexample.test/EWS/Exchange.asmx", "EWS host badexample.test"},
           {"https://example.test.evil.test/EWS/Exchange.asmx", "EWS host example.test.evil.test"},
           {"https://hoster.test/EWS/Exchange.asmx", "EWS host hoster.test"},  // the parent of the answering host
           {"https://127.0.0.1/EWS/Exchange.asmx", "EWS host 127.0.0.1"},
           {"http://mail.example.test/EWS/Exchange.asmx", "http://"},
           {"HTTP://mail.example.test/EWS/Exchange.asmx", "http://"},
           {"https://alice:hunter2@mail.example.test/EWS/Exchange.asmx", "userinfo"},
           {"ftp://mail.example.test/", "not a valid https URL"},
           {"mail.example.test/EWS", "not a valid https URL"}}) {
    auto v = vet_ews_url(c.url, trust);
    ASSERT_FALSE(v.ok()) << c.url;
    EXPECT_EQ(v.err().code, errc::failed_precondition) << c.url;
    EXPECT_TRUE(contains(v.err().message, c.says)) << v.err().message;
    EXPECT_TRUE(contains(v.err().message, "spec.ews.url")) << v.err().message;
    EXPECT_FALSE(contains(v.err().message, "hunter2")) << v.err().message;
  }
  // The rule names both trusted places.
  auto foreign = vet_ews_url("https://evil.test/x", trust);
  EXPECT_TRUE(contains(foreign.err().message, "example.test, other.test")) << foreign.err().message;
  EXPECT_TRUE(contains(foreign.err().message, "ad.hoster.test")) << foreign.err().message;
}

TEST(EwsAutodiscoverPolicy, RedirectTargets) {
  const std::string base = "https://example.test/autodiscover/autodiscover.xml";
  EXPECT_EQ(resolve_redirect("https://autodiscover.example.test/autodiscover/autodiscover.xml", base).value(),
            "https://autodiscover.example.test/autodiscover/autodiscover.xml");
  EXPECT_EQ(resolve_redirect("/other/autodiscover.xml?x=1", base).value(), "https://example.test/other/autodiscover.xml?x=1");
  EXPECT_EQ(resolve_redirect("/a", "https://example.test:8443/b").value(), "https://example.test:8443/a");
  EXPECT_EQ(resolve_redirect("/a", "https://[::1]:8443/b").value(), "https://[::1]:8443/a");
  struct bad_case {
    const char* location;
    const char* says;
  };
  for (const bad_case& c : std::vector<bad_case>{{"", "without a target"},
                                                 {"http://example.test/autodiscover/autodiscover.xml", "https only"},
                                                 {"Http://example.test/", "https only"},
                                                 {"//evil.test/x", "scheme-relative"},
                                                 {"ftp://example.test/x", "neither an https URL nor a /path"},
                                                 {"autodiscover.xml", "neither an https URL nor a /path"},
                                                 {"https://u:hunter2@evil.test/x", "userinfo"},
                                                 {"https://evil test/x", "not a valid https URL"}}) {
    auto r = resolve_redirect(c.location, base);
    ASSERT_FALSE(r.ok()) << c.location;
    EXPECT_EQ(r.err().code, errc::failed_precondition) << c.location;
    EXPECT_TRUE(contains(r.err().message, c.says)) << r.err().message;
    EXPECT_FALSE(contains(r.err().message, "hunter2")) << r.err().message;
  }
}

// ---- discover_ews_url over HTTPS -----------------------------------------------------------

std::string autodiscover_xml(const std::string& account) {
  return R"(<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">)"
         R"(<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">)" +
         account + "</Response></Autodiscover>";
}
std::string ews_answer(const std::string& url) {
  return autodiscover_xml("<Account><AccountType>email</AccountType><Action>settings</Action><Protocol><Type>EXPR</Type>"
                          "<EwsUrl>" + url + "</EwsUrl></Protocol></Account>");
}
std::string redirect_url_answer(const std::string& url) {
  return autodiscover_xml("<Account><AccountType>email</AccountType><Action>redirectUrl</Action><RedirectUrl>" + url +
                          "</RedirectUrl></Account>");
}
std::string redirect_addr_answer(const std::string& address) {
  return autodiscover_xml("<Account><AccountType>email</AccountType><Action>redirectAddr</Action><RedirectAddr>" +
                          address + "</RedirectAddr></Account>");
}
std::string error_answer(const std::string& code, const std::string& message) {
  return R"(<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response>)"
         R"(<Error Time="10:00:00" Id="1"><ErrorCode>)" + code + "</ErrorCode><Message>" + message +
         "</Message><DebugData /></Error></Response></Autodiscover>";
}

std::string ok_xml(const std::string& body) {
  return http_script_server::response(200, body, "Content-Type: text/xml; charset=utf-8\r\n");
}

// An HTTPS server for every name of the test certificate: `answer` gets each request
// (its Host header says which name the client meant) and returns the raw response.
class autodiscover_server {
 public:
  explicit autodiscover_server(std::function<std::string(const script_request&)> answer)
      : answer_(std::move(answer)),
        server_(
            [this](http_peer& peer) {
              while (auto request = peer.read_request()) {
                if (!peer.write(answer_(*request))) return;
              }
            },
            {true, https_test_server::certificate::example_names}) {}

  std::uint16_t port() const { return server_.port(); }
  std::vector<script_request> requests() const { return server_.requests(); }

 private:
  std::function<std::string(const script_request&)> answer_;
  http_script_server server_;
};

// A loopback port nothing listens on.
std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

struct fixture {
  discovery_options options;
  std::vector<std::string> auth_asked;  // "host:port" per authenticator made

  // Every name on port 443 goes to `port`, except the names in `elsewhere`.
  explicit fixture(std::uint16_t port, std::map<std::string, std::uint16_t> elsewhere = {}) {
    auto ctx = net::make_client_tls_context({test_pki::get().ca_file, true});
    EXPECT_TRUE(ctx.ok()) << ctx.err().message;
    options.tls = ctx.ok() ? ctx.value() : nullptr;
    options.connect_timeout = 2000ms;
    options.request_timeout = 2000ms;
    options.total_timeout = 8000ms;
    options.authenticator = [this](const net::http_endpoint& where) -> result<std::shared_ptr<net::http_authenticator>> {
      auth_asked.push_back(where.authority());
      return net::make_basic_authenticator("alice", "hunter2");
    };
    options.connect_to = [port, elsewhere](const std::string& host,
                                           std::uint16_t wanted) -> std::optional<net::http_endpoint> {
      auto it = elsewhere.find(host);
      return net::http_endpoint{true, "127.0.0.1", it != elsewhere.end() ? it->second : (wanted == 443 ? port : wanted)};
    };
  }
};

// Runs discover_ews_url to completion on a fresh io_context.
result<discovery> discover(std::string email, discovery_options options) {
  asio::io_context io;
  std::optional<result<discovery>> out;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        out.emplace(co_await discover_ews_url(std::move(email), std::move(options)));
      },
      asio::detached);
  io.run_for(15s);
  if (!out) return error{errc::internal, "discover_ews_url did not finish"};
  return std::move(*out);
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(EwsAutodiscoverClient, SucceedsOnTheFirstCandidate) {
  autodiscover_server server([](const script_request& r) {
    if (r.header("host") == "example.test") return ok_xml(ews_answer("https://mail.example.test/EWS/Exchange.asmx"));
    return http_script_server::response(404, "no");
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_TRUE(found.ok()) << found.err().message;
  EXPECT_EQ(found->ews_url, "https://mail.example.test/EWS/Exchange.asmx");
  ASSERT_EQ(found->tried.size(), 1u);
  EXPECT_EQ(found->tried[0],
            "https://example.test/autodiscover/autodiscover.xml: EwsUrl https://mail.example.test/EWS/Exchange.asmx");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/autodiscover/autodiscover.xml");
  EXPECT_EQ(requests[0].header("host"), "example.test");  // the name, not 127.0.0.1
  EXPECT_EQ(requests[0].header("content-type"), "text/xml; charset=utf-8");
  EXPECT_TRUE(contains(requests[0].header("authorization"), "Basic ")) << "Autodiscover asks for credentials";
  EXPECT_TRUE(contains(requests[0].body, "<EMailAddress>alice@example.test</EMailAddress>")) << requests[0].body;
  EXPECT_EQ(f.auth_asked, std::vector<std::string>{"example.test:443"});
}

TEST(EwsAutodiscoverClient, FallsBackToTheSecondCandidate) {
  autodiscover_server server([](const script_request& r) {
    if (r.header("host") == "autodiscover.example.test") {
      return ok_xml(ews_answer("https://mail.example.test/EWS/Exchange.asmx"));
    }
    return http_script_server::response(500, "unexpected");
  });
  fixture f(server.port(), {{"example.test", closed_port()}});
  auto found = discover("alice@example.test", f.options);
  ASSERT_TRUE(found.ok()) << found.err().message;
  EXPECT_EQ(found->ews_url, "https://mail.example.test/EWS/Exchange.asmx");
  ASSERT_EQ(found->tried.size(), 2u) << joined(found->tried);
  EXPECT_TRUE(contains(found->tried[0], "https://example.test/autodiscover/autodiscover.xml: UNAVAILABLE: "))
      << found->tried[0];
  EXPECT_TRUE(contains(found->tried[1], "https://autodiscover.example.test/autodiscover/autodiscover.xml: EwsUrl "))
      << found->tried[1];
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].header("host"), "autodiscover.example.test");
}

TEST(EwsAutodiscoverClient, RedirectAddrStartsOverWithTheNewAddress) {
  autodiscover_server server([](const script_request& r) {
    if (r.header("host") == "example.test") return ok_xml(redirect_addr_answer("bob@other.test"));
    if (r.header("host") == "other.test") return ok_xml(ews_answer("https://mail.other.test/EWS/Exchange.asmx"));
    return http_script_server::response(404, "no");
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_TRUE(found.ok()) << found.err().message;
  EXPECT_EQ(found->ews_url, "https://mail.other.test/EWS/Exchange.asmx");  // under the redirectAddr's domain
  ASSERT_EQ(found->tried.size(), 2u) << joined(found->tried);
  EXPECT_EQ(found->tried[0], "https://example.test/autodiscover/autodiscover.xml: redirectAddr to bob@other.test");
  EXPECT_EQ(found->tried[1],
            "https://other.test/autodiscover/autodiscover.xml (for bob@other.test): EwsUrl "
            "https://mail.other.test/EWS/Exchange.asmx");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].header("host"), "other.test");
  EXPECT_TRUE(contains(requests[1].body, "<EMailAddress>bob@other.test</EMailAddress>")) << requests[1].body;
}

TEST(EwsAutodiscoverClient, FollowsRedirectUrlAndHttpsRedirects) {
  autodiscover_server server([](const script_request& r) {
    const std::string host = r.header("host");
    if (host == "example.test") {
      return ok_xml(redirect_url_answer("https://mail.example.test/autodiscover/autodiscover.xml?step=2"));
    }
    if (host == "mail.example.test" && r.target == "/autodiscover/autodiscover.xml?step=2") {
      return http_script_server::response(302, "", "Location: /autodiscover/final.xml\r\n");
    }
    if (host == "mail.example.test" && r.target == "/autodiscover/final.xml") {
      return ok_xml(ews_answer("https://exch01.example.test/EWS/Exchange.asmx"));
    }
    return http_script_server::response(404, "no");
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_TRUE(found.ok()) << found.err().message;
  EXPECT_EQ(found->ews_url, "https://exch01.example.test/EWS/Exchange.asmx");
  ASSERT_EQ(found->tried.size(), 3u) << joined(found->tried);
  EXPECT_TRUE(contains(found->tried[0], "redirectUrl to https://mail.example.test/autodiscover/autodiscover.xml?step=2"));
  EXPECT_TRUE(contains(found->tried[1], "HTTP 302 to https://mail.example.test/autodiscover/final.xml"));
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "POST");  // the same request each time
    EXPECT_TRUE(contains(r.body, "<EMailAddress>alice@example.test</EMailAddress>"));
  }
}

TEST(EwsAutodiscoverClient, RefusesRedirectsToPlainHttp) {
  autodiscover_server server([](const script_request& r) {
    if (r.header("host") == "example.test") {
      return http_script_server::response(302, "", "Location: http://mail.example.test/autodiscover/autodiscover.xml\r\n");
    }
    return ok_xml(redirect_url_answer("http://mail.example.test/autodiscover/autodiscover.xml"));
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::unavailable);
  EXPECT_TRUE(contains(found.err().message, "1) https://example.test/autodiscover/autodiscover.xml: HTTP 302: "
                                            "redirect to http:// refused"))
      << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "2) https://autodiscover.example.test/autodiscover/autodiscover.xml: "
                                            "redirectUrl: redirect to http:// refused"))
      << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "set spec.ews.url")) << found.err().message;
  EXPECT_EQ(server.requests().size(), 2u);  // nothing sent to the http:// targets
}

TEST(EwsAutodiscoverClient, ARedirectLoopIsNamed) {
  autodiscover_server server([](const script_request&) {
    return ok_xml(redirect_url_answer("https://example.test/autodiscover/autodiscover.xml"));
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(found.err().message, "the Autodiscover redirects loop")) << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "2) https://example.test/autodiscover/autodiscover.xml: redirect loop"))
      << found.err().message;
  // example.test (redirects to itself), autodiscover.example.test (redirects there too).
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(EwsAutodiscoverClient, StopsAtTheRedirectLimit) {
  std::atomic<int> hop{0};
  autodiscover_server server([&](const script_request&) {
    return ok_xml(redirect_url_answer("https://mail.example.test/hop" + std::to_string(++hop)));
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(found.err().message, "more than 10 redirects")) << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "11) https://mail.example.test/hop10: redirectUrl to "
                                            "https://mail.example.test/hop11"))
      << found.err().message;
  EXPECT_EQ(server.requests().size(), 11u);  // the first request and 10 redirects; the 11th is not followed
}

TEST(EwsAutodiscoverClient, RefusesAnEwsUrlOnAForeignDomain) {
  autodiscover_server server([](const script_request&) {
    return ok_xml(ews_answer("https://ews.evil.test/EWS/Exchange.asmx"));
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(found.err().message, "failed: Autodiscover returned the EWS host ews.evil.test"))
      << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "set spec.ews.url")) << found.err().message;
  EXPECT_EQ(server.requests().size(), 2u);  // the second candidate was asked too
}

TEST(EwsAutodiscoverClient, AForeignEwsUrlOnOneCandidateDoesNotStopTheOther) {
  autodiscover_server server([](const script_request& r) {
    if (r.header("host") == "example.test") return ok_xml(ews_answer("https://ews.evil.test/EWS/Exchange.asmx"));
    return ok_xml(ews_answer("https://autodiscover.example.test/EWS/Exchange.asmx"));
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_TRUE(found.ok()) << found.err().message;
  EXPECT_EQ(found->ews_url, "https://autodiscover.example.test/EWS/Exchange.asmx");
  ASSERT_EQ(found->tried.size(), 2u);
  EXPECT_TRUE(contains(found->tried[0], "EwsUrl refused: Autodiscover returned the EWS host ews.evil.test"))
      << found->tried[0];
}

TEST(EwsAutodiscoverClient, HtmlPagesAndHttpErrorsAreNotAnswers) {
  autodiscover_server server([](const script_request& r) {
    if (r.header("host") == "example.test") {
      return http_script_server::response(200, "<!DOCTYPE html><html><head><title>Welcome</title></head>"
                                                "<body><p>Our web site</p></body></html>",
                                          "Content-Type: text/html\r\n");
    }
    return http_script_server::response(503, "<html><body>Service Unavailable</body></html>",
                                        "Content-Type: text/html\r\n");
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::unavailable);
  EXPECT_TRUE(contains(found.err().message, "1) https://example.test/autodiscover/autodiscover.xml: HTTP 200 but "
                                            "Autodiscover response has root element <html>"))
      << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "2) https://autodiscover.example.test/autodiscover/autodiscover.xml: "
                                            "HTTP 503 (not an Autodiscover answer)"))
      << found.err().message;
  EXPECT_FALSE(contains(found.err().message, "Our web site"));
}

TEST(EwsAutodiscoverClient, Http401EverywhereIsUnauthenticated) {
  autodiscover_server server([](const script_request&) {
    return http_script_server::response(401, "", "WWW-Authenticate: Basic realm=\"example\"\r\n");
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::unauthenticated);
  EXPECT_TRUE(contains(found.err().message, "the credentials were refused (HTTP 401)")) << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "1) https://example.test/autodiscover/autodiscover.xml: HTTP 401"))
      << found.err().message;
  EXPECT_FALSE(contains(found.err().message, "hunter2"));
  EXPECT_EQ(f.auth_asked, (std::vector<std::string>{"example.test:443", "autodiscover.example.test:443"}));
}

TEST(EwsAutodiscoverClient, A401OnOneCandidateIsNotFinal) {
  autodiscover_server server([](const script_request& r) {
    if (r.header("host") == "example.test") {
      return http_script_server::response(401, "", "WWW-Authenticate: Basic realm=\"web site\"\r\n");
    }
    return ok_xml(ews_answer("https://mail.example.test/EWS/Exchange.asmx"));
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_TRUE(found.ok()) << found.err().message;
  EXPECT_EQ(found->ews_url, "https://mail.example.test/EWS/Exchange.asmx");
}

TEST(EwsAutodiscoverClient, AutodiscoverErrorsNameTheCodeNotTheServersText) {
  autodiscover_server server([](const script_request&) {
    return ok_xml(error_answer("500", "The email address can't be found. SERVER-TEXT"));
  });
  fixture f(server.port());
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::unavailable);
  EXPECT_TRUE(contains(found.err().message, "Autodiscover error 500 (the server does not know this address)"))
      << found.err().message;
  EXPECT_FALSE(contains(found.err().message, "SERVER-TEXT"));
}

TEST(EwsAutodiscoverClient, TheCertificateMustNameTheCandidate) {
  // Both candidates go to the server, whose certificate does not name unlisted.test:
  // the name (not 127.0.0.1) is what TLS checks.
  autodiscover_server server([](const script_request&) {
    return ok_xml(ews_answer("https://mail.unlisted.test/EWS/Exchange.asmx"));
  });
  fixture f(server.port());
  auto found = discover("alice@unlisted.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::unavailable);
  EXPECT_TRUE(contains(found.err().message, "1) https://unlisted.test/autodiscover/autodiscover.xml: FAILED_PRECONDITION: "
                                            "https://unlisted.test:443: "))
      << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "certificate")) << found.err().message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(EwsAutodiscoverClient, TheAuthenticatorFactoryMayRefuseAHost) {
  autodiscover_server server([](const script_request&) { return ok_xml(ews_answer("https://mail.example.test/x")); });
  fixture f(server.port());
  f.options.authenticator = [](const net::http_endpoint& where) -> result<std::shared_ptr<net::http_authenticator>> {
    return error{errc::permission_denied, "the secret may not be sent to " + where.host};
  };
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::permission_denied);
  EXPECT_TRUE(contains(found.err().message, "PERMISSION_DENIED: the secret may not be sent to autodiscover.example.test"))
      << found.err().message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(EwsAutodiscoverClient, TheTotalTimeoutBoundsEverything) {
  autodiscover_server server([](const script_request&) -> std::string {
    std::this_thread::sleep_for(1500ms);  // longer than the whole budget
    return ok_xml(ews_answer("https://mail.example.test/x"));
  });
  fixture f(server.port());
  f.options.total_timeout = 400ms;
  const auto started = std::chrono::steady_clock::now();
  auto found = discover("alice@example.test", f.options);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::deadline_exceeded) << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "total_timeout (400 ms) expired")) << found.err().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1400ms);
}

TEST(EwsAutodiscoverClient, BadInputIsRefusedBeforeAnyRequest) {
  autodiscover_server server([](const script_request&) { return ok_xml(ews_answer("https://mail.example.test/x")); });
  fixture f(server.port());
  auto no_at = discover("alice", f.options);
  ASSERT_FALSE(no_at.ok());
  EXPECT_EQ(no_at.err().code, errc::invalid_argument);
  EXPECT_TRUE(contains(no_at.err().message, "email")) << no_at.err().message;

  discovery_options no_tls = f.options;
  no_tls.tls = nullptr;
  auto missing = discover("alice@example.test", no_tls);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.err().code, errc::invalid_argument);
  EXPECT_TRUE(contains(missing.err().message, "discovery_options.tls")) << missing.err().message;
  EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace mailbroker::ews
