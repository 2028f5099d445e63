#pragma once
// An in-process mailbrokerd (the same broker_server main() runs) on a temporary unix
// socket, a client connected to it, and a real Dovecot shared by the whole test binary.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/broker_client.hpp"
#include "daemon/broker_server.hpp"
#include "support/dovecot_testbed.hpp"

namespace mailbroker::testing {

namespace pb = ::mailbroker::v1;

// The Dovecot of this test binary: started on first use, stopped at exit.
dovecot_testbed& shared_dovecot();

// Every log line the daemon printed in this process, for "no secret in logs" checks.
std::string captured_logs();
void install_log_capture();

class broker_fixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts (or restarts) the in-process daemon with `config` overrides applied.
  void start_broker(daemon::daemon_config config = {});

  // A Connect request for `user` against the shared Dovecot over IMAPS.
  pb::ConnectRequest imaps_request(const std::string& session, const std::string& user = "alice") const;

  // Waits (polling Status, bounded) until the session is in `state`.
  bool wait_for_state(const std::string& session, pb::SessionState state,
                      std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Waits (polling Status, bounded) until `pred` holds for the session's status. Use it
  // instead of waiting for a short-lived state (BACKOFF between quick reconnects) that a
  // poll can miss: e.g. "READY with counters().connects() == 2".
  bool wait_for_status(const std::string& session, const std::function<bool(const pb::SessionStatus&)>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Waits (polling doveadm who, bounded) until `user` has `count` IMAP connections.
  bool wait_for_who(const std::string& user, int count, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  pb::SessionStatus status_of(const std::string& session);

  dovecot_testbed& dovecot() { return shared_dovecot(); }
  std::string socket_dir_;
  std::unique_ptr<daemon::broker_server> server_;
  std::unique_ptr<client::broker_client> client_;
};

}  // namespace mailbroker::testing
