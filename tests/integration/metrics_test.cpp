// Ops: the Prometheus endpoint of a running daemon. A scrape after a few calls is checked
// by Prometheus's own linter (`promtool check metrics`, Debian package `prometheus`) and
// shows the calls: RPC counts by method and code, logins, attaches, sessions by state.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sys/wait.h>

#include "mailbroker/v1/mailbox.grpc.pb.h"
#include "net/asio.hpp"
#include "support/broker_fixture.hpp"
#include "support/eventually.hpp"

namespace mailbroker::testing {
namespace {

using asio::ip::tcp;

// GET http://TARGET/PATH (HTTP/1.0: the server closes after the answer); "" on failure.
std::string http_get(const std::string& target, const std::string& path) {
  asio::io_context io;
  tcp::socket s(io);
  error_code ec;
  const auto colon = target.rfind(':');
  s.connect(tcp::endpoint(asio::ip::make_address(target.substr(0, colon)),
                          static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))),
            ec);
  if (ec) return {};
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + target + "\r\n\r\n";
  asio::write(s, asio::buffer(request), ec);
  std::string out;
  char buf[8192];
  while (!ec) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
  }
  return out;
}

std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

// The value of the sample whose line starts with `series` (name and labels exactly as
// rendered); -1 when absent.
double sample_value(const std::string& scrape, const std::string& series) {
  const auto at = scrape.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(scrape.c_str() + at + 1 + series.size() + 1, nullptr);
}

struct promtool_result {
  int exit_code = -1;
  std::string output;
};

// Runs `promtool check metrics` on `text`. The test needs it: a missing promtool is a
// failure (install the Debian package `prometheus`; scripts/setup-debian.sh does).
promtool_result promtool_check(const std::string& text, const std::string& dir) {
  const auto input = dir + "/scrape.txt";
  std::ofstream(input) << text;
  const std::string command = "promtool check metrics < '" + input + "' 2>&1";
  promtool_result r;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool promtool_installed() { return std::system("command -v promtool > /dev/null 2>&1") == 0; }

class metrics_endpoint : public broker_fixture {
 protected:
  void start_with_metrics() {
    daemon::daemon_config config;
    config.metrics_listen = "127.0.0.1:0";
    start_broker(config);
    ASSERT_FALSE(server_->metrics_target().empty());
  }
  std::string scrape() {
    const auto response = http_get(server_->metrics_target(), "/metrics");
    EXPECT_EQ(response.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << response.substr(0, 200);
    EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    return body_of(response);
  }
};

const std::string connect_ok =
    R"(mailbroker_grpc_server_handled_total{service="mailbroker.v1.SessionBroker",method="Connect",code="OK"})";
const std::string connect_invalid =
    R"(mailbroker_grpc_server_handled_total{service="mailbroker.v1.SessionBroker",method="Connect",code="INVALID_ARGUMENT"})";
const std::string list_folders_ok =
    R"(mailbroker_grpc_server_handled_total{service="mailbroker.v1.Mailbox",method="ListFolders",code="OK"})";
const std::string imap_logins_ok = R"(mailbroker_logins_total{protocol="imap",result="ok"})";
const std::string imap_attaches = R"(mailbroker_attaches_total{protocol="imap"})";
const std::string imap_ready = R"(mailbroker_sessions{protocol="imap",state="READY"})";

double at_least_zero(double v) { return v < 0 ? 0 : v; }

TEST_F(metrics_endpoint, ScrapePassesPromtoolAndCountsTheCalls) {
  ASSERT_TRUE(promtool_installed()) << "promtool not found: apt-get install prometheus (scripts/setup-debian.sh)";
  start_with_metrics();
  // Counters live for the whole test process (other tests may have counted already).
  const auto before = scrape();
  const double connects_before = at_least_zero(sample_value(before, connect_ok));
  const double invalid_before = at_least_zero(sample_value(before, connect_invalid));
  const double logins_before = at_least_zero(sample_value(before, imap_logins_ok));
  const double attaches_before = at_least_zero(sample_value(before, imap_attaches));
  const double lists_before = at_least_zero(sample_value(before, list_folders_ok));

  pb::ConnectResponse first;
  ASSERT_TRUE(client_->connect(imaps_request("metrics-a"), &first).ok());
  pb::ConnectResponse second;
  ASSERT_TRUE(client_->connect(imaps_request("metrics-a"), &second).ok());  // attaches, no new login
  auto bad = imaps_request("metrics-b");
  bad.mutable_spec()->mutable_server()->set_host("");
  pb::ConnectResponse ignored;
  EXPECT_EQ(client_->connect(bad, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto mailbox = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
  {
    grpc::ClientContext ctx;
    pb::ListFoldersRequest request;
    request.set_lease_id(first.lease_id());
    pb::ListFoldersResponse response;
    ASSERT_TRUE(mailbox->ListFolders(&ctx, request, &response).ok());
  }

  // The session records an operation's duration once the operation has answered its
  // caller, so the reply can come back before the sample lands: wait for it (bounded).
  std::string after;
  eventually([&] {
    after = scrape();
    return sample_value(after, R"(mailbroker_upstream_operation_seconds_count{protocol="imap"})") >= 1;
  }, std::chrono::seconds(5));
  EXPECT_EQ(sample_value(after, connect_ok), connects_before + 2) << after;
  EXPECT_EQ(sample_value(after, connect_invalid), invalid_before + 1);
  EXPECT_EQ(sample_value(after, list_folders_ok), lists_before + 1);
  EXPECT_EQ(sample_value(after, imap_logins_ok), logins_before + 1);
  EXPECT_EQ(sample_value(after, imap_attaches), attaches_before + 2);
  EXPECT_EQ(sample_value(after, imap_ready), 1);  // this daemon's registry: one session
  EXPECT_EQ(sample_value(after, "mailbroker_leases"), 2);
  EXPECT_GE(sample_value(after, R"(mailbroker_upstream_operation_seconds_count{protocol="imap"})"), 1);
  EXPECT_GE(sample_value(after, R"(mailbroker_queue_wait_seconds_count{protocol="imap"})"), 1);
  EXPECT_GE(sample_value(
                after,
                R"(mailbroker_grpc_server_handling_seconds_count{service="mailbroker.v1.SessionBroker",method="Connect"})"),
            3);
  // Families with no event yet are declared all the same.
  for (const char* family : {"mailbroker_denials_total", "mailbroker_token_requests_total",
                             "mailbroker_smtp_sends_total", "mailbroker_watch_events_total",
                             "mailbroker_reconnects_total", "mailbroker_queued_operations"}) {
    EXPECT_NE(after.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }

  const auto checked = promtool_check(after, socket_dir_);
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n--- scrape ---\n" << after;

  // promtool is not a rubber stamp: a malformed exposition fails it.
  const auto broken = promtool_check(after + "mailbroker_broken{label=\"unterminated} 1\n", socket_dir_);
  EXPECT_NE(broken.exit_code, 0) << broken.output;
}

TEST_F(metrics_endpoint, OtherPathsAre404) {
  start_with_metrics();
  EXPECT_EQ(http_get(server_->metrics_target(), "/").rfind("HTTP/1.0 404", 0), 0u);
}

TEST_F(metrics_endpoint, NonLoopbackNeedsMetricsAllowRemote) {
  daemon::daemon_config config;
  config.socket_path = socket_dir_ + "/remote.sock";
  config.state_dir = "none";
  config.metrics_listen = "0.0.0.0:0";
  daemon::broker_server server(config);
  const auto e = server.start();
  EXPECT_EQ(e.code, errc::invalid_argument) << e.message;
  EXPECT_NE(e.message.find("metrics-allow-remote"), std::string::npos) << e.message;
}

TEST_F(metrics_endpoint, OffByDefault) {
  start_broker();
  EXPECT_EQ(server_->metrics_target(), "");
}

}  // namespace
}  // namespace mailbroker::testing
