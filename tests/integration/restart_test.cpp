// Daemon restarts with the store: sessions come back by themselves, even when their mail
// server is down at that moment.
#include <gtest/gtest.h>

#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

TEST_F(broker_fixture, RestoredSessionsRetryWhileTheServerIsDownAtStart) {
  daemon::daemon_config config;
  config.registry.session.reconnect.initial = std::chrono::milliseconds(200);
  config.registry.session.reconnect.max = std::chrono::milliseconds(1000);
  start_broker(config);
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(imaps_request("restart-outage", "bob"), &response).ok());

  server_->shutdown(std::chrono::seconds(5));
  dovecot().stop();
  start_broker(config);  // the store still lists the session; its server is down
  EXPECT_TRUE(wait_for_status("restart-outage", [](const pb::SessionStatus& s) {
    return s.reconnect_count() >= 2 && s.state() != pb::SESSION_STATE_READY;
  }));
  EXPECT_NE(status_of("restart-outage").state(), pb::SESSION_STATE_FAILED)
      << "a restored session retries; only a new one reports its first failure";
  dovecot().start();
  EXPECT_TRUE(wait_for_state("restart-outage", pb::SESSION_STATE_READY, std::chrono::seconds(20)));
  EXPECT_TRUE(wait_for_who("bob", 1));
}

}  // namespace
}  // namespace mailbroker::testing
