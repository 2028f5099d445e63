#pragma once
// The one place where proto messages and core types meet.
#include <grpcpp/grpcpp.h>

#include "common/error.hpp"
#include "mailbroker/v1/session_broker.pb.h"
#include "session/session_registry.hpp"

namespace mailbroker::daemon {

namespace pb = ::mailbroker::v1;

grpc::Status to_grpc_status(const error& e);

// A unary callback handler's answer when it can answer at once: finishes the call's
// default reactor with `e` (OK for error::none()) and returns it.
grpc::ServerUnaryReactor* finish_unary(grpc::CallbackServerContext* context, const error& e);
// The same for a reactor already taken from the context.
inline grpc::ServerUnaryReactor* finish_unary_on(grpc::ServerUnaryReactor* reactor, const error& e) {
  reactor->Finish(to_grpc_status(e));
  return reactor;
}

// A server-streaming call refused before it starts (identity, permission, stream budget):
// finishes with `e` at once and deletes itself when gRPC is done with it.
template <class Message>
class failed_write_reactor final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit failed_write_reactor(const error& e) { this->Finish(to_grpc_status(e)); }
  void OnDone() override { delete this; }
};

// Request → core. Unknown enum values become invalid_argument naming the field.
result<session::connect_request> from_proto(const pb::ConnectRequest& request);
// The auth part of a spec (also used by BeginAuthorization). Errors: invalid_argument;
// AuthSpec.oauth2_implicit always, with implicit_grant_refusal.
error from_proto(const pb::AuthSpec& auth, session::session_spec& out);
// Why the implicit grant is refused and which grant to use instead.
extern const std::string_view implicit_grant_refusal;
secrets::secret_ref from_proto(const pb::SecretRef& ref);

// How much of a status to convert (StatusRequest.view). Brief skips the server's
// greeting and capability list: they are never read, not converted then cleared.
enum class status_detail { full, brief };
// StatusRequest.view → status_detail: UNSPECIFIED and FULL are full. Errors:
// invalid_argument naming `view` and the valid values, for any other number.
result<status_detail> status_detail_from_proto(int view);

void to_proto(const session::status_snapshot& s, pb::SessionStatus* out,
              status_detail detail = status_detail::full);
void to_proto(const session::status_event& e, pb::SessionEvent* out);
void to_proto(session::system_time t, google::protobuf::Timestamp* out);

}  // namespace mailbroker::daemon
