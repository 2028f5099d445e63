// The /metrics HTTP listener, talked to with raw bytes over loopback.
#include "daemon/metrics_http.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace mailbroker::daemon {
namespace {

using asio::ip::tcp;

class metrics_http_test : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<metrics_http>(io_.get_executor(), [this] {
      ++scrapes_;
      return std::string("# HELP mb_up Up.\n# TYPE mb_up gauge\nmb_up 1\n");
    });
    auto endpoint = parse_metrics_listen("127.0.0.1:0", false);
    ASSERT_TRUE(endpoint) << endpoint.err().message;
    ASSERT_TRUE(server_->start(endpoint.value()).ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Sends `request` and returns everything the server wrote before closing.
  std::string exchange(const std::string& request) {
    asio::io_context client_io;
    tcp::socket s(client_io);
    const auto target = server_->target();
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                            static_cast<unsigned short>(std::stoi(target.substr(target.rfind(':') + 1)))));
    asio::write(s, asio::buffer(request));
    std::string out;
    error_code ec;
    for (;;) {
      char buf[4096];
      const auto n = s.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<metrics_http> server_;
  std::thread thread_;
  std::atomic<int> scrapes_{0};
};

TEST_F(metrics_http_test, ServesMetricsInTheTextFormat) {
  const auto r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n# HELP mb_up Up.\n# TYPE mb_up gauge\nmb_up 1\n"), std::string::npos) << r;
  EXPECT_EQ(scrapes_.load(), 1);
}

TEST_F(metrics_http_test, KeepAliveServesSeveralScrapesOnOneConnection) {
  const auto r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n"
                          "Connection: close\r\n\r\n");
  EXPECT_EQ(scrapes_.load(), 2) << r;
}

TEST_F(metrics_http_test, OtherPathsAndMethodsAreRefused) {
  EXPECT_EQ(exchange("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  const auto post = exchange("DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(scrapes_.load(), 0);
}

TEST_F(metrics_http_test, OversizedHeadOrABodyClosesWithoutAnswer) {
  const std::string big(16 * 1024, 'a');
  EXPECT_EQ(exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n"), "");
  EXPECT_EQ(exchange("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"), "");
  EXPECT_EQ(exchange("not http at all\r\n\r\n"), "");
  EXPECT_EQ(scrapes_.load(), 0);
}

TEST(metrics_listen, LoopbackByDefaultRemoteOnlyWhenAllowed) {
  EXPECT_TRUE(parse_metrics_listen("127.0.0.1:9464", false));
  EXPECT_TRUE(parse_metrics_listen("[::1]:9464", false));
  EXPECT_TRUE(parse_metrics_listen("localhost:0", false));
  auto remote = parse_metrics_listen("0.0.0.0:9464", false);
  ASSERT_FALSE(remote);
  EXPECT_EQ(remote.err().code, errc::invalid_argument);
  EXPECT_NE(remote.err().message.find("metrics-allow-remote"), std::string::npos);
  EXPECT_TRUE(parse_metrics_listen("0.0.0.0:9464", true));
  EXPECT_TRUE(parse_metrics_listen("[::]:9464", true));
  for (const char* bad : {"9464", ":9464", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:x", "example.org:9464"}) {
    EXPECT_FALSE(parse_metrics_listen(bad, true)) << bad;
  }
}

}  // namespace
}  // namespace mailbroker::daemon
