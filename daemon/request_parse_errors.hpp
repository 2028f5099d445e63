#pragma once
// Requests whose bytes do not parse. gRPC 1.51's callback server answers them with
// UNIMPLEMENTED and an empty message (server_callback_handlers.h drops the
// deserialization status), and protobuf 3.21 — which refuses invalid UTF-8 in proto3
// `string` fields — says why only in a log line of its own format. Here:
//   - install_protobuf_log_handler() sends protobuf's log lines to spdlog (the daemon's
//     format), and notes on the parsing thread which field held invalid UTF-8;
//   - the interceptor turns such a call's UNIMPLEMENTED into INVALID_ARGUMENT naming the
//     method and, when protobuf named it, the field, e.g. "request to
//     /mailbroker.v1.SessionBroker/Connect could not be parsed: string field
//     'mailbroker.v1.ConnectRequest.session' is not valid UTF-8 ...".
// Why an interceptor: the deserialization runs just before POST_RECV_MESSAGE on the same
// thread (the message is then nullptr), and PRE_SEND_STATUS may rewrite the status; no
// handler code runs for such a call.
#include <memory>

#include <grpcpp/support/server_interceptor.h>

namespace mailbroker::daemon {

// Process-wide (google::protobuf::SetLogHandler); call before the server starts. Safe
// to call more than once.
void install_protobuf_log_handler();

// For grpc::ServerBuilder::experimental().SetInterceptorCreators(); must come first
// in that list (it reads what the parsing thread noted).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> make_request_parse_interceptor_factory();

}  // namespace mailbroker::daemon
