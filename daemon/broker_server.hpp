#pragma once
// The daemon as an object: io threads + session registry + gRPC server (SessionBroker,
// grpc.health.v1.Health, server reflection). main() and the integration tests both
// run it, so tests exercise the same wiring as production.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/error.hpp"
#include "daemon/access_gate.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/daemon_metrics.hpp"
#include "daemon/mailbox_service.hpp"
#include "daemon/session_broker_service.hpp"
#include "daemon/session_journal.hpp"
#include "daemon/state_setup.hpp"
#include "daemon/stream_budget.hpp"
#include "daemon/unix_peer_listener.hpp"
#include "daemon/vault_service.hpp"
#include "net/asio.hpp"

namespace mailbroker::daemon {

class broker_server {
 public:
  explicit broker_server(daemon_config config);
  ~broker_server();

  // Opens the store, starts io threads and listeners, then reconnects the sessions the
  // store remembers. Errors: failed_precondition when the socket is in use by a running
  // daemon or cannot be created, or the store cannot be opened (wrong vault key...),
  // invalid_argument for a bad listen address.
  error start();

  // "unix:/path" for the unix socket ("" if disabled) and "127.0.0.1:PORT" for the TCP
  // listener ("" if none); a TCP port of 0 in the config is resolved here.
  std::string unix_target() const { return unix_target_; }
  std::string tcp_target() const { return tcp_target_; }
  // "HOST:PORT" of the /metrics listener ("" if metrics-listen is off).
  std::string metrics_target() const { return metrics_ ? metrics_->target() : std::string(); }

  // Marks health NOT_SERVING, logs every session out (bounded by drain_timeout), stops
  // gRPC and the io threads. Idempotent; also run by the destructor.
  void shutdown(std::chrono::milliseconds drain_timeout = std::chrono::seconds(10));

  session::session_registry& registry() { return *registry_; }

  // Re-reads what may change without dropping sessions: the trust policy (allow, token,
  // secret-hosts, secret-file-dir, managed connections' allowed hosts) from `config`.
  // TLS files are re-read by gRPC itself (checked every minute). Errors: invalid_argument
  // (the old policy stays in force).
  error reload(const daemon_config& config);

 private:
  daemon_config config_;
  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  daemon_state state_;
  std::unique_ptr<session::session_registry> registry_;
  std::unique_ptr<unix_peer_listener> unix_listener_;
  std::unique_ptr<access_gate> gate_;
  std::unique_ptr<stream_budget> streams_;
  std::unique_ptr<session_journal> journal_;  // after registry_: destroyed first
  std::unique_ptr<session_broker_service> service_;
  std::unique_ptr<vault_service> vault_service_;
  std::unique_ptr<mailbox_service> mailbox_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<daemon_metrics> metrics_;  // after registry_: destroyed before it
  std::string unix_target_;
  std::string tcp_target_;
  bool stopped_ = false;
};

}  // namespace mailbroker::daemon
