// ews::client's connection pool against an in-process HTTPS server played by the test:
// at most max_connections requests in flight, each new connection with an authenticator
// of its own, waiting calls served first come first served, an idle connection the server
// closes re-opened without reporting the client lost, and a call cut mid-request
// reporting it lost exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/http_script_server.hpp"
#include "net/http_authenticators.hpp"
#include "net/tls_context.hpp"
#include "protocol/ews/client.hpp"
#include "protocol/ews/requests.hpp"
#include "unit/ews_test_support.hpp"

namespace mailbroker::ews {
namespace {

using namespace std::chrono_literals;
using testing::http_peer;
using testing::http_script_server;
using testing::script_request;
using testing::test_pki;

std::string get_folder_answer() {
  return http_script_server::response(
      200,
      test::envelope_of(test::operation(
          "GetFolderResponse",
          R"(<m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders>)"
          R"(<t:Folder><t:FolderId Id="inbox-id" ChangeKey="ck"/><t:DisplayName>Inbox</t:DisplayName>)"
          R"(<t:TotalCount>0</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount>)"
          R"(</t:Folder></m:Folders></m:GetFolderResponseMessage>)")),
      "Content-Type: text/xml; charset=utf-8\r\n");
}

// Counts requests in flight at the server; each is answered after `hold`.
struct slow_server {
  std::atomic<int> in_flight{0}, most{0};
  std::chrono::milliseconds hold{150};
  http_script_server server{[this](http_peer& peer) {
    while (auto request = peer.read_request()) {
      const int now = ++in_flight;
      for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
      }
      std::this_thread::sleep_for(hold);
      --in_flight;
      if (!peer.write(get_folder_answer())) return;
    }
  }};
};

struct pool_fixture {
  asio::io_context io;
  std::atomic<int> authenticators_made{0};
  std::unique_ptr<client> make(std::uint16_t port, int max_connections) {
    auto tls = net::make_client_tls_context({test_pki::get().ca_file, true});
    EXPECT_TRUE(tls.ok()) << tls.err().message;
    net::http_connection_options http;
    http.tls = tls.value();
    http.connect_timeout = 2000ms;
    http.request_timeout = 3000ms;
    client_options options;
    options.max_connections = max_connections;
    return std::make_unique<client>(io.get_executor(), net::http_endpoint{true, "127.0.0.1", port}, http, options,
                                    [this] {
                                      ++authenticators_made;
                                      return net::make_basic_authenticator("alice", "pool-secret");
                                    });
  }
  // Runs `calls` GetFolder calls at once until all have ended (idle pooled connections
  // keep a read pending, so io.run() alone would not return); returns how many succeeded.
  int run_calls(client& c, int calls) {
    int ok = 0, ended = 0;
    for (int i = 0; i < calls; ++i) {
      asio::co_spawn(
          io,
          [&]() -> awaitable<void> {
            std::vector<folder_ref> inbox(1);
            inbox[0].distinguished = "inbox";
            auto reply = co_await c.call(get_folder(server_version::exchange2013_sp1, inbox));
            if (reply.ok()) ++ok;
            ++ended;
          },
          asio::detached);
    }
    while (ended < calls && io.run_one_for(5s) > 0) {
    }
    EXPECT_EQ(ended, calls) << "calls still running after 5 s without progress";
    return ok;
  }
};

TEST(EwsClientPool, AtMostMaxConnectionsInFlightEachWithItsOwnAuthenticator) {
  slow_server server;
  pool_fixture f;
  auto c = f.make(server.server.port(), 3);
  EXPECT_EQ(f.run_calls(*c, 9), 9);
  EXPECT_EQ(server.most.load(), 3) << "nine calls at once: three in flight, the rest waited their turn";
  EXPECT_EQ(server.server.connections(), 3);
  EXPECT_EQ(f.authenticators_made.load(), 3) << "one authenticator per connection";
  EXPECT_EQ(c->connections(), 3u);
  EXPECT_EQ(c->calls_waiting(), 0u);
  EXPECT_TRUE(c->is_open());

  // Alone, a call reuses an idle connection.
  EXPECT_EQ(f.run_calls(*c, 1), 1);
  EXPECT_EQ(server.server.connections(), 3);
}

TEST(EwsClientPool, OneConnectionServesCallsOneAfterAnother) {
  slow_server server;
  server.hold = 20ms;
  pool_fixture f;
  auto c = f.make(server.server.port(), 1);
  EXPECT_EQ(f.run_calls(*c, 5), 5);
  EXPECT_EQ(server.most.load(), 1);
  EXPECT_EQ(server.server.connections(), 1);
}

TEST(EwsClientPool, AnIdleConnectionClosedByTheServerIsReopenedWithoutReportingTheClientLost) {
  // The server answers one request per connection and then closes it (as servers do to
  // idle keep-alive connections).
  http_script_server server([](http_peer& peer) {
    if (auto request = peer.read_request()) peer.write(get_folder_answer());
  });
  pool_fixture f;
  auto c = f.make(server.port(), 2);
  int lost = 0;
  c->set_on_lost([&](const error&) { ++lost; });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(f.run_calls(*c, 1), 1);
    std::this_thread::sleep_for(50ms);  // the FIN arrives while the connection idles
  }
  EXPECT_EQ(lost, 0);
  EXPECT_TRUE(c->is_open());
  EXPECT_EQ(server.connections(), 3);
}

TEST(EwsClientPool, ACallCutMidRequestReportsTheClientLostOnceAndLaterCallsFail) {
  http_script_server server([](http_peer& peer) {
    if (auto request = peer.read_request()) return;  // read it, answer nothing, close
  });
  pool_fixture f;
  auto c = f.make(server.port(), 2);
  int lost = 0;
  c->set_on_lost([&](const error& why) {
    ++lost;
    EXPECT_EQ(why.code, errc::aborted) << why.message;
  });
  EXPECT_EQ(f.run_calls(*c, 2), 0);
  EXPECT_EQ(lost, 1) << "two calls cut: the client is lost once";
  EXPECT_FALSE(c->is_open());

  std::optional<result<soap_reply>> later;
  asio::co_spawn(
      f.io,
      [&]() -> awaitable<void> {
        std::vector<folder_ref> inbox(1);
        inbox[0].distinguished = "inbox";
        later.emplace(co_await c->call(get_folder(server_version::exchange2013_sp1, inbox)));
      },
      asio::detached);
  while (!later && f.io.run_one_for(5s) > 0) {
  }
  ASSERT_TRUE(later.has_value());
  ASSERT_FALSE(later->ok());
  EXPECT_EQ(later->err().code, errc::unavailable);
  EXPECT_NE(later->err().message.find("lost"), std::string::npos) << later->err().message;
}

TEST(EwsClientPool, CloseFailsWaitingCallsAtOnce) {
  slow_server server;
  server.hold = 300ms;
  pool_fixture f;
  auto c = f.make(server.server.port(), 1);
  int failed = 0;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        f.io,
        [&]() -> awaitable<void> {
          std::vector<folder_ref> inbox(1);
          inbox[0].distinguished = "inbox";
          auto reply = co_await c->call(get_folder(server_version::exchange2013_sp1, inbox));
          if (!reply.ok()) ++failed;
        },
        asio::detached);
  }
  asio::steady_timer t(f.io, 100ms);
  t.async_wait([&](error_code) { c->close(); });
  f.io.run();  // close() ends every read: run() returns
  EXPECT_EQ(failed, 3) << "the call in flight is cancelled, the two waiting ones are failed";
  EXPECT_EQ(c->calls_waiting(), 0u);
}

}  // namespace
}  // namespace mailbroker::ews
