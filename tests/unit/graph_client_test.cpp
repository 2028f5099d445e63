// graph::client against an in-process HTTPS server played by the test: the Retry-After
// gate holds back every request of the mailbox (also ones that were waiting for a
// connection when the 429 came), throttled requests are sent again and give up after
// max_throttle_retries with Graph's code, $batch members refused with 429 are sent again
// in a new batch, a 401 renews the token once, and error bodies become clear errors.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/http_script_server.hpp"
#include "net/http_authenticators.hpp"
#include "net/tls_context.hpp"
#include "protocol/graph/client.hpp"
#include "protocol/graph/requests.hpp"

namespace mailbroker::graph {
namespace {

using namespace std::chrono_literals;
using testing::http_peer;
using testing::http_script_server;
using testing::test_pki;
using clock_type = std::chrono::steady_clock;

const std::string ok_folder = R"({"id":"inbox-id","displayName":"Inbox","totalItemCount":0,"unreadItemCount":0,"childFolderCount":0})";

std::string json_answer(int status, const std::string& body, const std::string& extra = {}) {
  return http_script_server::response(status, body, "Content-Type: application/json\r\n" + extra);
}

std::string throttled_answer(int seconds) {
  return json_answer(429,
                     R"({"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit.",)"
                     R"("innerError":{"request-id":"rid-429"}}})",
                     "Retry-After: " + std::to_string(seconds) + "\r\n");
}

// Records when each request arrived; answers with what `answer(n)` says for the n-th (0-based).
struct scripted {
  std::mutex mutex;
  std::vector<clock_type::time_point> arrivals;
  std::vector<std::string> targets, authorizations, bodies;
  std::function<std::string(int, const testing::script_request&)> answer;
  http_script_server server{[this](http_peer& peer) {
    while (auto request = peer.read_request()) {
      int n = 0;
      {
        std::lock_guard lock(mutex);
        n = static_cast<int>(arrivals.size());
        arrivals.push_back(clock_type::now());
        targets.push_back(request->target);
        authorizations.push_back(request->header("authorization"));
        bodies.push_back(request->body);
      }
      if (!peer.write(answer(n, *request))) return;
    }
  }};
};

struct fixture {
  asio::io_context io;
  std::string token = "token-1";
  std::function<awaitable<error>(clock_type::time_point)> renew;

  std::unique_ptr<client> make(std::uint16_t port, std::size_t max_in_flight, int retries = 3) {
    auto tls = net::make_client_tls_context({test_pki::get().ca_file, true});
    EXPECT_TRUE(tls.ok()) << tls.err().message;
    net::http_connection_options http;
    http.tls = tls.value();
    http.connect_timeout = 2000ms;
    http.request_timeout = 5000ms;
    client_options options;
    options.service_root = "https://127.0.0.1:" + std::to_string(port) + "/v1.0";
    options.mailbox_root = "/users/alice%40example.com";
    options.max_in_flight = max_in_flight;
    options.max_throttle_retries = retries;
    options.renew_token = renew;
    return std::make_unique<client>(io.get_executor(), net::http_endpoint{true, "127.0.0.1", port}, http, options,
                                    [this] {
                                      return net::make_bearer_authenticator([this]() -> result<std::string> { return token; });
                                    });
  }

  // Runs `calls` GET mailFolders/inbox at once until all have ended; returns the outcomes.
  std::vector<result<answer>> run_gets(client& c, int calls) {
    std::vector<result<answer>> out(static_cast<std::size_t>(calls), error{errc::internal, "not run"});
    int ended = 0;
    for (int i = 0; i < calls; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> awaitable<void> {
            out[static_cast<std::size_t>(i)] = co_await c.send(get_folder(c.mailbox_root(), "inbox"), "folder inbox");
            ++ended;
          },
          asio::detached);
    }
    while (ended < calls && io.run_one_for(10s) > 0) {
    }
    EXPECT_EQ(ended, calls) << "calls still running after 10 s without progress";
    return out;
  }
};

TEST(GraphClient, A429HoldsBackEveryRequestOfTheMailboxUntilItsRetryAfterPassed) {
  scripted s;
  clock_type::time_point throttled_at{};
  s.answer = [&](int n, const testing::script_request&) {
    if (n == 0) {
      throttled_at = clock_type::now();
      return throttled_answer(1);
    }
    return json_answer(200, ok_folder);
  };
  fixture f;
  // One connection: the other two calls wait for it while the first is throttled.
  auto c = f.make(s.server.port(), 1);
  auto outcomes = f.run_gets(*c, 3);
  for (const auto& o : outcomes) EXPECT_TRUE(o.ok()) << o.err().message;
  std::lock_guard lock(s.mutex);
  ASSERT_EQ(s.arrivals.size(), 4u) << "one 429, then the three calls";
  for (std::size_t i = 1; i < s.arrivals.size(); ++i) {
    EXPECT_GE(s.arrivals[i] - throttled_at, 950ms) << "request " << i << " went out before the Retry-After passed";
  }
  EXPECT_EQ(c->throttled(), 1u);
  EXPECT_EQ(c->last_retry_after(), 1000ms);
  EXPECT_EQ(s.targets[0], "/v1.0/users/alice%40example.com/mailFolders/inbox?$select=id%2CdisplayName%2CparentFolderId%2C"
                          "childFolderCount%2CunreadItemCount%2CtotalItemCount")
      << "the service root's path, then the builder's URL";
  EXPECT_EQ(s.authorizations[0], "Bearer token-1");
}

TEST(GraphClient, AServerAllowingFewerRequestsThanOursSettlesTheLimitThere) {
  // The server serves 2 requests at once (each held 100 ms) and refuses a third with 429 +
  // Retry-After: 0; the client starts at 4.
  std::atomic<int> in_flight{0}, most_served{0}, refused{0};
  http_script_server server([&](http_peer& peer) {
    while (auto request = peer.read_request()) {
      const int now = ++in_flight;
      if (now > 2) {
        --in_flight;
        ++refused;
        if (!peer.write(throttled_answer(0))) return;
        continue;
      }
      for (int m = most_served.load(); now > m && !most_served.compare_exchange_weak(m, now);) {
      }
      std::this_thread::sleep_for(100ms);
      --in_flight;
      if (!peer.write(json_answer(200, ok_folder))) return;
    }
  });
  fixture f;
  auto c = f.make(server.port(), 4);
  auto outcomes = f.run_gets(*c, 16);
  for (const auto& o : outcomes) EXPECT_TRUE(o.ok()) << o.err().message;
  // Lowered to what the server serves; 16 calm answers may have let one more out since.
  EXPECT_LE(c->current_limit(), 3u);
  EXPECT_GE(c->current_limit(), 1u);
  EXPECT_LE(refused.load(), 4) << "refusals stop once the limit settled, instead of a share of every round";
  EXPECT_EQ(c->throttled(), static_cast<std::uint64_t>(refused.load()));
}

TEST(GraphClient, CloseEndsCallsWaitingForARetryAfterAtOnce) {
  scripted s;
  s.answer = [](int, const testing::script_request&) { return throttled_answer(30); };
  fixture f;
  auto c = f.make(s.server.port(), 2);
  int ended = 0;
  std::vector<error> errors;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        f.io,
        [&]() -> awaitable<void> {
          auto r = co_await c->send(get_folder(c->mailbox_root(), "inbox"), "folder inbox");
          errors.push_back(r ? error::none() : r.err());
          ++ended;
        },
        asio::detached);
  }
  // Until the first 429 closed the gate for 30 s.
  const auto until = clock_type::now() + 5s;
  while (c->throttled() == 0 && clock_type::now() < until) f.io.run_one_for(100ms);
  ASSERT_EQ(c->throttled(), 1u);
  const auto closed_at = clock_type::now();
  c->close();
  while (ended < 3 && f.io.run_one_for(5s) > 0) {
  }
  EXPECT_EQ(ended, 3);
  EXPECT_LT(clock_type::now() - closed_at, 2s) << "no call waited out the 30 s Retry-After after close()";
  for (const auto& e : errors) {
    // unavailable when it was waiting, cancelled when its request was on the wire.
    EXPECT_TRUE(e.code == errc::unavailable || e.code == errc::cancelled) << e.message;
  }
}

TEST(GraphClient, StillThrottledAfterItsRetriesIsUnavailableWithGraphsCodeAndRequestId) {
  scripted s;
  s.answer = [](int, const testing::script_request&) { return throttled_answer(0); };
  fixture f;
  auto c = f.make(s.server.port(), 2, 2);
  auto outcomes = f.run_gets(*c, 1);
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].err().code, errc::unavailable);
  EXPECT_NE(outcomes[0].err().message.find("ApplicationThrottled"), std::string::npos) << outcomes[0].err().message;
  EXPECT_NE(outcomes[0].err().message.find("rid-429"), std::string::npos) << outcomes[0].err().message;
  EXPECT_NE(outcomes[0].err().message.find("sent 3 times"), std::string::npos) << outcomes[0].err().message;
  EXPECT_EQ(s.arrivals.size(), 3u);
  EXPECT_EQ(c->throttled(), 3u);
}

TEST(GraphClient, BatchMembersRefusedWith429AreSentAgainInANewBatch) {
  scripted s;
  s.answer = [](int n, const testing::script_request& request) {
    auto sent = nlohmann::json::parse(request.body);
    nlohmann::json responses = nlohmann::json::array();
    for (const auto& member : sent["requests"]) {
      const std::string id = member["id"];
      // The first batch: member "2" is throttled; the retry carries it alone as "1".
      if (n == 0 && id == "2") {
        responses.push_back({{"id", id}, {"status", 429}, {"headers", {{"Retry-After", "1"}}},
                             {"body", {{"error", {{"code", "ApplicationThrottled"}, {"message", "slow down"}}}}}});
      } else if (member["url"].get<std::string>().find("missing") != std::string::npos) {
        responses.push_back({{"id", id}, {"status", 404},
                             {"body", {{"error", {{"code", "ErrorItemNotFound"}, {"message", "The specified object was not found in the store."}}}}}});
      } else {
        responses.push_back({{"id", id}, {"status", 200}, {"body", {{"id", member["url"]}}}});
      }
    }
    return json_answer(200, nlohmann::json{{"responses", responses}}.dump());
  };
  fixture f;
  auto c = f.make(s.server.port(), 4);
  std::vector<request> requests;
  for (const char* id : {"m1", "m2", "missing", "m4"}) {
    auto r = update_message(c->mailbox_root(), id, true, std::nullopt);
    ASSERT_TRUE(r.ok());
    requests.push_back(r.value());
  }
  std::optional<result<std::vector<result<answer>>>> got;
  const std::vector<std::string> items{"message m1", "message m2", "message missing", "message m4"};
  asio::co_spawn(
      f.io, [&]() -> awaitable<void> { got = co_await c->send_batch(requests, items); }, asio::detached);
  while (!got && f.io.run_one_for(10s) > 0) {
  }
  ASSERT_TRUE(got && got->ok()) << (got ? got->err().message : "no answer");
  const auto& outcomes = got->value();
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_TRUE(outcomes[0].ok());
  EXPECT_TRUE(outcomes[1].ok()) << outcomes[1].err().message;
  ASSERT_FALSE(outcomes[2].ok());
  EXPECT_EQ(outcomes[2].err().code, errc::not_found);
  EXPECT_TRUE(outcomes[3].ok());
  std::lock_guard lock(s.mutex);
  ASSERT_EQ(s.arrivals.size(), 2u) << "one batch, then one batch with the throttled member";
  EXPECT_GE(s.arrivals[1] - s.arrivals[0], 950ms);
  EXPECT_EQ(s.targets[0], "/v1.0/$batch");
  EXPECT_EQ(nlohmann::json::parse(s.bodies[1])["requests"].size(), 1u);
  EXPECT_EQ(c->throttled(), 1u);
}

TEST(GraphClient, A401RenewsTheTokenOnceAndSendsAgain) {
  scripted s;
  s.answer = [](int, const testing::script_request& request) {
    if (request.header("authorization") == "Bearer token-2") return json_answer(200, ok_folder);
    return json_answer(401, R"({"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired."}})");
  };
  fixture f;
  int renewals = 0;
  f.renew = [&](clock_type::time_point) -> awaitable<error> {
    ++renewals;
    f.token = "token-2";
    co_return error::none();
  };
  auto c = f.make(s.server.port(), 1);
  auto outcomes = f.run_gets(*c, 1);
  EXPECT_TRUE(outcomes[0].ok()) << outcomes[0].err().message;
  EXPECT_EQ(renewals, 1);

  // A token the renewal cannot replace: UNAUTHENTICATED after one renewal, no loop.
  s.answer = [](int, const testing::script_request&) {
    return json_answer(401, R"({"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty."}})");
  };
  outcomes = f.run_gets(*c, 1);
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].err().code, errc::unauthenticated);
  EXPECT_EQ(renewals, 2);
  EXPECT_EQ(outcomes[0].err().message.find("token-2"), std::string::npos) << "no token in messages";
}

TEST(GraphClient, AnHtmlErrorPageIsAClearErrorAndTheClientStaysUsable) {
  scripted s;
  s.answer = [](int n, const testing::script_request&) {
    if (n == 0) return http_script_server::response(502, "<html><body>Bad Gateway</body></html>", "Content-Type: text/html\r\n");
    return json_answer(200, ok_folder);
  };
  fixture f;
  auto c = f.make(s.server.port(), 1, 0);
  auto outcomes = f.run_gets(*c, 1);
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].err().code, errc::unavailable);
  EXPECT_NE(outcomes[0].err().message.find("502"), std::string::npos) << outcomes[0].err().message;
  EXPECT_TRUE(c->is_open());
  outcomes = f.run_gets(*c, 1);
  EXPECT_TRUE(outcomes[0].ok()) << outcomes[0].err().message;
}

TEST(GraphClient, LinksLeavingTheServiceRootAreRefused) {
  fixture f;
  auto c = f.make(443, 1);
  EXPECT_TRUE(c->relative("https://127.0.0.1:443/v1.0/users/x/messages?$skip=10", "next").ok());
  auto elsewhere = c->relative("https://evil.example/v1.0/users/x/messages", "the next page");
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.err().code, errc::failed_precondition);
}

}  // namespace
}  // namespace mailbroker::graph
