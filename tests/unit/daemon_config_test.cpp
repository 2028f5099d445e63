#include "daemon/daemon_config.hpp"

#include <gtest/gtest.h>

namespace mailbroker::daemon {
namespace {

TEST(daemon_config, DefaultsNeedNoFile) {
  daemon_config c;
  EXPECT_EQ(c.registry.session.default_linger.count(), 60);
  EXPECT_EQ(c.registry.default_lease_ttl.count(), 300);
  EXPECT_FALSE(default_socket_path().empty());
}

TEST(daemon_config, ParsesKeysCommentsAndBlankLines) {
  daemon_config c;
  auto e = apply_config_text(c, R"(# mailbrokerd.conf
socket = /tmp/x.sock
  log-level = debug   # trailing comment

default-linger-seconds = 5
socket-mode = 0600
reconnect-initial-ms = 250
)", "test.conf");
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(c.socket_path, "/tmp/x.sock");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.registry.session.default_linger.count(), 5);
  EXPECT_EQ(c.socket_mode, 0600u);
  EXPECT_EQ(c.registry.session.reconnect.initial.count(), 250);
  // render_config output parses back to the same settings.
  daemon_config again;
  ASSERT_TRUE(apply_config_text(again, render_config(c), "rendered").ok());
  EXPECT_EQ(render_config(again), render_config(c));
}

TEST(daemon_config, ErrorsNameFileLineAndKey) {
  daemon_config c;
  auto e = apply_config_text(c, "log-level = info\nlinger = 5\n", "my.conf");
  EXPECT_EQ(e.code, errc::invalid_argument);
  EXPECT_NE(e.message.find("my.conf:2"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("linger"), std::string::npos) << e.message;

  EXPECT_FALSE(apply_config_text(c, "io-threads = 0\n", "x").ok());
  EXPECT_FALSE(apply_config_text(c, "io-threads = two\n", "x").ok());
  EXPECT_FALSE(apply_config_text(c, "log-level = loud\n", "x").ok());
  EXPECT_FALSE(apply_config_text(c, "just words\n", "x").ok());
  EXPECT_EQ(apply_config_file(c, "/nonexistent.conf").code, errc::failed_precondition);
}

}  // namespace
}  // namespace mailbroker::daemon
