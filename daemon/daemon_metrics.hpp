#pragma once
// The daemon's metrics wiring: per-RPC counts and latencies through a gRPC server
// interceptor, scrape-time collectors for what the session registry and the token
// cache already count, and the /metrics listener (metrics_http.hpp). Metric names are
// listed in deploy/README.md.
//
// Lifetime: create after the registry, destroy before it (the collector reads it).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/server_interceptor.h>

#include "common/error.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/metrics_http.hpp"
#include "net/asio.hpp"
#include "session/session_registry.hpp"

namespace mailbroker::daemon {

// For ServerBuilder::experimental().SetInterceptorCreators(): counts every RPC by
// service, method and status code (mailbroker_grpc_server_handled_total) and times unary
// ones (mailbroker_grpc_server_handling_seconds). Streams are counted when they end.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> make_rpc_metrics_interceptor();

class daemon_metrics {
 public:
  // Registers every family (so the first scrape shows them all) and the collectors.
  explicit daemon_metrics(const session::session_registry& registry);
  ~daemon_metrics();

  // Starts the listener when config.metrics_listen is set. Errors: invalid_argument
  // (address, or non-loopback without metrics-allow-remote), failed_precondition
  // (cannot bind).
  error listen(asio::any_io_executor executor, const daemon_config& config);
  // "HOST:PORT" of the listener, "" when off.
  std::string target() const { return http_ ? http_->target() : std::string(); }
  // Closes the listener (before the io threads stop). Idempotent.
  void stop();

 private:
  std::uint64_t collector_id_ = 0;
  std::unique_ptr<metrics_http> http_;
};

}  // namespace mailbroker::daemon
