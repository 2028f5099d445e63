#pragma once
// gRPC SessionBroker service (callback API): translates requests to the session
// registry and completes each call from the session's strand. No handler blocks.
#include <atomic>
#include <chrono>
#include <memory>

#include <grpcpp/support/message_allocator.h>

#include "auth/authorization_flows.hpp"
#include "daemon/access_gate.hpp"
#include "daemon/stream_budget.hpp"
#include "daemon/proto_convert.hpp"
#include "mailbroker/v1/session_broker.grpc.pb.h"
#include "session/session_registry.hpp"

namespace mailbroker::daemon {

class session_broker_service final : public pb::SessionBroker::CallbackService {
 public:
  // Status pages (see StatusRequest in the proto): sessions per page by default and at
  // most, and the size a page stops before (half of gRPC's default 4 MiB limit).
  static constexpr std::uint32_t default_status_page = 500;
  static constexpr std::uint32_t max_status_page = 1000;
  static constexpr std::size_t max_status_page_bytes = 2 * 1024 * 1024;
  // TestConnection: connection tests running at once in the daemon. Each is up to two
  // real connections and logins against a mail server (TLS handshakes cost CPU, and
  // logins count against provider limits and lockout policies): a test is an operator's
  // diagnosis, not a workload, so a few suffice and a caller looping on it cannot turn
  // the daemon into a login flood.
  static constexpr int max_concurrent_tests = 4;
  // ... and how long one may take, whatever the caller's deadline.
  static constexpr std::chrono::seconds max_test_duration{60};

  // `max_connect_wait` bounds Connect when the caller set no deadline.
  // Every call is identified and authorized by `gate` first; streams count against `streams`.
  session_broker_service(session::session_registry& registry, access_gate& gate, stream_budget& streams,
                         std::chrono::milliseconds max_connect_wait);
  ~session_broker_service() override;
  // Sessions Connect creates are recorded there (null: not recorded).
  void set_journal(class session_journal* journal) { journal_ = journal; }

  grpc::ServerUnaryReactor* Connect(grpc::CallbackServerContext* context, const pb::ConnectRequest* request,
                                    pb::ConnectResponse* response) override;
  grpc::ServerUnaryReactor* Disconnect(grpc::CallbackServerContext* context, const pb::DisconnectRequest* request,
                                       pb::DisconnectResponse* response) override;
  grpc::ServerUnaryReactor* RenewLease(grpc::CallbackServerContext* context, const pb::RenewLeaseRequest* request,
                                       pb::RenewLeaseResponse* response) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context, const pb::StatusRequest* request,
                                   pb::StatusResponse* response) override;
  grpc::ServerWriteReactor<pb::SessionEvent>* WatchStatus(grpc::CallbackServerContext* context,
                                                          const pb::WatchStatusRequest* request) override;
  // In authorization_handlers.cpp.
  grpc::ServerUnaryReactor* BeginAuthorization(grpc::CallbackServerContext* context,
                                               const pb::BeginAuthorizationRequest* request,
                                               pb::BeginAuthorizationResponse* response) override;
  grpc::ServerUnaryReactor* CompleteAuthorization(grpc::CallbackServerContext* context,
                                                  const pb::CompleteAuthorizationRequest* request,
                                                  pb::CompleteAuthorizationResponse* response) override;
  // In test_connection_handler.cpp.
  grpc::ServerUnaryReactor* TestConnection(grpc::CallbackServerContext* context,
                                           const pb::TestConnectionRequest* request,
                                           pb::TestConnectionResponse* response) override;

 private:
  // Connect's permission (connect to create, attach to join, admin to replace) and the
  // spec's secret destinations. Errors: permission_denied, invalid_argument.
  error authorize_connect(const trust::principal& who, const session::connect_request& request);

  // TestConnection's checks: the name, `connect` on it, the spec normalised and its
  // secret destinations (as Connect creating a session). Returns the normalised spec.
  // Errors: invalid_argument, permission_denied.
  result<session::session_spec> authorize_test(const trust::principal& who, const pb::TestConnectionRequest& request);

  session::session_registry& registry_;
  access_gate& gate_;
  stream_budget& streams_;
  std::chrono::milliseconds max_connect_wait_;
  class session_journal* journal_ = nullptr;
  auth::authorization_flows flows_;
  std::atomic<int> tests_running_{0};  // TestConnection calls in progress
  // Puts each Status call's request and reply in an arena; outlives the server (gRPC
  // calls it for every Status).
  std::unique_ptr<grpc::MessageAllocator<pb::StatusRequest, pb::StatusResponse>> status_allocator_;
};

}  // namespace mailbroker::daemon
